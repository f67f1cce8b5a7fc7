"""The lecture's claim in a training run: the saturating minimax G loss vs the non-saturating one.

Usage: python benchmarks/gan_minimax_vs_ns.py [--data mnist] [--steps 1500] [--out benchmarks/figures]

Trains the vanilla MLP GAN (`gan-mlp`) twice through the Trainer, same seed, data and optimizers
(Adam 2e-4, betas 0.5/0.999); only `task_kwargs.g_loss` differs. Writes
`<out>/gan_minimax_vs_ns_samples.png` (final samples, minimax left, non-saturating right),
`<out>/gan_minimax_vs_ns_curves.png` (D(G(z)) during the G step, and both losses, per logged step) and the
generator gradient norm ratio measured on each final D, then appends the figures to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import matplotlib
import torch
from _common import append_results

from deepfake_lab.config import DataConfig, OptimConfig, RunConfig, TrainConfig
from deepfake_lab.imaging import make_grid, save_image
from deepfake_lab.losses import generator_loss
from deepfake_lab.train.tasks.gan import to_unit
from deepfake_lab.train.trainer import Trainer

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def g_grad_norm(gan: torch.nn.Module, kind: str, n: int = 256) -> float:
    z = torch.randn(n, gan.latent_dim, generator=torch.Generator().manual_seed(7))
    gan.zero_grad(set_to_none=True)
    generator_loss(gan.discriminate(gan.generate(z)), kind).backward()
    return float(torch.sqrt(sum((p.grad**2).sum() for p in gan.generator.parameters())))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="mnist")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "figures")
    args = ap.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    curves, grids, rows = {}, [], []
    with tempfile.TemporaryDirectory() as d:
        for kind in ("minimax", "non-saturating"):
            cfg = RunConfig(
                model="gan-mlp",
                task_kwargs={"g_loss": kind},
                data=DataConfig(name=args.data),
                optim=OptimConfig(lr=2e-4, betas=[0.5, 0.999]),
                train=TrainConfig(
                    steps=args.steps, batch_size=64, log_every=25, sample_every=10**6, checkpoint_every=10**6
                ),
            )
            t0 = time.perf_counter()
            trainer = Trainer(cfg, Path(d) / kind, progress=False, tensorboard=False)
            result = trainer.fit()
            minutes = (time.perf_counter() - t0) / 60
            recs = [json.loads(x) for x in (Path(d) / kind / "metrics.jsonl").read_text().splitlines()]
            curves[kind] = [r for r in recs if "g/d_g_z" in r]
            gan = trainer.model.eval()
            with torch.no_grad():
                z = torch.randn(64, gan.latent_dim, generator=torch.Generator().manual_seed(0))
                grids.append(make_grid(to_unit(gan.generate(z)), nrow=8))
            gan.train()
            mm, ns = g_grad_norm(gan, "minimax"), g_grad_norm(gan, "non-saturating")
            last = curves[kind][-1]
            rows.append(
                f"| {kind} | {last['g/d_g_z']:.3f} | {last['d/loss']:.3f} | {mm:.3g} | {ns:.3g} | {ns / mm:.1f}× "
                f"| {result.steps_per_second:.1f} | {minutes:.1f} |"
            )
            print(rows[-1], flush=True)
    gap = torch.ones(grids[0].shape[0], grids[0].shape[1], 16)
    side = torch.cat([grids[0], gap, grids[1]], dim=2)
    sample_path = save_image(side, args.out / "gan_minimax_vs_ns_samples.png")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    for kind, recs in curves.items():
        steps = [r["step"] for r in recs]
        axes[0].plot(steps, [r["g/d_g_z"] for r in recs], label=kind)
        axes[1].plot(steps, [r["d/loss"] for r in recs], label=kind)
        axes[2].plot(steps, [r["g/loss"] for r in recs], label=kind)
    for ax, title in zip(axes, ("D(G(z)) in the G step", "D loss", "G loss (own objective)"), strict=True):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.legend()
    axes[0].set_yscale("log")
    fig.tight_layout()
    curve_path = args.out / "gan_minimax_vs_ns_curves.png"
    fig.savefig(curve_path, dpi=80)
    header = [
        "| G loss | final D(G(z)) | final D loss | ‖∇G‖ minimax | ‖∇G‖ non-sat. | ratio | it/s | minutes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = [
        "",
        f"gan-mlp on {args.data}, {args.steps} steps, batch 64, same seed. ‖∇G‖: generator gradient norm of each",
        "objective on 256 latents against that run's final D. Samples (minimax left, non-saturating right):",
        f"`{sample_path.relative_to(Path(__file__).resolve().parent.parent)}`, curves: "
        f"`{curve_path.relative_to(Path(__file__).resolve().parent.parent)}`.",
    ]
    append_results(f"GANs: minimax vs non-saturating generator loss on {args.data} (issue 5)", header + rows + notes)


if __name__ == "__main__":
    main()
