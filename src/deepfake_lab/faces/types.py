"""The `Face` record shared by detectors, trackers, alignment and extraction."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deepfake_lab.faces.landmarks import mesh_to_5, mesh_to_68

__all__ = ["Face", "box_iou", "landmark_box"]


@dataclass
class Face:
    """One face in one frame.

    Attributes:
        bbox: (4,) float32 box x0, y0, x1, y1 in frame pixels; once landmarks are known it is the box of the
            landmarks (so it means the same thing on detection and on tracked frames).
        score: detector confidence in [0, 1] (tracked faces keep the score of their last detection).
        keypoints: (K, 2) float32 coarse detector keypoints in pixels (mediapipe: 6 = right eye, left eye,
            nose tip, mouth centre, right ear, left ear; "right" = the subject's right = image left), or None.
        mesh: (478, 3) float32 dense landmarks (x, y in pixels, z in pixel units, smaller = nearer), or None.
        track_id: track this face belongs to (-1 before tracking).
        tracked: True when the landmarks came from tracking (no detector run on this frame).
        extra: free-form per-detector values (e.g. which model found it).
    """

    bbox: np.ndarray
    score: float
    keypoints: np.ndarray | None = None
    mesh: np.ndarray | None = None
    track_id: int = -1
    tracked: bool = False
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def has_landmarks(self) -> bool:
        """Whether dense landmarks are available."""
        return self.mesh is not None

    @property
    def landmarks68(self) -> np.ndarray:
        """(68, 2) float32 landmarks in the dlib/iBUG-300W convention (needs `mesh`)."""
        if self.mesh is None:
            raise ValueError("face has no dense landmarks")
        return mesh_to_68(self.mesh)

    @property
    def landmarks5(self) -> np.ndarray:
        """(5, 2) float32: eye centres (image left, image right), nose tip, mouth corners (left, right)."""
        if self.mesh is None:
            raise ValueError("face has no dense landmarks")
        return mesh_to_5(self.mesh)

    @property
    def size(self) -> float:
        """Face size in pixels: the longer side of `bbox`."""
        x0, y0, x1, y1 = (float(v) for v in self.bbox)
        return max(x1 - x0, y1 - y0)


def landmark_box(points: np.ndarray) -> np.ndarray:
    """(4,) float32 x0, y0, x1, y1 box of (N, >=2) points."""
    xy = np.asarray(points, dtype=np.float32)[:, :2]
    return np.concatenate([xy.min(0), xy.max(0)]).astype(np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes.

    Args:
        a: (N, 4) boxes x0, y0, x1, y1.
        b: (M, 4) boxes.

    Returns:
        (N, M) float32 IoU matrix.
    """
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)
