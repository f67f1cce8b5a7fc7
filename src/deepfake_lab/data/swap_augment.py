"""Face-swap training augmentation as in faceswap / DeepFaceLab practice, batched in torch.

- random affine jitter (rotation, zoom, shift) and horizontal flips: applied to input, target and mask alike;
- colour jitter (brightness, contrast, saturation): applied to input and target alike;
- random warp: a smooth random grid warp of the *input only*; the target is the un-warped face, so the
  autoencoder must learn to produce a clean face from a distorted one instead of copying pixels.

Every random draw comes from the `torch.Generator` passed in, so a task that saves the generator's state
resumes exactly.

Example:
    >>> g = torch.Generator().manual_seed(0)
    >>> batch = torch.rand(4, 4, 64, 64)  # RGB + mask
    >>> inp, target, mask = augment_swap_batch(batch, g, SwapAugment())
    >>> inp.shape, target.shape, mask.shape
    (torch.Size([4, 3, 64, 64]), torch.Size([4, 3, 64, 64]), torch.Size([4, 1, 64, 64]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["SwapAugment", "random_affine", "random_warp", "colour_jitter", "augment_swap_batch"]


@dataclass
class SwapAugment:
    """Strengths of the swap augmentations (0 disables each).

    Args:
        rotation: max rotation in degrees (uniform in ±rotation).
        zoom: max relative scale change (uniform in 1 ± zoom).
        shift: max shift as a fraction of the side (uniform in ±shift).
        flip: probability of a horizontal flip.
        warp: random-warp strength: control-point displacement std = 0.04 · warp in [-1, 1] units
            (≈ 1.3 px at 64 px per unit of warp), on a `warp_grid`×`warp_grid` grid, smoothly interpolated.
        warp_grid: control points per side of the warp grid.
        colour: colour jitter amount: brightness ± colour/2, contrast and saturation × (1 ± colour).
    """

    rotation: float = 10.0
    zoom: float = 0.05
    shift: float = 0.05
    flip: float = 0.5
    warp: float = 1.0
    warp_grid: int = 5
    colour: float = 0.1


def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def random_affine(
    x: Tensor, g: torch.Generator, *, rotation: float = 10.0, zoom: float = 0.05, shift: float = 0.05, flip: float = 0.5
) -> Tensor:
    """Random similarity transform + flip per image, the same for all channels (image and mask together).

    Args:
        x: [B, C, H, W] float.
        g: random generator.

    Returns:
        [B, C, H, W] transformed (borders replicated).
    """
    b = x.shape[0]
    ang = _uniform(b, -rotation, rotation, g) * (math.pi / 180)
    sc = _uniform(b, 1 - zoom, 1 + zoom, g)
    tx, ty = _uniform(b, -2 * shift, 2 * shift, g), _uniform(b, -2 * shift, 2 * shift, g)
    fl = torch.where(torch.rand(b, generator=g) < flip, -1.0, 1.0)
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos * fl, -sin, tx], 1), torch.stack([sin * fl, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_warp(x: Tensor, g: torch.Generator, *, strength: float = 1.0, grid: int = 5) -> Tensor:
    """Smooth random grid warp: control points displaced by N(0, (0.04·strength)²), bicubically upsampled.

    Args:
        x: [B, C, H, W] float.
        g: random generator (draws even at strength 0, so the random stream does not depend on it).
        strength: displacement scale; 0 returns x unchanged (up to float rounding).
        grid: control points per side.

    Returns:
        [B, C, H, W] warped.
    """
    b, _, h, w = x.shape
    disp = torch.randn(b, 2, grid, grid, generator=g) * (0.04 * strength)
    if strength == 0:
        return x
    flow = F.interpolate(disp, size=(h, w), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    eye = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(b, 2, 3)
    base = F.affine_grid(eye, [b, 1, h, w], align_corners=False)
    return F.grid_sample(x, (base + flow).to(x.dtype), mode="bilinear", padding_mode="border", align_corners=False)


def colour_jitter(x: Tensor, g: torch.Generator, amount: float = 0.1) -> Tensor:
    """Per-image brightness shift, contrast and saturation scaling of RGB [B, 3, H, W] in [0, 1] (clamped)."""
    b = x.shape[0]
    if amount == 0:
        return x
    bright = _uniform(b, -amount / 2, amount / 2, g).view(b, 1, 1, 1)
    contrast = _uniform(b, 1 - amount, 1 + amount, g).view(b, 1, 1, 1)
    sat = _uniform(b, 1 - amount, 1 + amount, g).view(b, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast + mean + bright
    grey = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
    x = grey + (x - grey) * sat
    return x.clamp(0, 1)


def augment_swap_batch(batch: Tensor, g: torch.Generator, aug: SwapAugment) -> tuple[Tensor, Tensor, Tensor]:
    """Training triple from a faceset batch.

    Args:
        batch: [B, 3 + M, S, S] float in [0, 1]: RGB + face mask (+ further masks, e.g. eyes and mouth).
        g: random generator.
        aug: strengths.

    Returns:
        (input [B, 3, S, S] warped, target [B, 3, S, S] un-warped, masks [B, M, S, S]); input and target share
        the affine jitter, flip and colour jitter; the masks follow the affine jitter and flip.
    """
    x = batch.float().contiguous()
    x = random_affine(x, g, rotation=aug.rotation, zoom=aug.zoom, shift=aug.shift, flip=aug.flip)
    rgb = colour_jitter(x[:, :3], g, aug.colour)
    mask = x[:, 3:]
    inp = random_warp(rgb, g, strength=aug.warp, grid=aug.warp_grid)
    return inp, rgb, mask
