"""Sharper paste-back of a low-resolution generated face: frequency-separation detail transfer, unsharp mask and
the upscaler choice.

A 64 px decoder output enlarged over a ~200 px face has no high frequencies. `transfer_detail` keeps the
swapped face's low frequencies (identity, shape, colour) and puts back the target frame's own high-frequency
band (skin texture, pores, hair edges: frame − Gaussian blur of the frame, at a radius tied to the size of one
decoder pixel in the frame) inside the paste mask. Eyes and mouth (68-point landmark regions, grown and
feathered) get none by default, so the original person's eyes and lips do not ghost through; the added band is
clipped to ±`limit` grey levels. Pixels where the weight is 0 (everything outside the paste region) are returned
unchanged, bit for bit.

Example:
    >>> out = blend_face(frame, swapped_crop, aligned.matrix, mask)  # doctest: +SKIP
    >>> sigma = decoder_pixel(aligned.matrix, 256, 64)  # frame pixels per decoder pixel  # doctest: +SKIP
    >>> out = transfer_detail(out, frame, aligned.matrix, mask, face.landmarks68, sigma=sigma)  # doctest: +SKIP
"""

from __future__ import annotations

import cv2
import numpy as np

from deepfake_lab.faces.align import invert_affine, transform_points

__all__ = [
    "UPSCALERS",
    "decoder_pixel",
    "feature_regions",
    "high_pass",
    "transfer_detail",
    "unsharp_mask",
    "upscale",
]

UPSCALERS = ("cubic", "lanczos")
_INTERP = {"cubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}
_EYES_MOUTH_68 = (np.arange(36, 42), np.arange(42, 48), np.arange(48, 60))  # eye contours, outer lips


def upscale(image: np.ndarray, size: int, method: str = "cubic") -> np.ndarray:
    """Enlarge a square (S, S, C) uint8 crop to (size, size, C) with "cubic" or "lanczos" (Lanczos-4)."""
    if method not in _INTERP:
        raise ValueError(f"upscaler must be one of {', '.join(UPSCALERS)}, got {method!r}")
    return cv2.resize(image, (size, size), interpolation=_INTERP[method])


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), sigmaX=max(float(sigma), 0.3), borderType=cv2.BORDER_REFLECT)


def high_pass(image: np.ndarray, sigma: float) -> np.ndarray:
    """The high-frequency band of an image: image − Gaussian blur(image, sigma); float32, same shape."""
    x = image.astype(np.float32)
    return x - _blur(x, sigma)


def unsharp_mask(image: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    """image + amount · high_pass(image, sigma), as uint8 (amount 0 returns the image)."""
    if amount <= 0:
        return image
    x = image.astype(np.float32)
    return np.clip(x + amount * high_pass(x, sigma) + 0.5, 0, 255).astype(np.uint8)


def decoder_pixel(matrix: np.ndarray, paste_size: int, model_size: int) -> float:
    """Frame pixels per decoder pixel: the crop spans paste_size / scale frame pixels, rendered by model_size."""
    scale = float(np.sqrt(abs(np.linalg.det(np.asarray(matrix, np.float64)[:, :2]))))  # crop px per frame px
    return paste_size / max(scale, 1e-9) / model_size


def feature_regions(landmarks68: np.ndarray, shape: tuple[int, int], grow: float, feather: float) -> np.ndarray:
    """(H, W) float32 weight: 1 on both eyes and the mouth (68-point hulls grown by `grow` px), fading to 0 over
    `feather` px outside them."""
    hard = np.zeros(shape, np.uint8)
    pts = np.asarray(landmarks68, np.float32)[:, :2]
    for idx in _EYES_MOUTH_68:
        cv2.fillConvexPoly(hard, cv2.convexHull(np.round(pts[idx]).astype(np.int32)), 1)
    g = int(round(grow))
    if g > 0:
        hard = cv2.dilate(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * g + 1, 2 * g + 1)))
    m = hard.astype(np.float32)
    if feather > 0:
        m = np.maximum(m, _blur(m, feather / 3.0))  # soft only outwards: the grown hull itself stays at 1
    return m


def transfer_detail(
    result: np.ndarray,
    original: np.ndarray,
    matrix: np.ndarray,
    mask: np.ndarray,
    landmarks68: np.ndarray | None,
    *,
    sigma: float,
    amount: float = 1.0,
    limit: float = 24.0,
    features: float = 0.0,
) -> np.ndarray:
    """Frequency-separation detail transfer into a pasted face.

    Inside the paste mask (warped to the frame) with weight w = mask · (1 − (1 − features) · eyes/mouth region):
    out = result + amount · w · (clip(high_pass(original), ±limit) − high_pass(result)); with amount = 1 and
    w = 1 this is low_pass(result) + the original's own high band.

    Args:
        result: (H, W, 3) uint8 frame with the swapped face pasted in.
        original: (H, W, 3) uint8 frame before the paste (the target frame, the detail's source).
        matrix: (2, 3) frame -> crop matrix of the paste.
        mask: (S, S) float paste mask in [0, 1], crop coordinates.
        landmarks68: (68, 2) frame landmarks of the face (eyes and mouth regions), or None (no region kept out).
        sigma: Gaussian radius of the band split, frame pixels (e.g. `decoder_pixel(...)`).
        amount: 0 (off) .. 1 (the original's band replaces the result's).
        limit: largest |added high band| in grey levels.
        features: weight of the transfer inside eyes and mouth (0 = none).

    Returns:
        (H, W, 3) uint8; pixels with w = 0 are `result`'s own.
    """
    if amount <= 0:
        return result
    h, w = result.shape[:2]
    s = mask.shape[0]
    inv = invert_affine(np.asarray(matrix, np.float64))
    corners = transform_points(np.array([[0, 0], [s, 0], [0, s], [s, s]], float), inv)
    pad = int(np.ceil(3 * sigma)) + 2
    x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + pad, (w, h))
    if x1 <= x0 or y1 <= y0:
        return result
    inv_r = inv.copy()
    inv_r[:, 2] -= (x0, y0)
    size = (int(x1 - x0), int(y1 - y0))
    weight = cv2.warpAffine(mask.astype(np.float32), inv_r, size, flags=cv2.INTER_LINEAR, borderValue=0.0)
    if landmarks68 is not None and features < 1:
        iod = float(np.linalg.norm(np.asarray(landmarks68)[36] - np.asarray(landmarks68)[45]))
        region = feature_regions(np.asarray(landmarks68)[:, :2] - (x0, y0), weight.shape, 0.08 * iod, 0.12 * iod)
        weight *= 1.0 - (1.0 - features) * region
    weight = np.clip(weight * amount, 0.0, 1.0)
    if not weight.any():
        return result
    base = result[y0:y1, x0:x1].astype(np.float32)
    band = np.clip(high_pass(original[y0:y1, x0:x1], sigma), -limit, limit) - high_pass(base, sigma)
    out = result.copy()
    out[y0:y1, x0:x1] = np.clip(base + weight[..., None] * band + 0.5, 0, 255).astype(np.uint8)
    return out
