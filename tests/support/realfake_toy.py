"""A toy real-vs-fake corpus whose fakes carry a generator's up-sampling trace.

Real: sklearn digits (8×8) upscaled bilinearly to `size` (smooth, like a camera image downsampled).
Fake: the same kind of content generated at half resolution and upscaled 2× by nearest neighbour (the
periodic artefact of nearest/transposed-conv up-sampling, Durall 2020). Both get a random colour tint and
mild sensor noise, so only the up-sampling differs systematically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.datasets import load_digits


def make_toy(n: int, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 [2n, 3, size, size], labels int64 [2n]: n reals (0) then n fakes (1))."""
    rng = np.random.default_rng(seed)
    digits = torch.from_numpy(load_digits().images).float() / 16.0  # [1797, 8, 8]

    def content(k: int, side: int) -> torch.Tensor:
        idx = rng.integers(0, len(digits), k)
        x = digits[idx].unsqueeze(1)
        x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
        tint = torch.from_numpy(rng.uniform(0.4, 1.0, (k, 3, 1, 1))).float()
        base = torch.from_numpy(rng.uniform(0.0, 0.3, (k, 3, 1, 1))).float()
        return (base + x * tint).clamp(0, 1)

    real = content(n, size)
    fake = F.interpolate(content(n, size // 2), scale_factor=2, mode="nearest")
    x = torch.cat([real, fake])
    x = x + torch.from_numpy(rng.normal(0, 0.02, x.shape)).float()
    imgs = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    return imgs, torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])


def write_toy_folder(root: Path, n: int, size: int = 32, seed: int = 0, methods: tuple[str, ...] = ("up2",)) -> Path:
    """Write `root/real/*.png` and `root/fake/<method>/*.png` (fakes spread over `methods`)."""
    imgs, labels = make_toy(n, size, seed)
    for i, (img, y) in enumerate(zip(imgs, labels, strict=True)):
        folder = root / "real" if y == 0 else root / "fake" / methods[i % len(methods)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(folder / f"{i:05d}.png")
    return root
