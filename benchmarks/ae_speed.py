"""Seconds per 1000 training steps (loop only) of every autoencoder, fp32 vs bf16 autocast (+channels_last for conv).

Usage: python benchmarks/ae_speed.py [--data mnist] [--steps 300]
Runs each model through the real Trainer (batch 64) and appends a table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from _common import append_results

from deepfake_lab.config import DataConfig, OptimConfig, RunConfig, TrainConfig
from deepfake_lab.models.catalogue import list_models
from deepfake_lab.train.trainer import Trainer


def time_model(model: str, data: str, steps: int, precision: str, tmp: Path) -> float:
    cfg = RunConfig(
        model=model,
        data=DataConfig(name=data),
        optim=OptimConfig(lr=1e-3),
        train=TrainConfig(
            steps=steps, batch_size=64, precision=precision, sample_every=10**6, checkpoint_every=10**6, log_every=10**6
        ),
    )
    if model == "ae-stacked":
        cfg.task_kwargs = {"pretrain_steps": steps // 3}
    trainer = Trainer(cfg, tmp / f"{model}-{precision}", progress=False, tensorboard=False)
    result = trainer.fit()  # steps_per_second times the training loop only (not data loading or export)
    return 1000.0 / result.steps_per_second if result.steps_per_second else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="mnist")
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args()
    torch.set_num_threads(2)
    rows = ["| model | fp32 s/1000 steps | bf16 s/1000 steps | bf16 speed-up |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as d:
        for model in list_models("autoencoder"):
            if model == "pca":
                t0 = time.perf_counter()
                time_model(model, args.data, 0, "fp32", Path(d))
                rows.append(f"| pca | fit {time.perf_counter() - t0:.1f} s (scikit-learn, no steps) | – | – |")
                print(rows[-1], flush=True)
                continue
            fp32 = time_model(model, args.data, args.steps, "fp32", Path(d))
            bf16 = time_model(model, args.data, args.steps, "bf16", Path(d))
            rows.append(f"| {model} | {fp32:.1f} | {bf16:.1f} | {fp32 / bf16:.2f}× |")
            print(rows[-1], flush=True)
    append_results(f"Autoencoders: training time on {args.data}, batch 64 (issue 2)", rows)


if __name__ == "__main__":
    main()
