"""The frame loop of one source: key-frame face analysis, landmarks interpolated in between (faces entering or
leaving followed with the detector's `track` hook), faces batched, then aligned and scored on worker
threads, the most suspicious crops kept, the annotated frames written in order.

`FrameScanner.push(frame)` for each decoded frame, then `end()`; the scored `FrameScore`s land in the
`FileScan` in frame order (see `core.scan_file`).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from deepfake_lab.faces.align import align_face
from deepfake_lab.faces.detect import FaceDetector
from deepfake_lab.faces.quality import blur_score
from deepfake_lab.faces.track import FaceAnalyzer
from deepfake_lab.faces.types import Face, landmark_box
from deepfake_lab.metrics.detection import aggregate
from deepfake_lab.pipelines.callbacks import ScanProgress
from deepfake_lab.pipelines.scan.annotate import draw_annotations
from deepfake_lab.pipelines.scan.detector import Detector
from deepfake_lab.pipelines.scan.options import ScanOptions
from deepfake_lab.pipelines.scan.result import FaceScore, FileScan, FrameScore, Suspicious
from deepfake_lab.video.reader import Frame
from deepfake_lab.video.writer import VideoWriter

__all__ = ["FrameScanner", "between_faces"]


def between_faces(
    detector: FaceDetector, frames: list[Frame], a: list[Face], b: list[Face], t0: float, t1: float
) -> list[list[tuple[int, np.ndarray]]]:
    """(track, mesh) per face for each frame between a key frame at `t0` with faces `a` and one at `t1` with `b`.

    A track seen at both key frames: landmarks interpolated linearly in time. A track seen at one key frame
    only (a face leaving or entering): followed frame by frame from that key frame with the detector's
    `track` hook (landmarks on the previous box) until it is lost.
    """
    fa = {f.track_id: f for f in a if f.mesh is not None}
    fb = {f.track_id: f for f in b if f.mesh is not None}
    out: list[dict[int, np.ndarray]] = [{} for _ in frames]
    span = max(t1 - t0, 1e-6)
    for k, fr in enumerate(frames):
        alpha = (fr.time - t0) / span
        if not 0.0 <= alpha <= 1.0:  # odd timestamps: fall back to the position
            alpha = (k + 1) / (len(frames) + 1)
        for tid in fa.keys() & fb.keys():
            out[k][tid] = (1 - alpha) * fa[tid].mesh + alpha * fb[tid].mesh  # type: ignore[operator]
    for tid in fa.keys() - fb.keys():  # leaving: follow forwards
        cur = fa[tid]
        for k, fr in enumerate(frames):
            found = detector.track(fr.image, [cur])
            if not found:
                break
            cur = found[0]
            out[k][tid] = cur.mesh  # type: ignore[assignment]
    for tid in fb.keys() - fa.keys():  # entering: follow backwards
        cur = fb[tid]
        for k in range(len(frames) - 1, -1, -1):
            found = detector.track(frames[k].image, [cur])
            if not found:
                break
            cur = found[0]
            out[k][tid] = cur.mesh  # type: ignore[assignment]
    return [sorted(d.items()) for d in out]


@dataclass
class _Face:
    """A face to align and score on a worker: the frame it is in (dropped once aligned), its landmarks, where
    its score goes."""

    image: np.ndarray | None
    mesh: np.ndarray
    score: FaceScore
    rec: FrameScore


@dataclass
class _Pending:
    """A frame whose faces are known and whose crops wait for the detector."""

    rec: FrameScore
    image: np.ndarray | None  # kept only for annotation


class FrameScanner:
    """Scan of one source: key-frame analysis, interpolation, batching, asynchronous inference.

    Args:
        model: the detector; its `predict` runs on `pool` ((N, S, S, 3) uint8 crops → (N,) probabilities),
            after the faces of the batch were aligned there too (both release the GIL, so the main thread
            goes on decoding and finding faces).
        analyzer: face detection + landmarks (+ track ids) of one frame.
        opt: the scan options (`detect_every`, `batch_size`, `batch_megabytes`, limits, `keep_suspicious`,
            `realtime`).
        result: the `FileScan` that receives the scored frames, in order.
        progress: told about every batch of finished frames.
        pool: the executor that aligns and scores batches (one batch per worker at a time; results are
            collected in frame order); `workers`: its number of threads.
        annotate: writer of the annotated video (frames are kept until their batch is scored), or None.
        exhaustive: passed to the face detector (True for still photos: slower, finds more faces).
    """

    def __init__(
        self,
        model: Detector,
        analyzer: FaceAnalyzer,
        opt: ScanOptions,
        result: FileScan,
        progress: ScanProgress,
        pool: ThreadPoolExecutor,
        annotate: VideoWriter | None,
        exhaustive: bool,
        workers: int = 1,
    ) -> None:
        self.model, self.analyzer, self.opt, self.res = model, analyzer, opt, result
        self.progress, self.pool, self.writer = progress, pool, annotate
        self.exhaustive = exhaustive
        self.key_faces: list[Face] | None = None
        self.key_time = 0.0
        self.between: list[Frame] = []
        self.faces: list[_Face] = []
        self.batch_frames: list[_Pending] = []
        self.batch_bytes = 0  # decoded frames the waiting faces hold in memory
        self.inflight: deque[tuple[Future[list[tuple[_Face, np.ndarray, float]]], list[_Pending]]] = deque()
        self.workers = workers
        self.depth = workers + 1  # batches in flight: one per worker, one queued
        self.n = 0
        self.sus: list[tuple[float, int, Suspicious]] = []
        self._tie = itertools.count()
        self.flush_wait = 0.1 if opt.realtime else None
        self.oldest = 0.0

    # -- frames in ------------------------------------------------------------------------------------
    def push(self, frame: Frame) -> None:
        is_key = self.opt.detect_every == 1 or self.n % self.opt.detect_every == 0 or self.key_faces is None
        self.n += 1
        if is_key:
            self._key(frame)
        else:
            self.between.append(frame)

    def end(self) -> None:
        """Source ended: the last waiting frame becomes a key frame; everything is scored."""
        if self.between:
            last = self.between.pop()
            self._key(last)
        self._flush(final=True)
        while self.inflight:
            self._collect()

    def _faces(self, image: np.ndarray) -> list[Face]:
        faces = [f for f in self.analyzer(image, self.exhaustive) if f.mesh is not None]
        return [f for f in faces if f.size >= self.opt.min_size]

    def _key(self, frame: Frame) -> None:
        faces = self._faces(frame.image)
        if self.between:
            det = self.analyzer.detector
            per_frame = between_faces(det, self.between, self.key_faces or [], faces, self.key_time, frame.time)
            for fr, found in zip(self.between, per_frame, strict=True):
                self._emit(fr, [(t, m, True) for t, m in found])
            self.between = []
        self._emit(frame, [(f.track_id, f.mesh, False) for f in faces])  # type: ignore[misc]
        self.key_faces, self.key_time = faces, frame.time

    def _emit(self, frame: Frame, faces: list[tuple[int, np.ndarray, bool]]) -> None:
        rec = FrameScore(index=frame.index, time=float(frame.time))
        n_faces = len(self.faces)
        for tid, mesh, tracked in faces:
            box = tuple(float(v) for v in landmark_box(mesh))
            fs = FaceScore(track=int(tid), box=box, tracked=tracked)  # type: ignore[arg-type]
            rec.faces.append(fs)
            if max(box[2] - box[0], box[3] - box[1]) < self.opt.min_face_size:
                fs.reason = "face_too_small"  # not aligned, not scored
                continue
            self.faces.append(_Face(frame.image, mesh, fs, rec))
        if not self.batch_frames:
            self.oldest = time.perf_counter()
        keep = self.writer is not None
        if keep or len(self.faces) > n_faces:
            self.batch_bytes += frame.image.nbytes
        self.batch_frames.append(_Pending(rec, frame.image if keep else None))
        full = (
            len(self.faces) >= self.opt.batch_size
            or len(self.batch_frames) >= 2 * self.opt.batch_size
            or self.batch_bytes >= self.opt.batch_megabytes * 2**20
        )
        late = self.flush_wait is not None and time.perf_counter() - self.oldest > self.flush_wait
        if full or late:
            self._flush()

    # -- inference ------------------------------------------------------------------------------------
    def _score(self, faces: list[_Face]) -> list[tuple[_Face, np.ndarray, float]]:
        """On a worker: align each face (at the card's size, resized to the model input like its training
        crops), gate on sharpness, score the sharp ones in one batch → (face, crop, probability) per scored face."""
        s, m = self.model.crop_size, self.model.margin
        kept: list[tuple[_Face, np.ndarray]] = []
        for f in faces:
            big = None
            assert f.image is not None, "a face is aligned once"
            if self.model.align_size:
                big = align_face(f.image, f.mesh, self.model.align_size, m).image
                crop = np.asarray(Image.fromarray(big).resize((s, s), Image.BILINEAR))
            else:
                crop = align_face(f.image, f.mesh, s, m).image
            f.image = None  # the frame can go before the batch is collected (unless annotation keeps it)
            f.score.sharpness = blur_score(big if big is not None else crop)
            if f.score.sharpness < self.opt.min_sharpness:
                f.score.reason = "face_too_blurry"
                continue
            kept.append((f, crop))
        if not kept:
            return []
        probs = self.model.predict(np.stack([c for _, c in kept]))
        return [(f, c, float(p)) for (f, c), p in zip(kept, probs, strict=True)]

    def _flush(self, final: bool = False) -> None:
        if not self.batch_frames:
            return
        for faces, frames in self._parts(self.workers if final else 1):
            self.inflight.append((self.pool.submit(self._score, faces), frames))
        self.faces, self.batch_frames, self.batch_bytes = [], [], 0
        # batches on the workers while the next one is prepared; annotation holds frames: keep it at one
        limit = 1 if self.writer is not None or self.opt.realtime else self.depth
        while len(self.inflight) > limit or (final and self.inflight):
            self._collect()

    def _parts(self, n: int) -> list[tuple[list[_Face], list[_Pending]]]:
        """The waiting frames cut into `n` runs of consecutive frames with about as many faces each, with their
        faces (the last batch of a file goes to every worker instead of one)."""
        if n <= 1 or len(self.faces) < 2 * n:
            return [(self.faces, self.batch_frames)]
        per = -(-len(self.faces) // n)
        parts: list[tuple[list[_Face], list[_Pending]]] = []
        faces: list[_Face] = []
        frames: list[_Pending] = []
        by_rec: dict[int, list[_Face]] = {}
        for f in self.faces:
            by_rec.setdefault(id(f.rec), []).append(f)
        for p in self.batch_frames:
            frames.append(p)
            faces.extend(by_rec.get(id(p.rec), []))
            if len(faces) >= per and len(parts) < n - 1:
                parts.append((faces, frames))
                faces, frames = [], []
        if frames:
            parts.append((faces, frames))
        return parts

    def _collect(self) -> None:
        fut, frames = self.inflight.popleft()
        for f, crop, p in fut.result():
            f.score.prob = p
            self._keep(f.score, f.rec, crop)
        recs = [p.rec for p in frames]
        self.res.frames.extend(recs)
        if self.writer is not None:
            for p in frames:
                self.writer.write(draw_annotations(p.image, p.rec), time=p.rec.time)  # type: ignore[arg-type]
        self.progress.frames_done(recs, self._running(), self.res.frames_dropped)

    def _keep(self, fs: FaceScore, rec: FrameScore, crop: np.ndarray) -> None:
        if self.opt.keep_suspicious <= 0:
            return
        item = (fs.prob, next(self._tie), Suspicious(fs.prob, rec.index, rec.time, fs.track, crop))
        if len(self.sus) < self.opt.keep_suspicious:
            heapq.heappush(self.sus, item)
        elif fs.prob > self.sus[0][0]:
            heapq.heapreplace(self.sus, item)

    def _running(self) -> float | None:
        probs = [f.prob for fr in self.res.frames[-300:] for f in fr.faces if f.evaluated]
        return aggregate(np.array(probs), self.opt.aggregation) if probs else None

    def suspicious(self) -> list[Suspicious]:
        return [s for _, _, s in sorted(self.sus, key=lambda x: (-x[0], x[1]))]


