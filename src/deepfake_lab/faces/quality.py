"""Quality measures and filters for extracted faces: size, sharpness, detector confidence, pose."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from deepfake_lab.faces.types import Face

__all__ = ["blur_score", "yaw_ratio", "QualityFilter"]


def blur_score(image: np.ndarray, size: int = 128) -> float:
    """Sharpness: variance of the Laplacian of the central 70 % of the image, resized to `size` first so that
    scores of crops of any size compare. Sharp faces score ~100-1000, blurred ones < 20.

    Args:
        image: (H, W, 3) uint8 RGB or (H, W) gray crop.
        size: working resolution.

    Returns:
        Non-negative float.
    """
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    if gray.shape[0] != size or gray.shape[1] != size:
        interp = cv2.INTER_AREA if gray.shape[0] > size else cv2.INTER_LINEAR
        gray = cv2.resize(gray, (size, size), interpolation=interp)
    b = int(round(size * 0.15))
    centre = gray[b : size - b, b : size - b]
    # cv2.meanStdDev: ~1.8x faster than ndarray.var() (the scan measures every face it scores)
    _, sd = cv2.meanStdDev(cv2.Laplacian(centre, cv2.CV_32F))
    return float(sd[0, 0]) ** 2


def yaw_ratio(face: Face) -> float:
    """Signed head turn proxy in [-1, 1]: 0 frontal, ±1 full profile (from the nose-to-eye distances)."""
    p5 = face.landmarks5
    d_left = float(np.linalg.norm(p5[2] - p5[0]))
    d_right = float(np.linalg.norm(p5[2] - p5[1]))
    return (d_left - d_right) / max(d_left + d_right, 1e-6)


@dataclass
class QualityFilter:
    """Thresholds a face must pass to be kept.

    Args:
        min_size: minimum face size (longer side of the landmark box) in source pixels.
        min_score: minimum detector confidence.
        min_blur: minimum `blur_score` of the aligned crop (0 = keep blurred faces).
    """

    min_size: float = 0.0
    min_score: float = 0.0
    min_blur: float = 0.0

    def check_face(self, face: Face) -> str | None:
        """Reason for rejecting the face before alignment ("size", "score"), or None."""
        if face.size < self.min_size:
            return "size"
        if face.score < self.min_score:
            return "score"
        return None

    def check_crop(self, crop: np.ndarray) -> tuple[str | None, float]:
        """("blur" or None, blur score) for an aligned crop."""
        score = blur_score(crop)
        return ("blur" if score < self.min_blur else None), score
