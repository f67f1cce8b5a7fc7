"""Pseudo-fakes made from real faces alone: self-blended images and Face X-ray blends, with their blend masks.

* **Self-blended image** (Shiohara & Yamasaki, CVPR 2022): a face is blended into a copy of itself whose
  colour (RGB/HSV shifts, brightness/contrast), frequency content (blur / down-up sampling / sharpening) and
  geometry (small shift and scale) were perturbed, through a randomly deformed landmark-hull mask. The result
  shows only the blending boundary and the statistics mismatch of a face swap: no identity, no generator.
* **Face X-ray blend** (Li et al., CVPR 2020): the face of another real person, landmark-matched (both
  crops are aligned to the same template, and the other face is warped onto this face's landmarks when they
  are known), colour-transferred and blended in through the same kind of mask.

Both return the blend mask M in [0, 1] (the fake is ``M * source + (1 - M) * target``), the second training
target of a detector with a heatmap head; Face X-ray's boundary image is ``4 M (1 - M)``.

Everything works on aligned crops (`deepfake_lab.faces.align_face`): `template_landmarks` gives where the
68 landmarks of an average face fall in such a crop, for crops whose own landmarks are not stored.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> crop = (np.random.default_rng(1).random((64, 64, 3)) * 255).astype(np.uint8)
    >>> fake, mask = self_blend(crop, template_landmarks(64, 0.1), rng)
    >>> fake.shape, mask.shape, float(mask.max()) <= 1.0
    ((64, 64, 3), (64, 64), True)
"""

from __future__ import annotations

import cv2
import numpy as np

from deepfake_lab.faces.align import FACE_CENTER, FACE_SIDE
from deepfake_lab.faces.colour import reinhard_transfer
from deepfake_lab.faces.landmarks import TEMPLATE_68
from deepfake_lab.faces.mask import face_mask

__all__ = [
    "PSEUDO_FAKE_KINDS",
    "blend_boundary",
    "random_blend_mask",
    "self_blend",
    "template_landmarks",
    "xray_blend",
]

PSEUDO_FAKE_KINDS = ("self-blend", "xray-blend")
_BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # SBI's choice of the mask's peak opacity


def template_landmarks(size: int, margin: float) -> np.ndarray:
    """(68, 2) float32: where `TEMPLATE_68` lands in an aligned crop of side `size` with `margin`."""
    side = FACE_SIDE * (1.0 + 2.0 * margin)
    cx, cy = FACE_CENTER
    return ((TEMPLATE_68 - np.array([cx - side / 2, cy - side / 2])) * (size / side)).astype(np.float32)


