"""Image grids and PNG writing for previews, strips and reports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image
from torch import Tensor

if TYPE_CHECKING:
    from deepfake_lab.provenance.label import Provenance


def make_grid(images: Tensor, nrow: int = 8, pad: int = 2, min_size: int = 32) -> Tensor:
    """Tile images into one picture.

    Args:
        images: float [N, C, H, W] in [0, 1] (C = 1 or 3).
        nrow: images per row.
        pad: white gap in pixels.
        min_size: small images (e.g. 8×8 digits) are enlarged by an integer factor (nearest) to at least this.

    Returns:
        float [C, H', W'] in [0, 1].
    """
    images = images.detach().float().cpu().clamp(0, 1)
    n, c, h, w = images.shape
    scale = max(1, -(-min_size // max(h, w)))
    if scale > 1:
        images = images.repeat_interleave(scale, 2).repeat_interleave(scale, 3)
        h, w = h * scale, w * scale
    ncol = min(nrow, n)
    rows = -(-n // ncol)
    grid = torch.ones(c, rows * (h + pad) + pad, ncol * (w + pad) + pad)
    for i in range(n):
        r, col = divmod(i, ncol)
        grid[:, pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = (
            images[i]
        )
    return grid


def to_uint8_hwc(image: Tensor) -> np.ndarray:
    """float [C, H, W] in [0, 1] -> uint8 [H, W, C] (C = 1 squeezed to [H, W])."""
    arr = (image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return arr[..., 0] if arr.shape[2] == 1 else arr


def save_image(image: Tensor, path: Path) -> Path:
    """Save float [C, H, W] (or a batch [N, C, H, W], tiled) in [0, 1] as PNG."""
    if image.dim() == 4:
        image = make_grid(image)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(to_uint8_hwc(image)).save(path)
    return path


def save_generated_image(image: Tensor, path: Path, provenance: Provenance | None) -> Path:
    """`save_image` for what a generating command writes: with a `Provenance`, the PNG carries the invisible
    watermark and a signed C2PA manifest (`deepfake_lab.provenance`); None = a plain PNG (training previews).

    Args:
        image: float [C, H, W] (or a batch [N, C, H, W], tiled) in [0, 1].
        path: output file.
        provenance: how to label it (`Provenance(..., enabled=False)` for --no-provenance).
    """
    if image.dim() == 4:
        image = make_grid(image)
    if provenance is None:
        return save_image(image, path)
    return provenance.save_image(to_uint8_hwc(image), Path(path))


def stack_grids(grids: list[Tensor], pad: int = 4) -> Tensor:
    """Stack grids [C, H_i, W_i] vertically (white background, left-aligned): [C, ΣH, max W]."""
    c = max(g.shape[0] for g in grids)
    grids = [g.expand(c, -1, -1) for g in grids]
    width = max(g.shape[2] for g in grids)
    out = torch.ones(c, sum(g.shape[1] for g in grids) + pad * (len(grids) - 1), width)
    y = 0
    for g in grids:
        out[:, y : y + g.shape[1], : g.shape[2]] = g
        y += g.shape[1] + pad
    return out
