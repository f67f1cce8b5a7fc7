"""`bench eval`: detectors against the three difficulties, on a benchmark built by `bench build`.

Experiments (detectors are trained with the one Trainer on folders of hard links into the benchmark; the
train split only; every figure is measured on the test split = the held-out slice of each video):

* in-domain: train on all methods at `train_compression` (c23, the usual protocol); frame-level AUC, AP,
  EER, accuracy@0.5, log-loss; video-level AUC with mean / max / confident-strategy aggregation (a video
  = one clip of one method);
* low quality: the same model on every compression level (c0/c23/c40, JPEG qualities): AUC vs CRF and
  vs JPEG quality;
* many methods: leave-one-method-out (train on all but m, test real vs m) and train-on-X/test-on-Y;
* evolution: the leave-one-out model of `new_method` learns it by fine-tuning, naively (real + new only)
  or with a replay buffer of the old methods; AUC on the new method and forgetting on the old ones;
* GAN-image track: real MNIST against samples of two GANs trained here, cross-generator AP;
* explanations: Grad-CAM of the CNN detector and spectra for the frequency detector, top-scoring images.

Outputs in the output folder: report.json, report.html (tables + plots), *.png, runs/ (every training run,
reused when the command is run again, so an interrupted evaluation resumes).

Example:
    >>> from deepfake_lab.pipelines.bench.evaluate import EvalOptions, evaluate_bench
    >>> report = evaluate_bench("bench", "bench-eval", EvalOptions(steps=300))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from deepfake_lab import __version__
from deepfake_lab.errors import BadInputError, OptionError, Ref
from deepfake_lab.fsutil import atomic_write_text
from deepfake_lab.pipelines.bench.experiments import evaluate_detector, gan_track
from deepfake_lab.pipelines.bench.manifest import compression_names, read_manifest
from deepfake_lab.pipelines.bench.report import render_report, summary, write_plots
from deepfake_lab.pipelines.bench.runner import Runner, TestSets, is_cnn

__all__ = ["EvalOptions", "evaluate_bench"]


@dataclass
class EvalOptions:
    """What to evaluate and how hard to train.

    Args:
        detectors: detector presets or model names; the method matrices and evolution run for the first CNN
            detector and for every closed-form (frequency) one; the others get in-domain, quality and Grad-CAM.
        image_size: detector input side (crops are resized).
        steps: training steps of each CNN detector run.
        batch_size: batch size.
        lr: learning rate.
        train_compression: compression level of the training images ("c23", the usual protocol).
        matrices: run the leave-one-out and train-on-X/test-on-Y matrices (also for frequency detectors).
        evolution: run the evolution experiment.
        new_method: the method added later (None: the one with the lowest leave-one-out AUC).
        finetune_steps: steps of each fine-tuning run.
        replay: replay-buffer images per old method.
        gan_track: run the MNIST GAN-image track.
        gan_steps: training steps of each GAN of the track.
        explain: save Grad-CAM / spectrum figures.
        top: images per explanation figure.
        seed: seed of everything random.
        threads: torch threads.
    """

    detectors: tuple[str, ...] = ("meso4-bench", "spectrum-lr-bench")
    image_size: int = 64
    steps: int = 400
    batch_size: int = 32
    lr: float = 1e-3
    train_compression: str = "c23"
    matrices: bool = True
    evolution: bool = True
    new_method: str | None = None
    finetune_steps: int = 300
    replay: int = 48
    gan_track: bool = True
    gan_steps: int = 800
    explain: bool = True
    top: int = 8
    seed: int = 0
    threads: int = 1

    def validate(self) -> None:
        """Raise BadInputError on an unknown detector or an out-of-range number."""
        from deepfake_lab.config import preset_names
        from deepfake_lab.models.catalogue import list_models

        if not self.detectors:
            raise BadInputError("name at least one detector")
        for d in self.detectors:
            if d not in preset_names() and d not in list_models("detector"):
                raise BadInputError(f"unknown detector {d!r}; see `deepfake-lab models` (family detector)")
        if not 16 <= self.image_size <= 512:
            raise OptionError(Ref("image_size"), f" must be in 16..512, got {self.image_size}")
        for k in ("steps", "batch_size", "finetune_steps", "gan_steps", "top"):
            if getattr(self, k) < 1:
                raise BadInputError(f"{k} must be >= 1, got {getattr(self, k)}")
        if self.replay < 0:
            raise BadInputError(f"replay must be >= 0, got {self.replay}")


# ---------------------------------------------------------------- the evaluation
def evaluate_bench(
    bench: Path | str,
    output: Path | str,
    options: EvalOptions | None = None,
    *,
    progress: bool = True,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run the benchmark evaluation; writes report.json, report.html and plots into `output`.

    Raises:
        BadInputError: not a benchmark folder, bad options, a split without both classes.
    """
    opt = options or EvalOptions()
    opt.validate()
    bench, out = Path(bench), Path(output)
    rows = read_manifest(bench)
    if out.exists() and not out.is_dir():
        raise BadInputError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "runs").is_dir():
        raise BadInputError(f"{out} is not empty and not a bench-eval folder; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    console = console or Console(stderr=True)
    comps = compression_names(rows)
    if opt.train_compression not in comps:
        raise BadInputError(f"the benchmark has no {opt.train_compression} images (it has {', '.join(comps)})")
    methods = list(dict.fromkeys(r.method for r in rows if r.label == 1))
    if not methods:
        raise BadInputError("the benchmark has no fakes")
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, opt.threads))
    t0 = time.perf_counter()
    runner = Runner(bench, out, rows, opt, console, progress)
    tests = TestSets(bench, rows, opt.image_size)
    report: dict[str, Any] = {
        "kind": "deepfake-lab/bench-eval",
        "tool": f"deepfake-lab {__version__}",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "bench": str(bench),
        "options": asdict(opt),
        "methods": methods,
        "compressions": comps,
        "load_average_start": list(os.getloadavg()),
        "detectors": {},
    }
    figures: dict[str, str] = {}
    first_cnn = next((d for d in opt.detectors if is_cnn(d)), None)  # the matrices are for it and cheap LR ones
    try:
        for det in opt.detectors:
            matrices = opt.matrices and (not is_cnn(det) or det == first_cnn)
            report["detectors"][det] = evaluate_detector(
                det, runner, tests, methods, comps, opt, out, figures, matrices=matrices
            )
        if opt.gan_track:
            report["gan_track"] = gan_track(out, opt, runner)
    finally:
        torch.set_num_threads(prev_threads)
        for tmp in (out / "data", out / "gan-track" / "data"):  # hard-link folders of finished runs
            shutil.rmtree(tmp, ignore_errors=True)
    report["timings"] = runner.timings
    report["seconds"] = round(time.perf_counter() - t0, 1)
    report["load_average_end"] = list(os.getloadavg())
    report["figures"] = figures
    report["summary"] = summary(report)
    atomic_write_text(out / "report.json", json.dumps(report, indent=1, default=_json_default) + "\n")
    write_plots(report, out, figures)
    (out / "report.html").write_text(render_report(report, figures))
    atomic_write_text(out / "report.json", json.dumps(report, indent=1, default=_json_default) + "\n")
    return report


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)