def _smooth_field(shape: tuple[int, int], amp: float, cells: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) smooth random field in [-amp, amp]: a coarse grid of uniforms, cubically upsampled."""
    h, w = shape
    coarse = rng.uniform(-amp, amp, (cells, cells)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)


def random_blend_mask(points: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A deformed, feathered landmark-hull mask (SBI / Face X-ray style).

    Args:
        points: (68, 2) landmarks in crop pixels.
        size: crop side.
        rng: random generator.

    Returns:
        (size, size) float32 mask in [0, 1] (peak opacity drawn from SBI's blend ratios).
    """
    pts = np.asarray(points, np.float32)[:, :2]
    if rng.random() < 0.5:  # the inner face (eyebrows, eyes, nose, mouth) instead of the whole jaw hull
        pts = pts[17:]
    centre = pts.mean(0)
    pts = centre + (pts - centre) * rng.uniform(0.85, 1.15, 2).astype(np.float32)  # anisotropic scale
    hard = face_mask(pts, (size, size))
    # elastic deformation of the hull
    amp = size * rng.uniform(0.01, 0.05)
    cells = int(rng.integers(3, 7))
    gx, gy = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    dx, dy = _smooth_field((size, size), amp, cells, rng), _smooth_field((size, size), amp, cells, rng)
    m = cv2.remap(hard, gx + dx, gy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    # erode or dilate, then feather with a random width
    k = int(round(size * rng.uniform(0.0, 0.05)))
    if k >= 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        m = cv2.erode(m, kernel) if rng.random() < 0.5 else cv2.dilate(m, kernel)
    sigma = size * rng.uniform(0.01, 0.06)
    ks = int(2 * round(3 * sigma) + 1)
    m = cv2.GaussianBlur(m, (ks, ks), sigma)
    peak = float(m.max())
    if peak <= 1e-6:  # deformation swept the hull away: fall back to the plain feathered hull
        m, peak = cv2.GaussianBlur(hard, (ks, ks), sigma), 1.0
    return np.clip(m / max(peak, 1e-6), 0, 1).astype(np.float32) * float(rng.choice(_BLEND_RATIOS))


def _colour_perturb(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """RGB shift, HSV shift, brightness/contrast: float32 (H, W, 3) in [0, 255]."""
    x = img.astype(np.float32)
    if rng.random() < 0.7:
        x = x + rng.uniform(-20, 20, 3).astype(np.float32)
    if rng.random() < 0.7:
        hsv = cv2.cvtColor(np.clip(x, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-5, 5)) % 180
        hsv[..., 1:] = hsv[..., 1:] * rng.uniform(0.85, 1.15, 2).astype(np.float32)
        x = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    if rng.random() < 0.7:
        mean = x.mean()
        x = (x - mean) * rng.uniform(0.85, 1.15) + mean + rng.uniform(-15, 15)
    return np.clip(x, 0, 255)


def _frequency_perturb(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur, down-up sampling or sharpening of a float32 (H, W, 3) image."""
    h, w = x.shape[:2]
    r = rng.random()
    if r < 0.35:
        s = rng.uniform(0.4, 1.4)
        return cv2.GaussianBlur(x, (0, 0), s)
    if r < 0.7:
        f = rng.uniform(0.35, 0.8)
        small = cv2.resize(x, (max(2, int(w * f)), max(2, int(h * f))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    blur = cv2.GaussianBlur(x, (0, 0), 1.0)
    return np.clip(x + rng.uniform(0.3, 1.0) * (x - blur), 0, 255)


def _geometry_perturb(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Small random shift (±3 %) and scale (0.95–1.05) about the centre."""
    h, w = x.shape[:2]
    s = rng.uniform(0.95, 1.05)
    tx, ty = rng.uniform(-0.03, 0.03, 2) * np.array([w, h])
    m = np.array([[s, 0, (1 - s) * w / 2 + tx], [0, s, (1 - s) * h / 2 + ty]], np.float32)
    return cv2.warpAffine(x, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def self_blend(image: np.ndarray, points: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Self-blended image of one aligned face crop.

    Args:
        image: (S, S, 3) uint8 RGB aligned crop.
        points: (68, 2) landmarks in crop pixels (`template_landmarks` when unknown).
        rng: random generator.

    Returns:
        (fake (S, S, 3) uint8, mask (S, S) float32 in [0, 1]).
    """
    size = image.shape[0]
    base = image.astype(np.float32)
    src = _geometry_perturb(_frequency_perturb(_colour_perturb(image, rng), rng), rng)
    if rng.random() < 0.5:  # SBI perturbs source or target: swap roles half of the time
        src, base = base, src
    mask = random_blend_mask(points, size, rng)
    fake = src * mask[..., None] + base * (1 - mask[..., None])
    return np.clip(fake + 0.5, 0, 255).astype(np.uint8), mask


def xray_blend(
    image: np.ndarray,
    other: np.ndarray,
    points: np.ndarray,
    rng: np.random.Generator,
    other_points: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Face X-ray blend: the face of `other` (another real person) blended into `image`.

    Args:
        image: (S, S, 3) uint8 aligned crop (the target, whose background stays).
        other: (S, S, 3) uint8 aligned crop of another person (the source face).
        points: (68, 2) landmarks of `image` in crop pixels.
        rng: random generator.
        other_points: (68, 2) landmarks of `other`; when given, `other` is first warped (similarity fit)
            onto `points` — landmark matching beyond the shared alignment template.

    Returns:
        (fake (S, S, 3) uint8, mask (S, S) float32 in [0, 1]).
    """
    size = image.shape[0]
    src = other
    if other_points is not None:
        m, _ = cv2.estimateAffinePartial2D(np.asarray(other_points, np.float32), np.asarray(points, np.float32))
        if m is not None:
            src = cv2.warpAffine(other, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    mask = random_blend_mask(points, size, rng)
    src = reinhard_transfer(src, image, (mask > 0.05).astype(np.float32)) if rng.random() < 0.8 else src
    srcf = src.astype(np.float32)
    if rng.random() < 0.5:
        srcf = _frequency_perturb(srcf, rng)
    fake = srcf * mask[..., None] + image.astype(np.float32) * (1 - mask[..., None])
    return np.clip(fake + 0.5, 0, 255).astype(np.uint8), mask


def blend_boundary(mask: np.ndarray) -> np.ndarray:
    """Face X-ray's boundary image 4·M·(1 − M) of a blend mask (any shape), in [0, 1]."""
    m = np.asarray(mask, np.float32)
    return 4.0 * m * (1.0 - m)
