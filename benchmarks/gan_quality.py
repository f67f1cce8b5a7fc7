"""FID of DCGAN-32 on Fashion-MNIST after a fixed CPU-time budget: our Trainer vs the eager reference loop.

Usage: python benchmarks/gan_quality.py [--minutes 10] [--n 1000] [--threads 2]

- ours: `Trainer` steps (dcgan-32 preset: bf16 autocast + channels_last, uint8 images in memory) until the
  budget is spent; the budget is CPU time of this process (`time.process_time`, all threads), so a busy
  machine slows the clock of both contenders alike instead of shortening their training;
- reference: the plain eager fp32 loop of `gan_speed.py` (same networks and init, PNG decoded per item through
  a DataLoader) for the same budget.
Then `--n` samples of each generator (latent seeds 0..n-1) against `--n` real test images through the
InceptionV3 of `deepfake_lab.metrics.fid_kid` (FID and KID). Figures go to RESULTS.md with the load average.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from _common import FIGURES, append_results
from gan_speed import ours_trainer, reference_trainer, write_pngs

from deepfake_lab.data.datasets import load_dataset
from deepfake_lab.imaging import make_grid, save_image
from deepfake_lab.metrics.fid_kid import InceptionFeatures, fid_from_features, kid_from_features, quantize
from deepfake_lab.pipelines.generate import sample_images


def run_for(step: Callable[[], object], seconds: float) -> int:
    """Call `step` until this process has used `seconds` of CPU time; returns the number of calls."""
    calls, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds:
        step()
        calls += 1
    return calls


def train_ours(seconds: float, data: str, tmp: Path) -> tuple[torch.nn.Module, int]:
    trainer = ours_trainer("dcgan-32", 32, data, tmp / "ours")
    steps = run_for(trainer.train_step, seconds)
    return trainer.model.to(memory_format=torch.contiguous_format).eval(), steps


def train_reference(seconds: float, files: list[Path]) -> tuple[torch.nn.Module, int]:
    gan, step = reference_trainer("dcgan-32", 32, files)
    return gan.eval(), run_for(step, seconds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0, help="CPU-minute budget of each contender")
    ap.add_argument("--n", type=int, default=1000, help="generated and real images for FID/KID")
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--images", type=int, default=8192, help="PNG files for the reference loader")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-append", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seconds = args.minutes * 60
    real = load_dataset(args.data, "test", image_size=32)
    real = real.images[torch.randperm(len(real), generator=torch.Generator().manual_seed(0))[: args.n]]
    extractor = InceptionFeatures(batch_size=50)
    f_real = extractor(real)
    rows = ["| contender | steps in budget | FID | KID |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "png").mkdir()
        files = write_pngs(args.data, args.images, tmp / "png")
        for key, name, fn in (
            ("ours", "Trainer bf16+cl, uint8 in memory", lambda: train_ours(seconds, args.data, tmp)),
            ("reference", "eager fp32 + PNG per item", lambda: train_reference(seconds, files)),
        ):
            model, steps = fn()
            with torch.no_grad():
                fake = quantize(sample_images(model, args.n, seed=0))
            if not args.no_append:
                save_image(make_grid(fake[:64].float() / 255), FIGURES / f"gan_quality_{key}.png")
            f_fake = extractor(fake)
            kid, _ = kid_from_features(f_fake, f_real, seed=0)
            rows.append(f"| {name} | {steps} | {fid_from_features(f_fake, f_real):.1f} | {kid:.4f} |")
            print(rows[-1], flush=True)
    rows += [
        "",
        "Samples (seeds 0-63): `benchmarks/figures/gan_quality_ours.png`, `gan_quality_reference.png`.",
        f"DCGAN-32 on {args.data}, {args.minutes:g} CPU-minutes each, {args.threads} threads, FID/KID on "
        f"{args.n} samples vs {args.n} test images (small n biases FID upward; compare rows, not papers).",
    ]
    if not args.no_append:
        append_results(f"GANs: DCGAN-32 quality after {args.minutes:g} CPU-minutes, Trainer vs eager reference", rows)


if __name__ == "__main__":
    main()
