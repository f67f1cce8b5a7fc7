"""Structural similarity (SSIM, Wang et al. 2004) with a Gaussian window, and DSSIM = (1 - SSIM) / 2.

    SSIM(x, y) = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),  C1 = (0.01 L)², C2 = (0.03 L)²

with local statistics under an 11×11 Gaussian window (σ = 1.5), population (1/N) variances, computed per
channel and averaged over the valid (unpadded) positions — the same conventions as scikit-image's
`structural_similarity(gaussian_weights=True, use_sample_covariance=False)`.

Example:
    >>> x = torch.rand(2, 3, 32, 32)
    >>> float(ssim(x, x))
    1.0
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def gaussian_window(size: int = 11, sigma: float = 1.5, device: torch.device | None = None) -> Tensor:
    """Normalised 2-D Gaussian window [size, size]."""
    ax = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(ax**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(
    x: Tensor,
    y: Tensor,
    *,
    window_size: int = 11,
    sigma: float = 1.5,
    data_range: float = 1.0,
    reduction: str = "mean",
) -> Tensor:
    """Mean SSIM between two image batches.

    Args:
        x: [B, C, H, W] images (H, W >= window_size), computed in float32.
        y: [B, C, H, W] images, same shape.
        window_size: side of the Gaussian window.
        sigma: its standard deviation.
        data_range: L, the value range (1 for images in [0, 1]).
        reduction: "mean" (scalar), "none" (per image [B]) or "map" (SSIM map [B, C, H', W']).

    Returns:
        SSIM in [-1, 1]; 1 for identical images.
    """
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"ssim needs two [B, C, H, W] tensors of one shape, got {tuple(x.shape)} {tuple(y.shape)}")
    with torch.autocast(x.device.type, enabled=False):  # statistics in float32 even under bf16 autocast
        return _ssim(x.float(), y.float(), window_size, sigma, data_range, reduction)


def _ssim(x: Tensor, y: Tensor, window_size: int, sigma: float, data_range: float, reduction: str) -> Tensor:
    b, c, h, w_ = x.shape
    g1 = gaussian_window(window_size, sigma, x.device)[window_size // 2]
    g1 = g1 / g1.sum()
    kx = g1.view(1, 1, 1, window_size)
    ky = g1.view(1, 1, window_size, 1)

    def filt(t: Tensor) -> Tensor:  # separable Gaussian, valid positions only; channels folded into the batch
        t = t.reshape(-1, 1, t.shape[-2], t.shape[-1])
        t = F.conv2d(F.conv2d(t, kx), ky)
        return t.reshape(b, c, t.shape[-2], t.shape[-1])

    mu_x, mu_y = filt(x), filt(y)
    sxx = filt(x * x) - mu_x**2
    syy = filt(y * y) - mu_y**2
    sxy = filt(x * y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    smap = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    if reduction == "map":
        return smap
    per = smap.flatten(1).mean(1)
    if reduction == "none":
        return per
    if reduction == "mean":
        return per.mean()
    raise ValueError(f"reduction must be mean, none or map, got {reduction!r}")


def dssim(x: Tensor, y: Tensor, **kwargs: float | int | str) -> Tensor:
    """Structural dissimilarity (1 - SSIM) / 2 in [0, 1]; 0 for identical images. Same arguments as `ssim`."""
    return (1 - ssim(x, y, **kwargs)) / 2  # type: ignore[arg-type]
