"""Linking faces into tracks across frames, and a video face analyzer that detects every k frames and
follows landmarks in between.

Example:
    >>> analyzer = FaceAnalyzer(create_detector("mediapipe"), detect_every=5)  # doctest: +SKIP
    >>> for frame in reader:  # doctest: +SKIP
    ...     for face in analyzer(frame.image):
    ...         face.track_id, face.bbox, face.mesh.shape
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepfake_lab.faces.detect import FaceDetector
from deepfake_lab.faces.types import Face, box_iou

__all__ = ["FaceTracker", "FaceAnalyzer", "Track", "association_cost"]


@dataclass
class Track:
    """State of one track.

    Attributes:
        track_id: unique id (0, 1, 2, ... in order of appearance).
        last: the most recent face of the track.
        last_step: step (processed-frame counter) at which it was last seen.
        length: number of faces linked so far.
    """

    track_id: int
    last: Face
    last_step: int
    length: int = 1


def _landmark_points(face: Face) -> np.ndarray | None:
    if face.mesh is None:
        return None
    return face.landmarks68


def association_cost(a: Face, b: Face) -> float:
    """Cost of linking face `a` (previous) to face `b` (current); lower is better, inf = impossible.

    Combines box overlap (1 - IoU) and the mean 68-landmark distance relative to face size.
    """
    iou = float(box_iou(a.bbox[None], b.bbox[None])[0, 0])
    la, lb = _landmark_points(a), _landmark_points(b)
    size = max(a.size, b.size, 1.0)
    if la is not None and lb is not None:
        dist = float(np.linalg.norm(la - lb, axis=1).mean()) / size
    else:
        ca = (a.bbox[:2] + a.bbox[2:]) / 2
        cb = (b.bbox[:2] + b.bbox[2:]) / 2
        dist = float(np.linalg.norm(ca - cb)) / size
    if iou < 0.1 and dist > 0.6:
        return float("inf")
    return (1.0 - iou) + dist


class FaceTracker:
    """Assigns `track_id`s to faces frame after frame (greedy matching on `association_cost`).

    Args:
        max_cost: above this cost a face starts a new track instead of continuing one.
        max_age: a track not seen for this many steps is closed.
    """

    def __init__(self, max_cost: float = 1.2, max_age: int = 5) -> None:
        self.max_cost = float(max_cost)
        self.max_age = int(max_age)
        self.tracks: dict[int, Track] = {}
        self._next_id = 0
        self._step = -1

    def reset(self, next_id: int = 0) -> None:
        """Forget all tracks; new ids start at `next_id`."""
        self.tracks.clear()
        self._next_id = next_id
        self._step = -1

    def state(self) -> list[dict[str, object]]:
        """JSON-able snapshot of the live tracks (id, box, score, steps since seen), for checkpoints."""
        return [
            {
                "id": tid,
                "bbox": [round(float(v), 2) for v in tr.last.bbox],
                "score": round(float(tr.last.score), 4),
                "age": self._step - tr.last_step,
                "length": tr.length,
            }
            for tid, tr in sorted(self.tracks.items())
        ]

    def restore(self, state: list[dict[str, object]], next_id: int) -> None:
        """Continue from a `state()` snapshot: tracks continue with their ids (matched by box only)."""
        self.reset(next_id)
        for t in state:
            tid = int(t["id"])  # type: ignore[call-overload]
            face = Face(bbox=np.asarray(t["bbox"], np.float32), score=float(t["score"]), track_id=tid)  # type: ignore[arg-type]
            age = int(t["age"])  # type: ignore[call-overload]
            self.tracks[tid] = Track(tid, face, last_step=-1 - age, length=int(t.get("length", 1)))  # type: ignore[call-overload]
        self._next_id = max([next_id, *(t + 1 for t in self.tracks)])

    @property
    def next_id(self) -> int:
        """Id the next new track will get."""
        return self._next_id

    def update(self, faces: list[Face]) -> list[Face]:
        """Link this step's faces to tracks; sets and returns them with `track_id` filled.

        Faces that already carry a `track_id` of a live track (from landmark tracking) keep it.
        """
        self._step += 1
        step = self._step
        for tid in [t for t, tr in self.tracks.items() if step - tr.last_step > self.max_age]:
            del self.tracks[tid]
        taken: set[int] = set()
        pending: list[int] = []
        for i, f in enumerate(faces):
            if f.track_id in self.tracks and f.track_id not in taken:
                taken.add(f.track_id)
                self._extend(f.track_id, f, step)
            else:
                pending.append(i)
        candidates = [(tid, tr) for tid, tr in self.tracks.items() if tid not in taken and tr.last_step < step]
        pairs = []
        for i in pending:
            for tid, tr in candidates:
                c = association_cost(tr.last, faces[i])
                if c <= self.max_cost:
                    pairs.append((c, i, tid))
        pairs.sort(key=lambda x: x[0])
        used: set[int] = set()
        for _, i, tid in pairs:
            if i in used or tid in taken:
                continue
            used.add(i)
            taken.add(tid)
            faces[i].track_id = tid
            self._extend(tid, faces[i], step)
        for i in pending:
            if i not in used:
                tid = self._next_id
                self._next_id += 1
                faces[i].track_id = tid
                self.tracks[tid] = Track(track_id=tid, last=faces[i], last_step=step)
        return faces

    def _extend(self, tid: int, face: Face, step: int) -> None:
        tr = self.tracks[tid]
        face.track_id = tid
        tr.last, tr.last_step, tr.length = face, step, tr.length + 1

    def live(self, within: int = 1) -> list[Track]:
        """Tracks seen within the last `within` steps (1 = in the latest step)."""
        return [tr for tr in self.tracks.values() if self._step - tr.last_step < within]


class FaceAnalyzer:
    """Faces with landmarks and track ids for consecutive (processed) frames of one video.

    With `detect_every=k > 1` the detector runs on every k-th call (and whenever no face is being followed);
    in between, faces of the previous call are followed with the detector's `track` hook (landmarks only),
    which is faster. New faces therefore appear at the next detection step at the latest.

    Args:
        detector: a `FaceDetector` (loaded lazily).
        detect_every: run full detection every this many calls (1 = every call).
        max_faces: keep at most this many faces per frame (largest first); None = all.
        tracker: the `FaceTracker` to use (default one if None).
    """

    def __init__(
        self,
        detector: FaceDetector,
        detect_every: int = 1,
        max_faces: int | None = None,
        tracker: FaceTracker | None = None,
    ) -> None:
        if detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {detect_every}")
        self.detector = detector
        self.detect_every = int(detect_every)
        self.max_faces = max_faces
        self.tracker = tracker or FaceTracker()
        self._calls = 0
        self.detections_run = 0

    def reset(self, next_track_id: int = 0) -> None:
        """Start a new video (tracks forgotten; ids restart at `next_track_id`)."""
        self.tracker.reset(next_track_id)
        self._calls = 0

    def __call__(self, image: np.ndarray, exhaustive: bool = False) -> list[Face]:
        """Faces of the next frame.

        Args:
            image: (H, W, 3) uint8 RGB.
            exhaustive: passed to the detector (True for still photos: slower, finds more faces).

        Returns:
            Faces with `mesh`, `bbox`, `score`, `track_id`, sorted by track id.
        """
        self.detector.ensure_loaded()
        live = self.tracker.live(within=1)
        detect = self.detect_every == 1 or self._calls % self.detect_every == 0 or not live
        self._calls += 1
        if detect:
            self.detections_run += 1
            faces = self.detector(image, exhaustive)
        else:
            faces = self.detector.track(image, [tr.last for tr in live])
            if not faces:
                self.detections_run += 1
                faces = self.detector(image, exhaustive)
        if self.max_faces is not None and len(faces) > self.max_faces:
            faces = sorted(faces, key=lambda f: -f.size)[: self.max_faces]
        faces = self.tracker.update(faces)
        return sorted(faces, key=lambda f: f.track_id)
