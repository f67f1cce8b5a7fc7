"""Extract aligned faces from videos, photos and folders into a faceset (the "extract" stage).

Output folder layout::

    FACESET/
      extract.json     options the faceset was made with (a re-run must use the same ones)
      faces.jsonl      one JSON line per saved face (see `FaceRecord`)
      sources.jsonl    one JSON line per finished source (frames, faces, frames without faces, errors)
      progress.json    checkpoint of the source being processed (exists only while one is unfinished)
      faces/<source>-<key>/<frame>_t<track>.png    aligned RGB crops
      masks/<source>-<key>/<frame>_t<track>.png    face-hull masks (with `save_masks`)

Re-running on the same folder skips finished sources and resumes an interrupted one from its last
checkpointed frame. Bad inputs are reported (one line each) and do not stop the others.

Example:
    >>> from deepfake_lab.pipelines.extract import ExtractOptions, extract
    >>> opts = ExtractOptions(size=256, every=2)
    >>> report = extract(["clip.mp4", "photos/"], "faceset", opts)  # doctest: +SKIP
    >>> report.faces, report.frames_without_faces, report.errors  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np

from deepfake_lab.errors import BadInputError
from deepfake_lab.faces.align import align_face
from deepfake_lab.faces.detect import FaceDetector, create_detector
from deepfake_lab.faces.mask import face_mask
from deepfake_lab.faces.quality import QualityFilter
from deepfake_lab.faces.track import FaceAnalyzer
from deepfake_lab.faces.types import Face
from deepfake_lab.pipelines.callbacks import ExtractProgress
from deepfake_lab.video.feed import Prefetcher
from deepfake_lab.video.image import IMAGE_EXTENSIONS
from deepfake_lab.video.reader import (
    MediaReader,
    VideoReader,
    natural_key,
    open_media,
)

__all__ = [
    "VIDEO_EXTENSIONS",
    "FORMAT_VERSION",
    "ExtractOptions",
    "ExtractProgress",
    "SourceResult",
    "ExtractReport",
    "collect_sources",
    "extract",
    "read_faces_jsonl",
]

FORMAT_VERSION = 1
VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".wmv",
     ".flv", ".3gp", ".ogv", ".mxf", ".y4m"}
)  # fmt: skip
"""Suffixes picked up as videos when a folder is given."""

_CHECKPOINT_SECONDS = 2.0
# Options that change what is written: a re-run into the same faceset must use the same values.
_OUTPUT_OPTIONS = ("size", "margin", "every", "max_faces", "min_size", "min_score", "min_blur", "detector",
                   "model_range", "detect_every", "save_masks")  # fmt: skip


@dataclass
class ExtractOptions:
    """What to extract and how.

    Args:
        size: side of the aligned square crops in pixels (64, 128, 256 ...).
        margin: context around the face square on each side (fraction of its side; see `faces.align`).
        every: process one frame in `every` (1 = all frames).
        max_faces: keep at most this many faces per frame (largest first); None = all.
        min_size: drop faces smaller than this (longer side of the landmark box, source pixels).
        min_score: drop detections below this confidence.
        min_blur: drop crops whose sharpness (`faces.quality.blur_score`) is below this; 0 = keep all.
        detector: registered detector name.
        model_range: MediaPipe detector range: "auto" (short range, full range when needed, both on
            photos), "short", "full" or "both" (see `faces.detect.MediaPipeDetector`).
        detect_every: run the detector on one processed frame in this many and follow landmarks in
            between (faster; 1 = detect on every processed frame).
        save_masks: also write the feathered face-hull mask of each crop.
        png_compression: PNG zlib level 0-9 (speed vs size; lossless either way).
    """

    size: int = 256
    margin: float = 0.2
    every: int = 1
    max_faces: int | None = None
    min_size: float = 32.0
    min_score: float = 0.5
    min_blur: float = 0.0
    detector: str = "mediapipe"
    model_range: str = "auto"
    detect_every: int = 1
    save_masks: bool = False
    png_compression: int = 1

    def validate(self) -> None:
        """Raise `BadInputError` for impossible values."""
        if not 16 <= self.size <= 2048:
            raise BadInputError(f"--size must be in 16..2048, got {self.size}")
        if self.every < 1:
            raise BadInputError(f"--every must be >= 1, got {self.every}")
        if self.detect_every < 1:
            raise BadInputError(f"--detect-every must be >= 1, got {self.detect_every}")
        if self.max_faces is not None and self.max_faces < 1:
            raise BadInputError(f"--max-faces must be >= 1, got {self.max_faces}")
        if self.min_size < 0:
            raise BadInputError(f"--min-size must be >= 0, got {self.min_size}")
        if not -0.2 <= self.margin <= 2.0:
            raise BadInputError(f"--margin must be in -0.2..2, got {self.margin}")
        if not 0.0 <= self.min_score <= 1.0:
            raise BadInputError(f"--min-score must be in 0..1, got {self.min_score}")
        if self.model_range not in ("auto", "short", "full", "both"):
            raise BadInputError(f"--range must be auto, short, full or both, got {self.model_range!r}")


@dataclass
class SourceResult:
    """Outcome for one source.

    Attributes:
        source: the file.
        status: "done"; "partial" (truncated/corrupt file: the decodable frames were processed, then it
            counts as done); "skipped" (done in an earlier run) or "error" (nothing could be processed).
        message: the one-line error for status "error" / "partial".
        frames_processed: frames looked at (after `every`) in this run; `sources.jsonl` has the totals
            over interrupted and resumed runs.
        frames_without_faces: processed frames where no face was found.
        faces: faces saved.
        rejected: faces dropped, by reason ("size", "score", "blur", "max_faces").
        seconds: wall time spent on this source in this run.
    """

    source: str
    status: str
    message: str = ""
    frames_processed: int = 0
    frames_without_faces: int = 0
    faces: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class ExtractReport:
    """Everything `extract` did."""

    output: Path
    results: list[SourceResult] = field(default_factory=list)

    @property
    def errors(self) -> list[SourceResult]:
        """Sources that failed or could only be read in part."""
        return [r for r in self.results if r.status in ("error", "partial")]

    @property
    def faces(self) -> int:
        """Faces saved (in this run)."""
        return sum(r.faces for r in self.results)

    @property
    def frames_processed(self) -> int:
        """Frames processed (in this run)."""
        return sum(r.frames_processed for r in self.results)

    @property
    def frames_without_faces(self) -> int:
        """Processed frames where no face was found (in this run)."""
        return sum(r.frames_without_faces for r in self.results)


# --------------------------------------------------------------------------------------------------------
# Inputs


def collect_sources(inputs: Iterable[str | Path], exclude: Path | None = None) -> list[tuple[str, Path | None, str]]:
    """Expand inputs into sources.

    Folders are searched recursively for videos and images (naturally sorted); files are taken as given,
    whatever their suffix. A missing or unreadable input becomes an error entry instead of raising.

    Args:
        inputs: files and folders.
        exclude: a folder never to descend into (the output faceset).

    Returns:
        (input as given, path or None, error message or "") per source, in order.
    """
    out: list[tuple[str, Path | None, str]] = []
    seen: set[Path] = set()
    excl = exclude.resolve() if exclude is not None else None
    for raw in inputs:
        p = Path(raw)
        if not p.exists():
            out.append((str(raw), None, f"{raw}: no such file or folder"))
            continue
        if p.is_dir():
            if not os.access(p, os.R_OK | os.X_OK):
                out.append((str(raw), None, f"{raw}: folder not readable (permission denied)"))
                continue
            try:
                found = _walk_media(p, excl)
            except PermissionError as exc:
                out.append((str(raw), None, f"{exc.filename or raw}: folder not readable (permission denied)"))
                continue
            if not found:
                out.append((str(raw), None, f"{raw}: no videos or images in this folder"))
            for f in found:
                if f.resolve() not in seen:
                    seen.add(f.resolve())
                    out.append((str(f), f, ""))
        else:
            if p.resolve() not in seen:
                seen.add(p.resolve())
                out.append((str(raw), p, ""))
    return out


def _walk_media(root: Path, exclude: Path | None) -> list[Path]:
    media = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
    found: list[Path] = []

    def onerror(exc: OSError) -> None:
        raise exc

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
        d = Path(dirpath)
        dirnames[:] = sorted(
            (n for n in dirnames if not n.startswith(".") and (exclude is None or (d / n).resolve() != exclude)),
            key=natural_key,
        )
        for name in sorted(filenames, key=natural_key):
            if Path(name).suffix.lower() in media and not name.startswith("."):
                found.append(d / name)
    return found


def source_key(path: Path) -> str:
    """Stable id of a source: hash of its absolute path and size (a changed file is processed again)."""
    st = path.stat()
    return hashlib.sha1(f"{path.resolve()}|{st.st_size}".encode()).hexdigest()[:12]


def _slug(path: Path, key: str) -> str:
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in path.stem)[:48] or "source"
    return f"{stem}-{key[:8]}"


# --------------------------------------------------------------------------------------------------------
# State on disk


def read_faces_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Records of a `faces.jsonl` (a truncated last line, e.g. after a crash, is ignored)."""
    p = Path(path)
    if not p.exists():
        return
    with open(p, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


class _Faceset:
    """Files of an output faceset: options, records, per-source status, checkpoint."""

    def __init__(self, root: Path, options: ExtractOptions) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInputError(f"{root}: cannot create output folder ({exc.strerror})") from None
        if not root.is_dir():
            raise BadInputError(f"{root}: output exists and is not a folder")
        if not os.access(root, os.W_OK):
            raise BadInputError(f"{root}: output folder not writable")
        self.faces_path = root / "faces.jsonl"
        self.sources_path = root / "sources.jsonl"
        self.progress_path = root / "progress.json"
        self._check_options(options)
        self.done: dict[str, dict[str, Any]] = {}
        for rec in read_faces_jsonl(self.sources_path):
            if rec.get("status") == "done" and "key" in rec:
                self.done[rec["key"]] = rec
        self.checkpoint: dict[str, Any] | None = None
        if self.progress_path.exists():
            try:
                self.checkpoint = json.loads(self.progress_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                self.checkpoint = None
        self._clean_records()
        self._faces_fh: TextIO = open(self.faces_path, "a", encoding="utf-8")  # noqa: SIM115

    def _check_options(self, options: ExtractOptions) -> None:
        meta_path = self.root / "extract.json"
        wanted = {k: getattr(options, k) for k in _OUTPUT_OPTIONS}
        if meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                meta = None
            if meta is not None:
                old = meta.get("options", {})
                diff = [k for k in _OUTPUT_OPTIONS if k in old and old[k] != wanted[k]]
                if diff:
                    k = diff[0]
                    raise BadInputError(
                        f"{self.root} was extracted with {k}={old[k]!r} (now {wanted[k]!r}); "
                        "use the same options to resume, or another output folder"
                    )
                return
        elif any(self.root.iterdir()):
            # A non-empty folder that is not a faceset: refuse rather than mix files.
            raise BadInputError(f"{self.root}: folder is not empty and is not a deepfake-lab faceset")
        meta = {"format_version": FORMAT_VERSION, "kind": "deepfake-lab faceset", "options": asdict(options)}
        _atomic_write(meta_path, json.dumps(meta, indent=2))

    def _clean_records(self) -> None:
        """Drop records written after the last checkpoint of an unfinished source (and their files)."""
        if not self.faces_path.exists():
            return
        ck = self.checkpoint or {}
        keep_lines: list[str] = []
        dropped: list[dict[str, Any]] = []
        changed = False
        with open(self.faces_path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    changed = True
                    continue
                key = rec.get("source_key")
                ok = key in self.done or (key == ck.get("key") and rec.get("frame", 0) <= ck.get("last_index", -1))
                if ok:
                    keep_lines.append(line if line.endswith("\n") else line + "\n")
                else:
                    dropped.append(rec)
                    changed = True
        if not changed:
            return
        tmp = self.faces_path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(keep_lines), encoding="utf-8")
        os.replace(tmp, self.faces_path)
        root = self.root.resolve()
        for rec in dropped:
            for k in ("file", "mask"):
                target = (self.root / str(rec.get(k) or "")).resolve()
                if rec.get(k) and target.is_relative_to(root) and target.is_file():
                    target.unlink(missing_ok=True)

    def add_face(self, record: dict[str, Any]) -> None:
        self._faces_fh.write(json.dumps(record, separators=(",", ":")) + "\n")

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        self._faces_fh.flush()
        _atomic_write(self.progress_path, json.dumps(state))

    def finish_source(self, record: dict[str, Any]) -> None:
        self._faces_fh.flush()
        with open(self.sources_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        if record.get("status") == "done":
            self.done[record["key"]] = record
        self.progress_path.unlink(missing_ok=True)
        self.checkpoint = None

    def close(self) -> None:
        self._faces_fh.close()


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------------------
# Extraction


def _round(a: np.ndarray, nd: int = 2) -> list[Any]:
    return np.round(np.asarray(a, dtype=np.float64), nd).tolist()


def _write_png(path: Path, image: np.ndarray, compression: int) -> None:
    """Encode an RGB (or gray) array as PNG and write it atomically."""
    img = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])
    if not ok:
        raise OSError(f"cannot encode {path}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)


class _PngWriter:
    """Writes PNGs on a background thread (OpenCV releases the GIL while encoding), at most `depth` queued."""

    def __init__(self, compression: int, depth: int = 16) -> None:
        self._compression = compression
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="png-writer")
        self._pending: deque[Future[None]] = deque()
        self._depth = depth
        self._dirs: set[Path] = set()

    def submit(self, path: Path, image: np.ndarray) -> None:
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        while len(self._pending) >= self._depth:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(_write_png, path, image, self._compression))

    def drain(self) -> None:
        """Wait until everything submitted is on disk (re-raises a write error)."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self._pool.shutdown(wait=True)


class _SourceRun:
    """Extraction of one source into the faceset."""

    def __init__(
        self,
        path: Path,
        key: str,
        faceset: _Faceset,
        options: ExtractOptions,
        analyzer: FaceAnalyzer,
        quality: QualityFilter,
        progress: ExtractProgress,
        writer: _PngWriter,
    ) -> None:
        self.path = path
        self.writer = writer
        self.key = key
        self.fs = faceset
        self.opt = options
        self.analyzer = analyzer
        self.quality = quality
        self.progress = progress
        self.slug = _slug(path, key)
        self.result = SourceResult(source=str(path), status="done")
        self.last_index = -1
        self.last_pts: int | None = None
        self.prior: dict[str, Any] = {}  # counts of earlier, interrupted runs on this source
        self.exhaustive = False

    def run(self, reader: MediaReader) -> SourceResult:
        opt = self.opt
        ck = self.fs.checkpoint if self.fs.checkpoint and self.fs.checkpoint.get("key") == self.key else None
        next_track = 0
        if ck is not None:
            self.last_index = int(ck["last_index"])
            self.last_pts = ck.get("last_pts")
            next_track = int(ck.get("next_track_id", 0))
            self.prior = {k: ck.get(k, 0) for k in ("faces", "frames_processed", "frames_without_faces")}
            self.prior["rejected"] = dict(ck.get("rejected", {}))
            reader.resume(self.last_pts, self.last_index)
        self.analyzer.reset(next_track)
        if ck is not None:
            self.analyzer.tracker.restore(ck.get("tracks", []), next_track)
        info = reader.info
        self.exhaustive = info.kind == "image"
        total = -(-info.frame_count // opt.every) if info.frame_count else None
        done_frames = -(-(self.last_index + 1) // opt.every) if self.last_index >= 0 else 0
        self.progress.source_started(self.path, info, total, done_frames)
        t0 = time.perf_counter()
        last_ck = t0
        frames = Prefetcher(reader.iter_frames(opt.every), depth=4)
        try:
            for frame in frames:
                saved = self._process(frame.image, frame.index, frame.time)
                self.last_index, self.last_pts = frame.index, frame.pts
                self.progress.frame_done(1, saved)
                now = time.perf_counter()
                if now - last_ck > _CHECKPOINT_SECONDS:
                    self._checkpoint()
                    last_ck = now
        except KeyboardInterrupt:
            frames.close()
            self._checkpoint()
            raise
        finally:
            frames.close()
            self.writer.drain()
        self.result.seconds = time.perf_counter() - t0
        if self.result.frames_processed == 0 and not self.prior:
            raise BadInputError(f"{self.path}: no decodable frames")
        problem = reader.incomplete() if isinstance(reader, VideoReader) else None
        if problem:
            self.result.status = "partial"
            self.result.message = f"{self.path}: {problem} (faces from the decoded frames were kept)"
        return self.result

    def _checkpoint(self) -> None:
        if self.last_index < 0:
            return
        self.writer.drain()  # files on disk before the checkpoint says so
        self.fs.save_checkpoint(
            {
                "key": self.key,
                "source": str(self.path),
                "last_index": self.last_index,
                "last_pts": self.last_pts,
                "next_track_id": self.analyzer.tracker.next_id,
                "tracks": self.analyzer.tracker.state(),
                **self.totals(),
            }
        )

    def totals(self) -> dict[str, Any]:
        """Counts for the whole source: earlier interrupted runs plus this one."""
        r, p = self.result, self.prior
        rejected = dict(p.get("rejected", {}))
        for k, v in r.rejected.items():
            rejected[k] = rejected.get(k, 0) + v
        return {
            "faces": int(p.get("faces", 0)) + r.faces,
            "frames_processed": int(p.get("frames_processed", 0)) + r.frames_processed,
            "frames_without_faces": int(p.get("frames_without_faces", 0)) + r.frames_without_faces,
            "rejected": rejected,
        }

    def _reject(self, why: str) -> None:
        self.result.rejected[why] = self.result.rejected.get(why, 0) + 1

    def _process(self, image: np.ndarray, index: int, t: float) -> int:
        opt, q = self.opt, self.quality
        faces: list[Face] = self.analyzer(image, self.exhaustive)
        self.result.frames_processed += 1
        saved = 0
        kept: list[Face] = []
        for face in faces:
            why = q.check_face(face)
            if why is not None:
                self._reject(why)
            else:
                kept.append(face)
        if opt.max_faces is not None and len(kept) > opt.max_faces:
            largest = sorted(kept, key=lambda f: -f.size)[: opt.max_faces]
            for _ in range(len(kept) - opt.max_faces):
                self._reject("max_faces")
            kept = [f for f in kept if any(f is g for g in largest)]
        for face in kept:
            aligned = align_face(image, face.mesh, opt.size, opt.margin)  # type: ignore[arg-type]
            why, blur = q.check_crop(aligned.image)
            if why is not None:
                self._reject(why)
                continue
            name = f"{index:06d}_t{face.track_id:03d}.png"
            rel = Path("faces") / self.slug / name
            self.writer.submit(self.fs.root / rel, aligned.image)
            record: dict[str, Any] = {
                "file": rel.as_posix(),
                "source": str(self.path),
                "source_key": self.key,
                "frame": index,
                "time": round(float(t), 4),
                "track": face.track_id,
                "bbox": _round(face.bbox, 1),
                "landmarks": _round(face.landmarks68, 2),
                "landmarks5": _round(face.landmarks5, 2),
                "matrix": _round(aligned.matrix, 6),
                "size": opt.size,
                "scores": {
                    "detector": round(float(face.score), 4),
                    "blur": round(float(blur), 2),
                    "face_size": round(float(face.size), 1),
                },
                "tracked": bool(face.tracked),
            }
            if opt.save_masks:
                mask = face_mask(aligned.to_crop(face.mesh), (opt.size, opt.size), feather=opt.size / 32)  # type: ignore[arg-type]
                mrel = Path("masks") / self.slug / name
                self.writer.submit(self.fs.root / mrel, (mask * 255 + 0.5).astype(np.uint8))
                record["mask"] = mrel.as_posix()
            self.fs.add_face(record)
            saved += 1
        if not faces:
            self.result.frames_without_faces += 1
        self.result.faces += saved
        return saved


def extract(
    inputs: Iterable[str | Path],
    output: str | Path,
    options: ExtractOptions | None = None,
    progress: ExtractProgress | None = None,
    detector: FaceDetector | None = None,
) -> ExtractReport:
    """Extract aligned faces from videos, images and folders into a faceset folder.

    Args:
        inputs: video files, image files and folders (searched recursively).
        output: faceset folder (created; must be empty or an earlier faceset made with the same options).
        options: `ExtractOptions` (defaults if None).
        progress: callbacks for progress display.
        detector: a ready `FaceDetector` to use instead of creating `options.detector`.

    Returns:
        `ExtractReport`; failed sources are in `report.errors` (each with a one-line message) and did not
        stop the others.

    Raises:
        BadInputError: unusable options or output folder.
        KeyboardInterrupt: after saving a checkpoint; calling `extract` again resumes.
    """
    opt = options or ExtractOptions()
    opt.validate()
    out = Path(output)
    progress = progress or ExtractProgress()
    sources = collect_sources(inputs, exclude=out)
    fs = _Faceset(out, opt)
    own_detector = detector is None
    det = detector or create_detector(opt.detector, **_detector_kwargs(opt))
    analyzer = FaceAnalyzer(det, detect_every=opt.detect_every)
    quality = QualityFilter(min_size=opt.min_size, min_score=opt.min_score, min_blur=opt.min_blur)
    report = ExtractReport(output=out)
    writer = _PngWriter(opt.png_compression)
    progress.sources_found(len(sources))
    try:
        for raw, path, error in sources:
            if path is None:
                res = SourceResult(source=raw, status="error", message=error)
                report.results.append(res)
                progress.source_finished(res)
                continue
            report.results.append(_one_source(path, fs, opt, analyzer, quality, progress, writer))
    finally:
        writer.close()
        fs.close()
        if own_detector:
            det.close()
    return report


def _detector_kwargs(opt: ExtractOptions) -> dict[str, Any]:
    if opt.detector == "mediapipe":
        return {"model_range": opt.model_range, "min_score": min(opt.min_score, 0.5)}
    return {}


def _one_source(
    path: Path,
    fs: _Faceset,
    opt: ExtractOptions,
    analyzer: FaceAnalyzer,
    quality: QualityFilter,
    progress: ExtractProgress,
    writer: _PngWriter,
) -> SourceResult:
    try:
        key = source_key(path)
    except OSError as exc:
        res = SourceResult(source=str(path), status="error", message=f"{path}: {exc.strerror or exc}")
        progress.source_finished(res)
        return res
    if key in fs.done:
        res = SourceResult(source=str(path), status="skipped")  # counts are of this run: nothing done
        progress.source_finished(res)
        return res
    run = _SourceRun(path, key, fs, opt, analyzer, quality, progress, writer)
    try:
        with open_media(path) as reader:
            res = run.run(reader)
    except BadInputError as exc:
        res = dataclasses.replace(run.result, status="error", message=str(exc))
        progress.source_finished(res)
        fs.finish_source({"key": key, "source": str(path), "status": "error", "message": str(exc)})
        return res
    fs.finish_source({"key": key, "source": str(path), "status": "done", "message": res.message, **run.totals()})
    progress.source_finished(res)
    return res
