"""Leave-one-method-out on the identity-disjoint face benchmark (issue 18, item 4).

Usage:
    python benchmarks/face_lomo.py --faces runs/faces --train runs/faces-train --out runs/lomo [--steps N]

Trains the default detector's recipe (`configs/detectors/detector-default.yaml`, ImageNet-initialised) four
times with the same budget (its 500 steps unless --steps): once on all methods (the reference) and once without
each of graphics-swap, self-blend and xray-blend (`pipelines.bench.face_lomo`); calibrates each on the calib
people and scores the test people (`face_protocol.protocol_report`); the table gives each method's test AUC when
it was left out ("unseen") beside the reference's ("seen"), per compression level. Runs resume from their
checkpoints (Ctrl-C safe); finished ones are reused. Appends the table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from _common import append_results

from deepfake_lab.pipelines.bench.face_lomo import (
    FACE_METHODS,
    link_training_folder,
    lomo_table,
    lomo_task_kwargs,
    write_blend_files,
)
from deepfake_lab.pipelines.bench.face_protocol import protocol_report
from deepfake_lab.train.checkpoint import load_exported
from deepfake_lab.train.run import build_run_config
from deepfake_lab.train.trainer import Trainer


def _train(name: str, left_out: str | None, args: argparse.Namespace) -> tuple[Path, float]:
    """Train (or resume, or reuse) the variant without `left_out`; its export and training seconds."""
    run = args.out / name
    export = run / "export" / "model.safetensors"
    if export.exists():
        info = run / "lomo.json"
        return export, float(json.loads(info.read_text())["seconds"]) if info.exists() else 0.0
    data = args.out / f"data-{name}"
    over = [f"data.name={data}", f"train.threads={args.threads}", "train.log_every=50", "train.checkpoint_every=100"]
    cfg = build_run_config("detector-default", overrides=over + ([f"train.steps={args.steps}"] if args.steps else []))
    kw = cfg.task_kwargs
    if not (run / "checkpoints" / "last.pt").exists():
        counts = link_training_folder(args.train, data, left_out)
        if left_out == "graphics-swap":  # as many file fakes as the reference, made by the blends kept
            n = len(list((Path(args.train) / "fake" / "graphics-swap").iterdir()))
            share = kw["self_blend_p"] / (kw["self_blend_p"] + kw["xray_p"])
            blends = data / "fake" / "blend-files"
            made = write_blend_files(data / "real", blends, n, self_blend_share=share, margin=kw["pseudo_margin"])
            counts["fake/blend-files"] = made
        print(f"{name}: training folder {data}: {counts}", flush=True)
    cfg.task_kwargs = lomo_task_kwargs(kw, left_out)
    t0 = time.perf_counter()
    trainer = Trainer(cfg, run, progress=not args.no_progress, tensorboard=False,
                      command=f"benchmarks/face_lomo.py variant {name}")  # fmt: skip
    res = trainer.fit(resume=trainer.checkpoint_path.exists())
    seconds = time.perf_counter() - t0
    (run / "lomo.json").write_text(json.dumps({"left_out": left_out, "seconds": seconds, "steps": res.step}) + "\n")
    assert res.export is not None
    return res.export, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=Path, default=Path("runs/faces"), help="face benchmark (`bench faces`)")
    ap.add_argument("--train", type=Path, default=Path("runs/faces-train"), help="training folder: real/, fake/*/")
    ap.add_argument("--out", type=Path, default=Path("runs/lomo"))
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's, 500)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--methods", default=",".join(FACE_METHODS), help="methods to leave out, comma-separated")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--no-append", action="store_true")
    args = ap.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    steps = args.steps or build_run_config("detector-default").train.steps
    reports, seconds = {}, {}
    for name, left_out in [("all", None), *((f"without-{m}", m) for m in methods)]:
        export, seconds[name] = _train(name, left_out, args)
        model, card = load_exported(export)
        torch.set_num_threads(args.threads)
        reports[name] = protocol_report(model.float().eval(), int(card["model_kwargs"]["image_size"]), args.faces)
        t = reports[name]["test"]
        print(name, {c: round(t[c]["auc"], 3) for c in ("c0", "c23", "c40") if c in t}, flush=True)
    table = lomo_table({m: reports[f"without-{m}"] for m in methods}, reports["all"])
    (args.out / "lomo-report.json").write_text(json.dumps({"table": table, "reports": reports}, indent=1) + "\n")
    lv = table["levels"]

    def levels(d: dict[str, float]) -> str:
        return "/".join(f"{d[c]:.3f}" for c in lv)

    lines = [
        f"| left out | test AUC unseen {'/'.join(lv)} | same method, reference (trained on it) | "
        "left-out model: all-method test AUC | calib AUC |",
        "|---|---|---|---|---|",
    ]
    for m in methods:
        r = reports[f"without-{m}"]
        aucs = {c: r["test"][c]["auc"] for c in lv}
        lines.append(
            f"| {m} | {levels(table['unseen'][m])} | {levels(table['seen'][m])} | {levels(aucs)} | "
            f"{levels(r['calib_auc'])} |"
        )
    ref = reports["all"]
    lines += [
        f"| **mean** | **{levels(table['mean_unseen'])}** | {levels(table['mean_seen'])} | reference: "
        f"{levels({c: ref['test'][c]['auc'] for c in lv})} | {levels(ref['calib_auc'])} |",
        "",
        f"- each variant: the detector-default recipe from ImageNet weights, {steps} steps, batch 32, "
        f"{args.threads} threads; training folder {args.train} (graphics swaps as files, blends made on the fly); "
        "a left-out blend's probability goes to the other blend; without graphics-swap, its files are replaced by as "
        "many pre-made blends of the train reals (same self-blend : X-ray share)",
        f"- training seconds: {', '.join(f'{k} {v:.0f}' for k, v in seconds.items())}",
        f"- face benchmark {args.faces}: thresholds/calib AUC on the calib people, AUC on the test people (never "
        "trained on); 'unseen' = AUC of the left-out method's test fakes vs the test reals",
    ]
    print("\n".join(lines))
    if not args.no_append:
        append_results("Face benchmark: leave-one-method-out (unseen people, unseen method)", lines)


if __name__ == "__main__":
    main()
