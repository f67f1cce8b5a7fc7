"""Training it/s of DCGAN-32 and DCGAN-64: our Trainer vs a plain eager fp32 reference loop.

Usage: python benchmarks/gan_speed.py [--steps32 100] [--steps64 20] [--rounds 3] [--data fashion-mnist]

- ours: `Trainer` with the dcgan preset settings: bf16 autocast + channels_last, uint8 images in memory
  (batches are an index + one float conversion);
- reference: the same networks (same factories, same init), fp32 eager, and the usual image-folder
  pipeline: one PNG file per item, decoded and resized with PIL in `__getitem__`, a DataLoader with
  batch 64 (num_workers=0: on 2 vCPUs workers only compete with the model for the cores).

Both do a D step then a G step per iteration with Adam(2e-4, betas 0.5/0.999) and the non-saturating loss.
The figures and the ratio are printed and appended to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from _common import append_results
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from deepfake_lab.config import DataConfig, OptimConfig, RunConfig, TrainConfig
from deepfake_lab.data.datasets import load_dataset
from deepfake_lab.losses import discriminator_loss, generator_loss
from deepfake_lab.models.catalogue import create_model
from deepfake_lab.train.trainer import Trainer

BATCH = 64


class PNGFolder(Dataset):
    """One PNG per item, decoded + resized per item (the torchvision ImageFolder way)."""

    def __init__(self, files: list[Path], size: int) -> None:
        self.files, self.size = files, size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        with Image.open(self.files[i]) as im:
            im = im.convert("L").resize((self.size, self.size), Image.BILINEAR)
            x = torch.from_numpy(np.asarray(im, dtype=np.float32) / 127.5 - 1.0)
        return x[None]


def write_pngs(data: str, n: int, folder: Path) -> list[Path]:
    ds = load_dataset(data, "train", limit=n)
    files = []
    for i, img in enumerate(ds.images[:, 0].numpy()):
        path = folder / f"{i:05d}.png"
        Image.fromarray(img).save(path)
        files.append(path)
    return files


def reference_trainer(model: str, size: int, files: list[Path]) -> tuple[torch.nn.Module, Callable[[], None]]:
    """The plain reference: eager fp32, a DataLoader decoding one PNG per item; returns (gan, one D+G step)."""
    torch.manual_seed(0)
    gan = create_model(model, in_shape=(1, size, size))
    opt_d = torch.optim.Adam(gan.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(gan.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = DataLoader(PNGFolder(files, size), batch_size=BATCH, shuffle=True, drop_last=True, num_workers=0)
    it = iter(loader)

    def step() -> None:
        nonlocal it
        try:
            x = next(it)
        except StopIteration:
            it = iter(loader)
            x = next(it)
        fake = gan.generate(torch.randn(BATCH, gan.latent_dim))
        loss_d = discriminator_loss(gan.discriminate(x), gan.discriminate(fake.detach()))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = generator_loss(gan.discriminate(fake), "non-saturating")
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    return gan, step


def ours_trainer(model: str, size: int, data: str, run_dir: Path) -> Trainer:
    """Our `Trainer` with the dcgan preset's settings, ready for `train_step()` calls."""
    cfg = RunConfig(
        model=model,
        data=DataConfig(name=data, image_size=size),
        optim=OptimConfig(lr=2e-4, betas=[0.5, 0.999]),
        train=TrainConfig(
            steps=10**9, batch_size=BATCH, precision="bf16", log_every=10**9, sample_every=10**9, checkpoint_every=10**9
        ),
    )
    trainer = Trainer(cfg, run_dir, progress=False, tensorboard=False)
    trainer.prepare()
    return trainer


def its(step: Callable[[], object], steps: int) -> float:
    """Calls of `step` per second of wall time over `steps` calls."""
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--steps32", type=int, default=100)
    ap.add_argument("--steps64", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--images", type=int, default=4096, help="PNG files written for the reference loader")
    args = ap.parse_args()
    torch.set_num_threads(2)
    rows = [
        "| model | Trainer bf16+channels_last, uint8 in memory (it/s) | eager fp32 + PNG decode per item (it/s) "
        "| ratio |",
        "|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "png").mkdir()
        files = write_pngs(args.data, args.images, tmp / "png")
        for model, size, steps in (("dcgan-32", 32, args.steps32), ("dcgan-64", 64, args.steps64)):
            ours = ours_trainer(model, size, args.data, tmp / model).train_step
            _, ref = reference_trainer(model, size, files)
            for step in (ours, ref):  # warm-up: oneDNN primitive creation, allocator, first batches
                its(step, args.warmup)
            runs: dict[str, list[float]] = {"ours": [], "ref": []}
            for _ in range(args.rounds):  # alternate, so that drifting load hits both alike
                runs["ours"].append(its(ours, steps))
                runs["ref"].append(its(ref, steps))
            o, r = statistics.median(runs["ours"]), statistics.median(runs["ref"])
            rows.append(f"| {model} ({size} px, batch {BATCH}) | {o:.2f} | {r:.2f} | {o / r:.2f}× |")
            print(rows[-1], flush=True)
    rows.append("")
    rows.append(
        f"Data: {args.data} resized to the model's size; D step + G step per iteration; both skip "
        f"{args.warmup} warm-up steps, then {args.rounds} alternating rounds each; medians of the rounds."
    )
    append_results("GANs: DCGAN training speed, Trainer vs eager reference (issue 5)", rows)


if __name__ == "__main__":
    main()
