"""Face masks: the face-oval hull from landmarks, grown/shrunk and feathered.

Example:
    >>> aligned = align_face(frame, face.mesh, 256)  # doctest: +SKIP
    >>> mask = face_mask(aligned.to_crop(face.mesh), (256, 256), grow=-4, feather=12)  # doctest: +SKIP
    >>> mask.shape, mask.dtype  # ((256, 256), float32), values in [0, 1]  # doctest: +SKIP
"""

from __future__ import annotations

import cv2
import numpy as np

from deepfake_lab.faces.landmarks import FACE_OVAL

__all__ = ["face_mask", "hull_polygon", "feather_mask", "grow_mask", "border_fade", "paste_mask"]


def hull_polygon(points: np.ndarray) -> np.ndarray:
    """Outline of the face: the mesh's face-oval loop for (478|468, 2+) points, else the convex hull.

    Args:
        points: (N, 2+) landmarks.

    Returns:
        (K, 2) float32 polygon.
    """
    pts = np.asarray(points, dtype=np.float32)[:, :2]
    if pts.shape[0] in (468, 478):
        # The oval is not convex near the temples/chin on turned faces; the hull of the whole mesh
        # is, and covers forehead to chin.
        pts = np.concatenate([pts[FACE_OVAL], pts])
    hull = cv2.convexHull(pts.reshape(-1, 1, 2))
    return hull.reshape(-1, 2)


def grow_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate (pixels > 0) or erode (pixels < 0) a mask with an elliptical kernel; same dtype."""
    if pixels == 0:
        return mask
    k = 2 * abs(int(pixels)) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    return cv2.dilate(mask, kernel) if pixels > 0 else cv2.erode(mask, kernel)


def feather_mask(mask: np.ndarray, pixels: float) -> np.ndarray:
    """Soften a mask's edge: Gaussian blur whose ramp spans about `pixels` pixels; float32 in [0, 1]."""
    m = mask.astype(np.float32)
    if m.max() > 1.0:
        m /= 255.0
    if pixels <= 0:
        return m
    sigma = max(pixels / 3.0, 0.3)
    k = 2 * int(np.ceil(3 * sigma)) + 1
    return np.clip(cv2.GaussianBlur(m, (k, k), sigma), 0.0, 1.0)


def face_mask(
    points: np.ndarray,
    shape: tuple[int, int],
    grow: int = 0,
    feather: float = 0.0,
) -> np.ndarray:
    """Filled face-hull mask.

    Args:
        points: (478|468|68|N, 2+) landmarks in the mask's pixel coordinates (e.g. `aligned.to_crop(mesh)`).
        shape: (H, W) of the mask.
        grow: dilate (> 0) or erode (< 0) the hull by this many pixels before feathering.
        feather: width of the soft edge in pixels (0 = hard edge).

    Returns:
        (H, W) float32 mask in [0, 1].
    """
    mask = np.zeros(shape, np.uint8)
    poly = np.round(hull_polygon(points) * 16).astype(np.int32)  # 4 fractional bits
    cv2.fillPoly(mask, [poly], 255, lineType=cv2.LINE_AA, shift=4)
    mask = grow_mask(mask, grow)
    return feather_mask(mask, feather)


def border_fade(size: int, width: float) -> np.ndarray:
    """(size, size) float32 weight: 0 on the crop's edge rising to 1 at `width` pixels inside (smooth ramp).

    A mask multiplied by it never reaches the edge of the crop, so no box-shaped seam can appear where a mask
    that runs off the crop is cut.
    """
    w = max(float(width), 1.0)
    r = np.arange(size, dtype=np.float32)
    d = np.minimum(r, size - 1 - r) / w
    ramp = np.clip(d, 0.0, 1.0)
    ramp = ramp * ramp * (3 - 2 * ramp)  # smoothstep
    return np.minimum.outer(ramp, ramp).astype(np.float32)


def paste_mask(
    hull: np.ndarray,
    learned: np.ndarray | None = None,
    *,
    erode: int = 0,
    feather: float = 0.0,
    hull_grow: int = 0,
) -> np.ndarray:
    """The mask a swapped face is pasted back with, in crop pixels: float32 (S, S) in [0, 1].

    With a learned mask (the decoder's mask channel, resized to the crop): the mask is thresholded at 0.5,
    limited to the landmark hull grown by `hull_grow` pixels (so a wrong prediction cannot paste background far
    from the face), eroded by `erode` pixels and feathered over `feather` pixels; without one, the hard hull is
    eroded and feathered the same way. Either way it fades to 0 before the crop's edge (`border_fade`), so the
    paste-back has no box-shaped seam.

    Args:
        hull: (S, S) hard (or soft) landmark-hull mask in [0, 1].
        learned: (S, S) predicted mask probability in [0, 1], or None.
        erode: pixels to shrink the mask by before feathering (puts the soft edge inside the face).
        feather: width of the soft edge in pixels.
        hull_grow: how far (pixels) a learned mask may reach beyond the landmark hull.
    """
    h = (np.asarray(hull, np.float32) > 0.5).astype(np.uint8) * 255
    if learned is not None:
        limit = grow_mask(h, hull_grow) if hull_grow else h
        m = ((np.asarray(learned, np.float32) > 0.5).astype(np.uint8) * 255) & limit
    else:
        m = h
    m = grow_mask(m, -abs(int(erode)))
    out = feather_mask(m, feather)
    return out * border_fade(out.shape[0], max(feather, 2.0))
