"""Put a generated face back into its frame: feathered alpha blend (`paste_back`) or Poisson seamless cloning.

Example:
    >>> out = blend_face(frame, new_crop, aligned.matrix, mask, mode="poisson")  # doctest: +SKIP
"""

from __future__ import annotations

import cv2
import numpy as np

from deepfake_lab.faces.align import invert_affine, paste_back, transform_points

__all__ = ["BLEND_MODES", "blend_face", "poisson_paste"]

BLEND_MODES = ("feather", "poisson")


def poisson_paste(frame: np.ndarray, face_image: np.ndarray, matrix: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Seamless-clone (`cv2.seamlessClone`, NORMAL_CLONE) a crop into its frame inside the mask.

    Args:
        frame: (H, W, 3) uint8 frame.
        face_image: (S, S, 3) uint8 crop aligned with `matrix`.
        matrix: (2, 3) frame -> crop matrix.
        mask: (S, S) mask in crop coordinates (float [0, 1] or uint8); the clone region is mask > 0.5.

    Returns:
        (H, W, 3) uint8 frame; falls back to the feathered blend when the region touches the frame border
        (seamlessClone needs a margin) or is empty.
    """
    s = face_image.shape[0]
    m = mask.astype(np.float32) / (255.0 if mask.dtype == np.uint8 else 1.0)
    inv = invert_affine(np.asarray(matrix, np.float64))
    h, w = frame.shape[:2]
    corners = transform_points(np.array([[0, 0], [s, 0], [0, s], [s, s]], float), inv)
    x0, y0 = np.floor(corners.min(0)).astype(int) - 1
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return frame.copy()
    inv_r = inv.copy()
    inv_r[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    src = cv2.warpAffine(face_image, inv_r, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(m, inv_r, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    binary = (alpha > 0.5).astype(np.uint8) * 255
    ys, xs = np.nonzero(binary)
    if len(xs) < 16:
        return frame.copy()
    bx0, bx1, by0, by1 = xs.min() + x0, xs.max() + x0, ys.min() + y0, ys.max() + y0
    if bx0 < 2 or by0 < 2 or bx1 > w - 3 or by1 > h - 3:
        return paste_back(frame, face_image, matrix, m)
    full_src = frame.copy()
    full_src[y0:y1, x0:x1] = src
    full_mask = np.zeros((h, w), np.uint8)
    full_mask[y0:y1, x0:x1] = binary
    center = (int((bx0 + bx1 + 1) // 2), int((by0 + by1 + 1) // 2))
    # seamlessClone centres the mask's bounding box on `center`; with the box centre the placement is exact.
    return cv2.seamlessClone(full_src, frame, full_mask, center, cv2.NORMAL_CLONE)


def blend_face(
    frame: np.ndarray, face_image: np.ndarray, matrix: np.ndarray, mask: np.ndarray, mode: str = "feather"
) -> np.ndarray:
    """Blend a crop into the frame with "feather" (alpha with the soft mask) or "poisson" (seamless clone)."""
    if mode == "feather":
        return paste_back(frame, face_image, matrix, mask)
    if mode == "poisson":
        return poisson_paste(frame, face_image, matrix, mask)
    raise ValueError(f"blend mode must be one of {', '.join(BLEND_MODES)}, got {mode!r}")
