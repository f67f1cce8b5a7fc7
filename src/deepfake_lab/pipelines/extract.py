"""Extract aligned faces from videos, photos and folders into a faceset (the "extract" stage).

The orchestration the CLI calls: find the sources (`video.discover`), open each, run the per-frame face
extraction (`faces.extract.FaceExtractor`), write crops and records into the faceset (`data.faceset`, which
documents the folder layout), checkpoint, and report progress.

Re-running on the same folder skips finished sources and resumes an interrupted one from its last
checkpointed frame. Bad inputs are reported (one line each) and do not stop the others.

Example:
    >>> from deepfake_lab.faces.extract import ExtractOptions
    >>> from deepfake_lab.pipelines.extract import extract
    >>> opts = ExtractOptions(size=256, every=2)
    >>> report = extract(["clip.mp4", "photos/"], "faceset", opts)  # doctest: +SKIP
    >>> report.faces, report.frames_without_faces, report.errors  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepfake_lab.data.faceset import FacesetWriter, PngWriter
from deepfake_lab.errors import BadInputError
from deepfake_lab.faces.detect import FaceDetector
from deepfake_lab.faces.extract import ExtractOptions, FaceExtractor
from deepfake_lab.pipelines.callbacks import ExtractProgress
from deepfake_lab.video import MediaReader, Prefetcher, open_media
from deepfake_lab.video.discover import collect_sources

__all__ = ["ExtractReport", "SourceResult", "extract", "source_key"]

_CHECKPOINT_SECONDS = 2.0


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


def source_key(path: Path) -> str:
    """Stable id of a source: hash of its absolute path and size (a changed file is processed again)."""
    st = path.stat()
    return hashlib.sha1(f"{path.resolve()}|{st.st_size}".encode()).hexdigest()[:12]


def _slug(path: Path, key: str) -> str:
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in path.stem)[:48] or "source"
    return f"{stem}-{key[:8]}"


class _SourceRun:
    """Extraction of one source into the faceset."""

    def __init__(
        self,
        path: Path,
        key: str,
        faceset: FacesetWriter,
        extractor: FaceExtractor,
        progress: ExtractProgress,
        writer: PngWriter,
    ) -> None:
        self.path = path
        self.writer = writer
        self.key = key
        self.fs = faceset
        self.fx = extractor
        self.opt = extractor.options
        self.analyzer = extractor.analyzer
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
        problem = reader.incomplete()  # truncated/corrupt file (None for images and complete videos)
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

    def _process(self, image: Any, index: int, t: float) -> int:
        found = self.fx(image, index, t, self.exhaustive)
        self.result.frames_processed += 1
        for why in found.rejected:
            self.result.rejected[why] = self.result.rejected.get(why, 0) + 1
        root = self.fs.root
        for crop in found.crops:
            rel = Path("faces") / self.slug / crop.name
            self.writer.submit(root / rel, crop.image)
            record = {"file": rel.as_posix(), "source": str(self.path), "source_key": self.key, **crop.record}
            if crop.mask is not None:
                mrel = Path("masks") / self.slug / crop.name
                self.writer.submit(root / mrel, crop.mask)
                record["mask"] = mrel.as_posix()
            self.fs.add_face(record)
        if not found.found:
            self.result.frames_without_faces += 1
        self.result.faces += len(found.crops)
        return len(found.crops)


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
    fs = FacesetWriter(out, opt)
    report = ExtractReport(output=out)
    try:
        extractor = FaceExtractor(opt, detector)
    except BaseException:
        fs.close()
        raise
    writer = PngWriter(opt.png_compression)
    progress.sources_found(len(sources))
    try:
        for raw, path, error in sources:
            if path is None:
                res = SourceResult(source=raw, status="error", message=error)
                report.results.append(res)
                progress.source_finished(res)
                continue
            report.results.append(_one_source(path, fs, extractor, progress, writer))
    finally:
        writer.close()
        fs.close()
        extractor.close()
    return report


def _one_source(
    path: Path, fs: FacesetWriter, extractor: FaceExtractor, progress: ExtractProgress, writer: PngWriter
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
    run = _SourceRun(path, key, fs, extractor, progress, writer)
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
