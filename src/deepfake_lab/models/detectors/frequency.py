"""Frequency-domain detectors fitted in closed form: spectral features -> standardisation -> logistic regression.

* `spectrum-lr` (Durall et al. 2020, "Watch your Up-Convolution: CNN Based Generative Deep Neural Networks are
  Failing to Reproduce Spectral Distributions"): the azimuthally averaged log power spectrum of the grayscale
  image (a 1-D profile over the radius, from DC to the Nyquist radius min(H, W)/2), resampled to `n_bins`
  points and min-max normalised per image, then logistic regression. Up-sampling layers leave a periodic
  trace that shows at the high-frequency end of this profile.
* `dct-lr` (after Frank et al. 2020, "Leveraging Frequency Analysis for Deep Fake Image Recognition"):
  log |DCT-II| of `block`×`block` tiles, averaged over the tiles, in zig-zag order; the band
  [zigzag_start, zigzag_start + n_coeffs) is kept (e.g. start 1, 20 coefficients: the low/mid band of 8×8
  tiles; the default keeps every AC coefficient). Tiles make the feature independent of the image size.

Both are nn.Modules whose fitted state lives in buffers (so they export to safetensors like any model) and
follow the detector contract; `fit(x, y)` is the closed-form fit (scikit-learn's L2 logistic regression).
Spectra are computed in float32 whatever the autocast/bf16 setting.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepfake_lab.models.detectors.base import check_input, detector_output
from deepfake_lab.registry import register_model

_LUMA = (0.299, 0.587, 0.114)


def to_gray(x: Tensor) -> Tensor:
    """x: [B, 1 or 3, H, W] -> float32 luma [B, H, W] (ITU-R BT.601 weights)."""
    x = x.float()
    if x.shape[1] == 1:
        return x[:, 0]
    w = torch.tensor(_LUMA, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1)


def azimuthal_average(power: Tensor) -> Tensor:
    """Mean of a centred 2-D spectrum over rings of integer radius 0..min(H, W)//2.

    Args:
        power: [B, H, W] with the DC term at (H//2, W//2) (after fftshift).

    Returns:
        [B, min(H, W)//2 + 1] radial profile.
    """
    b, h, w = power.shape
    yy = torch.arange(h, device=power.device).view(-1, 1) - h // 2
    xx = torch.arange(w, device=power.device).view(1, -1) - w // 2
    r = torch.sqrt((yy * yy + xx * xx).float()).round().long().flatten()
    r_max = min(h, w) // 2
    keep = r <= r_max
    idx = r[keep]
    sums = torch.zeros(b, r_max + 1, device=power.device).index_add_(1, idx, power.flatten(1)[:, keep])
    counts = torch.zeros(r_max + 1, device=power.device).index_add_(0, idx, torch.ones_like(idx, dtype=torch.float))
    return sums / counts.clamp_min(1)


def radial_spectrum(x: Tensor, n_bins: int, normalize: bool = True, eps: float = 1e-8) -> Tensor:
    """Durall's 1-D feature: azimuthally averaged log power spectrum, resampled to `n_bins` points.

    Args:
        x: images [B, C, H, W] in [0, 1].
        n_bins: length of the returned profile (linear interpolation over the normalised radius).
        normalize: min-max normalise each profile to [0, 1] (as Durall et al. do).

    Returns:
        [B, n_bins] float32.
    """
    g = to_gray(x)
    spec = torch.fft.fftshift(torch.fft.fft2(g, norm="ortho"), dim=(-2, -1))
    prof = azimuthal_average(torch.log(spec.real**2 + spec.imag**2 + eps))
    prof = F.interpolate(prof.unsqueeze(1), size=n_bins, mode="linear", align_corners=True).squeeze(1)
    if normalize:
        lo, hi = prof.amin(1, keepdim=True), prof.amax(1, keepdim=True)
        prof = (prof - lo) / (hi - lo).clamp_min(eps)
    return prof


def dct_matrix(n: int) -> Tensor:
    """Orthonormal DCT-II matrix D [n, n]: coefficients c = D x for a length-n signal x."""
    k = torch.arange(n, dtype=torch.float64).view(-1, 1)
    i = torch.arange(n, dtype=torch.float64).view(1, -1)
    d = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.float()


def zigzag_order(n: int) -> Tensor:
    """Flat indices of an n×n block in JPEG zig-zag order: [n*n] int64 (0 = DC, last = highest frequency)."""
    coords = sorted(
        ((u, v) for u in range(n) for v in range(n)),
        key=lambda p: (p[0] + p[1], p[1] if (p[0] + p[1]) % 2 == 0 else p[0]),
    )
    return torch.tensor([u * n + v for u, v in coords], dtype=torch.long)


def block_dct_features(x: Tensor, block: int, order: Tensor, eps: float = 1e-4) -> Tensor:
    """Mean over block×block tiles of log|DCT-II| coefficients, reordered by `order`.

    Args:
        x: images [B, C, H, W] in [0, 1] with H, W >= block (the ragged border is cropped).
        block: tile side.
        order: flat coefficient indices to keep, in the order to return them: [F].

    Returns:
        [B, F] float32.
    """
    g = to_gray(x)
    b, h, w = g.shape
    if h < block or w < block:
        raise ValueError(f"DCT detector needs images of at least {block}×{block}, got {h}×{w}")
    g = g[:, : h - h % block, : w - w % block]
    tiles = g.unfold(1, block, block).unfold(2, block, block).reshape(b, -1, block, block)
    d = dct_matrix(block).to(g.device)
    coeffs = d @ tiles @ d.T
    feats = torch.log(coeffs.abs() + eps).mean(1).flatten(1)
    return feats[:, order.to(g.device)]


class FrequencyDetector(nn.Module):
    """Base: `features(x)` -> (f - μ) / σ -> w·f + b; μ, σ, w, b are buffers set by `fit`.

    Args:
        n_features: length F of the feature vector.
        in_channels: input channels (1 or 3).
    """

    def __init__(self, *, n_features: int, in_channels: int = 3) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.register_buffer("feat_mean", torch.zeros(n_features))
        self.register_buffer("feat_std", torch.ones(n_features))
        self.register_buffer("weight", torch.zeros(n_features))
        self.register_buffer("bias", torch.zeros(1))

    def features(self, x: Tensor) -> Tensor:
        """x: [B, C, H, W] in [0, 1] -> float32 [B, F]."""
        raise NotImplementedError

    @torch.no_grad()
    def fit(self, x: Tensor, y: Tensor, *, C: float = 1.0, batch_size: int = 256, seed: int = 0) -> FrequencyDetector:  # noqa: N803
        """Closed-form fit: standardise the features, then L2 logistic regression (scikit-learn, lbfgs).

        Args:
            x: training images [N, C, H, W] in [0, 1] (uint8 is accepted and scaled).
            y: labels [N], 0 = real, 1 = fake; both classes must occur.
            C: inverse L2 regularisation strength.
            batch_size: images per feature-extraction chunk (bounds memory).
        """
        from sklearn.linear_model import LogisticRegression

        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        feats = torch.cat([self.features(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
        labels = np.asarray(y.detach().cpu().numpy(), dtype=np.int64)
        if len(np.unique(labels)) != 2:
            raise ValueError("fitting a detector needs both real (0) and fake (1) examples")
        mu, sd = feats.mean(0), feats.std(0).clamp_min(1e-6)
        z = ((feats - mu) / sd).double().cpu().numpy()
        lr = LogisticRegression(C=C, max_iter=2000, random_state=seed).fit(z, labels)
        self.feat_mean.copy_(mu)
        self.feat_std.copy_(sd)
        self.weight.copy_(torch.from_numpy(lr.coef_[0].astype(np.float32)))
        self.bias.copy_(torch.tensor([float(lr.intercept_[0])]))
        return self

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """x: [B, C, H, W] in [0, 1] -> {"logits": [B], "probs": [B], "features": [B, F]} (float32)."""
        check_input(x, self.in_channels)
        with torch.autocast(x.device.type, enabled=False):
            f = self.features(x.float())
            logits = ((f - self.feat_mean) / self.feat_std) @ self.weight + self.bias
        return detector_output(logits, f)


class SpectrumDetector(FrequencyDetector):
    """Durall 2020: azimuthal average of the log power spectrum -> logistic regression.

    Args:
        n_bins: points of the resampled radial profile (the feature length).
        normalize: min-max normalise each profile.
        image_size: nominal input side (recorded for pipelines; the feature is size-independent).
        in_channels: input channels (1 or 3).
    """

    def __init__(self, *, n_bins: int = 64, normalize: bool = True, image_size: int = 256, in_channels: int = 3):
        if n_bins < 2:
            raise ValueError(f"n_bins must be >= 2, got {n_bins}")
        super().__init__(n_features=n_bins, in_channels=in_channels)
        self.n_bins, self.normalize, self.image_size = int(n_bins), bool(normalize), int(image_size)

    def features(self, x: Tensor) -> Tensor:
        return radial_spectrum(x, self.n_bins, self.normalize)


class DCTDetector(FrequencyDetector):
    """Block-DCT log-magnitude band -> logistic regression.

    Args:
        block: tile side of the DCT-II (JPEG: 8).
        zigzag_start: first zig-zag index kept (0 = DC).
        n_coeffs: number of zig-zag coefficients kept (None: all from zigzag_start on).
        image_size: nominal input side (recorded for pipelines; the feature is size-independent).
        in_channels: input channels (1 or 3).
    """

    def __init__(
        self,
        *,
        block: int = 8,
        zigzag_start: int = 1,
        n_coeffs: int | None = None,
        image_size: int = 256,
        in_channels: int = 3,
    ) -> None:
        total = block * block
        n = total - zigzag_start if n_coeffs is None else int(n_coeffs)
        if block < 2 or not 0 <= zigzag_start < total or n < 1 or zigzag_start + n > total:
            raise ValueError(f"bad DCT band: block={block}, zigzag_start={zigzag_start}, n_coeffs={n_coeffs}")
        super().__init__(n_features=n, in_channels=in_channels)
        self.block, self.image_size = int(block), int(image_size)
        self.register_buffer("order", zigzag_order(block)[zigzag_start : zigzag_start + n], persistent=False)

    def features(self, x: Tensor) -> Tensor:
        return block_dct_features(x, self.block, self.order)


@register_model("spectrum-lr", family="detector", task="frequency-detection")
def spectrum_lr(
    *, n_bins: int = 64, normalize: bool = True, image_size: int = 256, in_channels: int = 3
) -> SpectrumDetector:
    """Durall 2020: azimuthally averaged log power spectrum -> logistic regression (closed-form fit)."""
    return SpectrumDetector(n_bins=n_bins, normalize=normalize, image_size=image_size, in_channels=in_channels)


@register_model("dct-lr", family="detector", task="frequency-detection")
def dct_lr(
    *, block: int = 8, zigzag_start: int = 1, n_coeffs: int | None = None, image_size: int = 256, in_channels: int = 3
) -> DCTDetector:
    """Block-DCT log |coefficients| (zig-zag band) -> logistic regression (closed-form fit)."""
    return DCTDetector(
        block=block, zigzag_start=zigzag_start, n_coeffs=n_coeffs, image_size=image_size, in_channels=in_channels
    )
