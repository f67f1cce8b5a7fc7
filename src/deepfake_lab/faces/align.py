"""Face alignment (similarity transform onto a canonical template) and exact paste-back.

`align_face` maps the landmarks onto `TEMPLATE_68` (or `TEMPLATE_5`) with a least-squares similarity
(Umeyama) and warps a square crop; the 2×3 frame→crop matrix is kept, so that `paste_back` can put a
processed crop back where it came from.

Crop framing: the *face square* is the square around the canonical face oval (forehead to chin, cheek to
cheek): centre (0.5, 0.55), side 1.5 in template units (the 51 inner points span [0, 1]). `margin` adds that
fraction of the face square on every side, so margin=0 is a tight crop and margin=0.25 shows the whole
head outline with some hair and background.

Example:
    >>> aligned = align_face(frame, face.mesh, size=256, margin=0.2)  # doctest: +SKIP
    >>> edited = some_model(aligned.image)  # doctest: +SKIP
    >>> out = paste_back(frame, edited, aligned.matrix, mask=face_mask_for(aligned))  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deepfake_lab.faces.landmarks import INNER_51, TEMPLATE_5, TEMPLATE_68, mesh_to_68

__all__ = [
    "AlignedFace",
    "FACE_CENTER",
    "FACE_SIDE",
    "umeyama",
    "alignment_matrix",
    "align_face",
    "warp_to_crop",
    "paste_back",
    "transform_points",
    "invert_affine",
]

FACE_CENTER: tuple[float, float] = (0.5, 0.55)
"""Centre of the face square in template units."""
FACE_SIDE: float = 1.5
"""Side of the face square in template units."""


@dataclass
class AlignedFace:
    """An aligned face crop and the transform that produced it.

    Attributes:
        image: (S, S, 3) uint8 RGB crop.
        matrix: (2, 3) float64 affine transform, frame pixels -> crop pixels.
    """

    image: np.ndarray
    matrix: np.ndarray

    @property
    def size(self) -> int:
        """Side of the crop in pixels."""
        return int(self.image.shape[0])

    @property
    def inverse(self) -> np.ndarray:
        """(2, 3) crop -> frame transform."""
        return invert_affine(self.matrix)

    @property
    def scale(self) -> float:
        """Crop pixels per frame pixel."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) frame points into the crop."""
        return transform_points(points, self.matrix)

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) crop points back into the frame."""
        return transform_points(points, self.inverse)


def umeyama(src: np.ndarray, dst: np.ndarray, estimate_scale: bool = True) -> np.ndarray:
    """Least-squares similarity transform mapping `src` onto `dst` (Umeyama 1991), without reflection.

    Args:
        src: (N, 2) points.
        dst: (N, 2) corresponding points.
        estimate_scale: False for a rigid transform (rotation + translation only).

    Returns:
        (3, 3) float64 homogeneous matrix T with dst ≈ (T @ [src, 1]^T)[:2].
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    n, dim = src.shape
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / n
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(dim)
    if np.linalg.det(cov) < 0:
        sign[-1] = -1
    r = u @ np.diag(sign) @ vt
    var_s = s.var(0).sum()
    c = float((sig * sign).sum() / var_s) if estimate_scale and var_s > 0 else 1.0
    t = np.eye(dim + 1)
    t[:dim, :dim] = c * r
    t[:dim, dim] = mu_d - c * r @ mu_s
    return t


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix, as (2, 3) float64."""
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine matrix to (N, 2+) points (extra columns ignored); returns (N, 2) float32."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    m = np.asarray(matrix, dtype=np.float64)
    return (p @ m[:, :2].T + m[:, 2]).astype(np.float32)


def _template_pair(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(landmarks, dtype=np.float64)
    n = pts.shape[0]
    if n in (468, 478):
        return mesh_to_68(pts)[INNER_51].astype(np.float64), TEMPLATE_68[INNER_51].astype(np.float64)
    if n == 68:
        return pts[INNER_51, :2], TEMPLATE_68[INNER_51].astype(np.float64)
    if n == 5:
        return pts[:, :2], TEMPLATE_5.astype(np.float64)
    raise ValueError(f"landmarks must be (478|468|68|5, 2), got {pts.shape}")


def alignment_matrix(landmarks: np.ndarray, size: int = 256, margin: float = 0.2) -> np.ndarray:
    """Frame -> crop affine matrix aligning the landmarks to the canonical template.

    Args:
        landmarks: (478|468, 2+) FaceMesh, (68, 2) iBUG or (5, 2) five-point landmarks in frame pixels.
        size: crop side in pixels.
        margin: extra context around the face square on each side, as a fraction of its side.

    Returns:
        (2, 3) float64 matrix.
    """
    if size < 8:
        raise ValueError(f"size must be >= 8, got {size}")
    if margin < -0.25:
        raise ValueError(f"margin must be >= -0.25, got {margin}")
    src, tmpl = _template_pair(landmarks)
    side = FACE_SIDE * (1.0 + 2.0 * margin)
    cx, cy = FACE_CENTER
    # template units -> crop pixels
    k = size / side
    dst = (tmpl - np.array([cx - side / 2, cy - side / 2])) * k
    return umeyama(src, dst)[:2]


def align_face(
    frame: np.ndarray,
    landmarks: np.ndarray,
    size: int = 256,
    margin: float = 0.2,
    border: int = cv2.BORDER_CONSTANT,
) -> AlignedFace:
    """Cut an aligned, upright face crop out of a frame.

    When the face is larger in the frame than in the crop, the frame region is first shrunk with area
    averaging, so small crops of large faces are not aliased.

    Args:
        frame: (H, W, C) uint8 image (RGB or any channel order).
        landmarks: (478|468, 2+), (68, 2) or (5, 2) landmarks in frame pixels.
        size: crop side (64, 128, 256 ...).
        margin: context around the face square, fraction of its side on each side.
        border: OpenCV border mode for parts of the crop outside the frame (black by default).

    Returns:
        `AlignedFace` with the (size, size, C) crop and the frame -> crop matrix.
    """
    matrix = alignment_matrix(landmarks, size, margin)
    return AlignedFace(image=warp_to_crop(frame, matrix, size, border), matrix=matrix)


def warp_to_crop(frame: np.ndarray, matrix: np.ndarray, size: int, border: int = cv2.BORDER_CONSTANT) -> np.ndarray:
    """Warp `frame` with a frame->crop `matrix` into a (size, size, C) crop, area-averaging on big shrinks."""
    m = np.asarray(matrix, dtype=np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    if scale < 0.67:
        # Pre-shrink the part of the frame the crop covers, then warp at (nearly) 1:1.
        corners = transform_points(np.array([[0, 0], [size, 0], [0, size], [size, size]], float), invert_affine(m))
        h, w = frame.shape[:2]
        x0 = max(int(np.floor(corners[:, 0].min())) - 2, 0)
        y0 = max(int(np.floor(corners[:, 1].min())) - 2, 0)
        x1 = min(int(np.ceil(corners[:, 0].max())) + 3, w)
        y1 = min(int(np.ceil(corners[:, 1].max())) + 3, h)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            region, fold = _halve(frame[y0:y1, x0:x1], scale)
            cw, ch = region.shape[1] * fold, region.shape[0] * fold  # frame pixels the region covers
            rw = max(1, int(round(cw * scale)))
            rh = max(1, int(round(ch * scale)))
            small = cv2.resize(region, (rw, rh), interpolation=cv2.INTER_AREA)
            sx, sy = rw / cw, rh / ch
            # crop = M @ frame ; frame = (small / s) + offset  ->  crop = M @ (diag(1/s) small + offset)
            pre = np.array([[1 / sx, 0, x0], [0, 1 / sy, y0], [0, 0, 1]])
            m2 = (np.vstack([m, [0, 0, 1]]) @ pre)[:2]
            return cv2.warpAffine(small, m2, (size, size), flags=cv2.INTER_LINEAR, borderMode=border)
    return cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_CUBIC, borderMode=border)


def _halve(region: np.ndarray, scale: float) -> tuple[np.ndarray, int]:
    """Halve an (H, W, C) region by exact 2×2 averaging while `scale` (target pixels per frame pixel) stays
    below a half of what is left → (region, frames pixels per region pixel). OpenCV's area shrink runs a fast
    path for exact halves and a general one, ~8× slower per source pixel, for other ratios: the general one
    is left only a shrink between ½ and 1 (measured: 1.8 → 0.5 ms for a 625 px face to 128 px). An odd
    last row or column is repeated (the grid stays put); the two-step box filter differs from the one-step
    one by about one grey level."""
    fold = 1
    while scale * fold < 0.5 and min(region.shape[:2]) >= 4:
        h, w = region.shape[:2]
        if h % 2 or w % 2:
            region = cv2.copyMakeBorder(region, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
        region = cv2.resize(region, (region.shape[1] // 2, region.shape[0] // 2), interpolation=cv2.INTER_AREA)
        fold *= 2
    return region, fold


def paste_back(
    frame: np.ndarray,
    face_image: np.ndarray,
    matrix: np.ndarray,
    mask: np.ndarray | None = None,
    inplace: bool = False,
    interpolation: int = cv2.INTER_CUBIC,
) -> np.ndarray:
    """Blend a (processed) crop back into the frame it was aligned from.

    Args:
        frame: (H, W, C) uint8 frame the crop came from.
        face_image: (S, S, C) uint8 crop (same size as when aligned).
        matrix: (2, 3) frame -> crop matrix from `align_face`.
        mask: (S, S) float in [0, 1] or uint8 in [0, 255], in crop coordinates; where to take the crop.
            None = the whole crop square.
        inplace: write into `frame` instead of a copy.
        interpolation: OpenCV interpolation for the crop (bicubic keeps an unmodified round trip within
            one gray level at crop scales >= 1).

    Returns:
        (H, W, C) uint8 frame with the face blended in.
    """
    out = frame if inplace else frame.copy()
    s = face_image.shape[0]
    if face_image.shape[1] != s:
        raise ValueError(f"face_image must be square, got {face_image.shape}")
    m = np.asarray(matrix, dtype=np.float64)
    inv = invert_affine(m)
    corners = transform_points(np.array([[0, 0], [s, 0], [0, s], [s, s]], float), inv)
    h, w = frame.shape[:2]
    x0 = max(int(np.floor(corners[:, 0].min())) - 1, 0)
    y0 = max(int(np.floor(corners[:, 1].min())) - 1, 0)
    x1 = min(int(np.ceil(corners[:, 0].max())) + 2, w)
    y1 = min(int(np.ceil(corners[:, 1].max())) + 2, h)
    if x1 <= x0 or y1 <= y0:
        return out
    # crop -> region transform (region origin at x0, y0)
    inv_r = inv.copy()
    inv_r[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(face_image, inv_r, size, flags=interpolation, borderMode=cv2.BORDER_REPLICATE)
    if mask is None:
        alpha_src = np.ones((s, s), np.float32)
    else:
        alpha_src = mask.astype(np.float32) / (255.0 if mask.dtype == np.uint8 else 1.0)
        if alpha_src.shape != (s, s):
            raise ValueError(f"mask must be ({s}, {s}), got {mask.shape}")
    alpha = cv2.warpAffine(alpha_src, inv_r, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    region = out[y0:y1, x0:x1].astype(np.float32)
    if warped.ndim == 2:
        warped = warped[..., None]
    a = alpha[..., None] if region.ndim == 3 else alpha
    blended = region + (warped.astype(np.float32).reshape(region.shape) - region) * a
    out[y0:y1, x0:x1] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out
