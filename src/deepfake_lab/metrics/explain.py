"""Explanations for detector decisions: Grad-CAM for CNN detectors, log-power spectra for frequency ones.

* `grad_cam(model, x)` — Selvaraju 2017 (the scanner's implementation, `metrics.gradcam`, re-exported):
  [B, H, W] heat maps in [0, 1], None for detectors without a spatial conv layer.
* `log_spectrum(x)` — centred 2-D log power spectrum of the grey image (where GAN up-sampling leaves peaks).
* `overlay(x, heat)` — a heat map blended over the image for reports.

Example:
    >>> import torch
    >>> from deepfake_lab.models.catalogue import create_model
    >>> m = create_model("meso4", image_size=64).eval()
    >>> grad_cam(m, torch.rand(2, 3, 64, 64)).shape
    torch.Size([2, 64, 64])
"""

from __future__ import annotations

import torch
from torch import Tensor

from deepfake_lab.metrics.gradcam import grad_cam

__all__ = ["grad_cam", "log_spectrum", "overlay"]


def log_spectrum(x: Tensor, eps: float = 1e-8) -> Tensor:
    """Centred log power spectrum of the grey image: x [B, C, H, W] in [0, 1] -> float [B, H, W]."""
    g = x.float().mean(1) if x.shape[1] != 3 else (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).float()
    f = torch.fft.fftshift(torch.fft.fft2(g - g.mean((1, 2), keepdim=True)), dim=(-2, -1))
    return torch.log(f.abs() ** 2 + eps)


def overlay(x: Tensor, heat: Tensor, alpha: float = 0.5) -> Tensor:
    """Blend a heat map (red = high) over images: x [B, C, H, W] in [0, 1], heat [B, H, W] -> [B, 3, H, W]."""
    img = x.float().expand(-1, 3, -1, -1) if x.shape[1] == 1 else x.float()
    h = heat.float().clamp(0, 1)[:, None]
    colour = torch.cat([h, 1 - (2 * h - 1).abs(), 1 - h], 1)  # blue -> green -> red
    return ((1 - alpha) * img + alpha * colour).clamp(0, 1)
