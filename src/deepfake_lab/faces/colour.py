"""Colour transfer for pasted faces: Reinhard mean/std matching in CIE L*a*b*, or histogram matching.

Statistics are taken inside a mask, so the background of the crop does not bias them.

Example:
    >>> out = reinhard_transfer(swapped_crop, original_crop, mask)  # doctest: +SKIP
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["COLOUR_MODES", "reinhard_transfer", "histogram_transfer", "colour_transfer"]

COLOUR_MODES = ("reinhard", "histogram", "none")


def _weights(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    if mask is None:
        return np.ones(shape, bool)
    m = mask.astype(np.float32)
    if m.max() > 1.0:
        m /= 255.0
    w = m > 0.5
    return w if w.sum() >= 16 else np.ones(shape, bool)


def reinhard_transfer(source: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Give `source` the per-channel L*a*b* mean and std of `reference` (Reinhard et al. 2001).

    Args:
        source: (H, W, 3) uint8 RGB image to recolour (the generated face).
        reference: (H, W, 3) uint8 RGB image whose colours to take (the original face).
        mask: (H, W) mask (float [0, 1] or uint8); statistics use pixels with mask > 0.5.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    w = _weights(mask, source.shape[:2])
    s = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    r = cv2.cvtColor(reference, cv2.COLOR_RGB2LAB).astype(np.float32)
    s_mu, s_sd = s[w].mean(0), s[w].std(0) + 1e-3
    r_mu, r_sd = r[w].mean(0), r[w].std(0) + 1e-3
    out = (s - s_mu) * (r_sd / s_sd) + r_mu
    return cv2.cvtColor(np.clip(out + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def histogram_transfer(source: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Match each RGB channel's histogram (inside the mask) of `source` to `reference` (as `reinhard_transfer`)."""
    w = _weights(mask, source.shape[:2])
    out = source.copy()
    for c in range(3):
        s_vals, r_vals = source[..., c][w], reference[..., c][w]
        s_cdf = np.cumsum(np.bincount(s_vals, minlength=256)).astype(np.float64)
        r_cdf = np.cumsum(np.bincount(r_vals, minlength=256)).astype(np.float64)
        s_cdf /= s_cdf[-1]
        r_cdf /= r_cdf[-1]
        lut = np.clip(np.searchsorted(r_cdf, s_cdf), 0, 255).astype(np.uint8)
        out[..., c] = lut[source[..., c]]
    return out


def colour_transfer(
    source: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None, mode: str = "reinhard"
) -> np.ndarray:
    """Dispatch on `mode` ("reinhard", "histogram", "none")."""
    if mode == "reinhard":
        return reinhard_transfer(source, reference, mask)
    if mode == "histogram":
        return histogram_transfer(source, reference, mask)
    if mode == "none":
        return source
    raise ValueError(f"colour mode must be one of {', '.join(COLOUR_MODES)}, got {mode!r}")
