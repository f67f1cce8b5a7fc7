"""The scan loop: `scan_file` (one source) and `scan_paths` (videos, images, folders and live sources).

`scan_file` in steps: the resources of a scan (face detector, torch threads, the inference worker) →
open the source → the annotation writer → the frame feed (prefetching, or realtime pacing) → the frames
through a `scanner.FrameScanner` → truncation check → the provenance check → `FileScan.finish`.

Example:
    >>> from deepfake_lab.pipelines.scan import load_detector, scan_file
    >>> scan_file("clip.mp4", load_detector()).verdict  # doctest: +SKIP
    'authentic'
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_lab.errors import BadInputError
from deepfake_lab.faces.detect import FaceDetector, create_detector
from deepfake_lab.faces.track import FaceAnalyzer
from deepfake_lab.pipelines.callbacks import ScanProgress
from deepfake_lab.pipelines.scan.annotate import annotation_path, draw_annotations, open_annotation, write_image
from deepfake_lab.pipelines.scan.detector import Detector
from deepfake_lab.pipelines.scan.early import take_frames
from deepfake_lab.pipelines.scan.options import OptionError, Ref, ScanOptions
from deepfake_lab.pipelines.scan.provenance_check import ProvenanceCheck, start_provenance_check
from deepfake_lab.pipelines.scan.result import FileScan, ScanResult, verdict_band
from deepfake_lab.pipelines.scan.scanner import FrameScanner
from deepfake_lab.pipelines.scan.writers import check_output
from deepfake_lab.video.discover import collect_sources
from deepfake_lab.video.feed import Prefetcher, RealtimeFeed
from deepfake_lab.video.image import IMAGE_EXTENSIONS
from deepfake_lab.video.live import LiveReader, is_live_source
from deepfake_lab.video.reader import Frame, MediaInfo, MediaReader, open_media
from deepfake_lab.video.writer import VideoWriter

__all__ = ["info_dict", "scan_file", "scan_paths"]


def info_dict(info: MediaInfo) -> dict[str, Any]:
    """The `info` object of a file in the scan document."""
    return {
        "width": info.width,
        "height": info.height,
        "fps": round(float(info.fps), 4),
        "frame_count": info.frame_count,
        "duration": None if info.duration is None else round(float(info.duration), 4),
        "codec": info.codec,
    }


PREFETCH = 8
"""Decoded frames waiting for the scan (a prestarted file holds up to `early.EARLY_BYTES` of them until then)."""

SCAN_WORKERS = 2
"""Threads that align and score batches of faces beside the main thread (decoding hand-off, face finding), so
alignment no longer waits on the main thread (measured: benchmarks/RESULTS.md, start-up runs of 2026-12-01)."""


@dataclass
class _Run:
    """What the steps of one `scan_file` share."""

    res: FileScan
    model: Detector
    opt: ScanOptions
    progress: ScanProgress
    live: bool
    annotate: Path | None
    provenance: ProvenanceCheck | None = None


def scan_file(
    source: str | Path,
    model: Detector,
    options: ScanOptions | None = None,
    *,
    detector: FaceDetector | None = None,
    annotate: str | Path | None = None,
    progress: ScanProgress | None = None,
    provenance: bool = True,
    option_names: Callable[[str], str] = str,
) -> FileScan:
    """Scan one video, image, image folder/sequence or live source.

    Args:
        source: a path, or a stream URL / capture device (see `is_live_source`).
        model: the loaded detector (`load_detector`); its precision should be chosen already.
        options: `ScanOptions`.
        detector: a ready face detector (default: MediaPipe, created and closed here).
        annotate: write the frames with boxes and percentages here (.mp4/.mov/.mkv for videos, an image
            suffix for images; the source's audio is kept).
        progress: callbacks.
        provenance: look for provenance findings (watermark / C2PA) when that module is installed.
        option_names: how the file's error message names an option (`OptionError.render`); default: its
            field name (the CLI passes its flags).

    Returns:
        `FileScan`; a bad source gives status "error" and a one-line `message` (no exception).

    Raises:
        KeyboardInterrupt: re-raised for files (the result so far is lost); a live source ends cleanly.
    """
    opt = options or ScanOptions()
    opt.validate()
    band = verdict_band(model.card, opt)
    src = str(source)
    live = is_live_source(src)
    checking = start_provenance_check(Path(src)) if provenance and not live and Path(src).is_file() else None
    run = _Run(FileScan(source=src), model, opt, progress or ScanProgress(), live,
               None if annotate is None else Path(annotate), checking)  # fmt: skip
    t0 = time.perf_counter()
    try:
        with _resources(opt, detector) as (det, pool):
            _scan_source(run, det, pool)
    except OptionError as exc:
        run.res.status, run.res.message = "error", exc.render(option_names)
    except BadInputError as exc:
        run.res.status, run.res.message = "error", str(exc)
    finally:
        if checking is not None:
            checking.end()  # the sample is complete (or the scan failed / was interrupted)
    res = run.res
    if res.status == "error" and res.frames:
        res.status = "partial"
    res.seconds = time.perf_counter() - t0  # the scan itself; the provenance check ran beside it
    if checking is not None and res.status != "error":
        res.provenance = checking.result()
    res.finish(opt, band)
    run.progress.file_finished(res)
    return res


@contextlib.contextmanager
def _resources(
    opt: ScanOptions, detector: FaceDetector | None
) -> Iterator[tuple[FaceDetector, ThreadPoolExecutor]]:
    """The face detector (the given one, or a MediaPipe one closed afterwards), `opt.threads` torch threads
    (restored afterwards; only when the detector runs on torch) and the `SCAN_WORKERS`-thread pool that
    aligns and scores the faces."""
    det = detector or create_detector("mediapipe", model_range=opt.model_range)
    torch = sys.modules.get("torch")  # loaded only when the detector runs on torch (not on ONNX Runtime)
    prev_threads = torch.get_num_threads() if torch is not None else 0
    if torch is not None:
        torch.set_num_threads(opt.threads)
    pool = ThreadPoolExecutor(max_workers=SCAN_WORKERS, thread_name_prefix="scan-infer")
    try:
        yield det, pool
    finally:
        pool.shutdown(wait=True)
        if torch is not None:
            torch.set_num_threads(prev_threads)
        if detector is None:
            det.close()


def _scan_source(run: _Run, det: FaceDetector, pool: ThreadPoolExecutor) -> None:
    """Open the source, scan its frames into `run.res`, write the annotated output, check for truncation."""
    res, opt = run.res, run.opt
    early = None if run.live or opt.realtime else take_frames(res.source, opt.every)
    reader: MediaReader = (
        early[0] if early is not None else LiveReader(res.source) if run.live else open_media(res.source)
    )
    with reader, contextlib.ExitStack() as feeds:  # every path stops decoding before the reader closes
        if early is not None:
            feeds.callback(early[1].close)
        info = reader.info
        res.kind, res.info = ("live" if run.live else info.kind), info_dict(info)
        is_image = info.kind == "image"
        with _annotation_writer(run, info) as writer:
            expected = _expected_frames(info, opt)
            run.progress.file_started(res.source, info, expected)
            if run.provenance is not None:
                run.provenance.plan(expected, info.fps)
            analyzer = FaceAnalyzer(det, detect_every=1, max_faces=opt.max_faces)
            det.ensure_loaded()  # before frames start to flow (realtime: loading would count as latency)
            feed: Prefetcher | RealtimeFeed
            if opt.realtime and not is_image:
                feed = feeds.enter_context(RealtimeFeed(reader.iter_frames(opt.every), opt.max_latency, pace=True))
            elif early is not None:  # decoding since the CLI started: the frames waiting stay, no more are added
                feed = early[1]
                feed.limit(PREFETCH)
            else:
                feed = feeds.enter_context(Prefetcher(reader.iter_frames(opt.every), depth=PREFETCH))
            scanner = FrameScanner(run.model, analyzer, opt, res, run.progress, pool, writer, exhaustive=is_image,
                                   workers=SCAN_WORKERS)  # fmt: skip
            stopped, first = _run_frames(run, scanner, feed)
            feeds.close()
            if not res.frames:
                raise BadInputError(f"{res.source}: no decodable frames")
            res.suspicious = scanner.suspicious()
            if run.annotate is not None and is_image:
                write_image(run.annotate, draw_annotations(first, res.frames[0]))  # type: ignore[arg-type]
            if run.annotate is not None:
                res.annotated = str(run.annotate)
        problem = None if stopped else reader.incomplete()
        if problem:
            res.status, res.message = "partial", f"{res.source}: {problem} (the decodable frames were scanned)"


def _expected_frames(info: MediaInfo, opt: ScanOptions) -> int | None:
    """Frames the scan will process (for the progress bar), None when unknown (live sources)."""
    total = None if info.frame_count is None else -(-info.frame_count // opt.every)
    if opt.max_seconds is not None and info.fps and total is not None:
        total = min(total, int(np.ceil(opt.max_seconds * info.fps / opt.every)))
    return total


@contextlib.contextmanager
def _annotation_writer(run: _Run, info: MediaInfo) -> Iterator[VideoWriter | None]:
    """The annotated video's writer (None for images or without `annotate`); closed at the end, and removed
    when nothing was scanned into it."""
    if run.annotate is None:
        yield None
        return
    writer = open_annotation(run.annotate, run.res.source, info, run.live)
    try:
        yield writer
    finally:
        if writer is not None:
            writer.close()
            if run.res.annotated is None:  # nothing scanned: do not leave an empty video behind
                run.annotate.unlink(missing_ok=True)


def _run_frames(run: _Run, scanner: FrameScanner, feed: Prefetcher | RealtimeFeed) -> tuple[bool, Any]:
    """Feed the frames to the scanner until the source ends, `max_seconds`, a cancel or (live) Ctrl-C.

    Returns:
        (stopped early by `max_seconds`, the first frame's image when an image is annotated else None).
    """
    opt, res = run.opt, run.res
    keep_first = run.annotate is not None and res.kind == "image"
    first: Any = None
    stopped = False
    dropped: Callable[[], int] = (lambda: feed.dropped) if isinstance(feed, RealtimeFeed) else (lambda: 0)
    try:
        for frame in _until_limit(feed, opt, run.progress):
            if frame is None:
                stopped = True
                break
            if keep_first and first is None:
                first = frame.image
            scanner.push(frame)
            if run.provenance is not None:
                run.provenance.offer(frame)
            res.frames_dropped = dropped()
        scanner.end()
    except KeyboardInterrupt:
        if not run.live:
            raise
        scanner.end()
        res.status, res.message = "ok", "stopped by the user"
    finally:
        res.frames_dropped = dropped()
    return stopped, first


def _until_limit(frames: Iterable[Frame], opt: ScanOptions, progress: ScanProgress) -> Iterator[Frame | None]:
    """The frames up to `opt.max_seconds` (then None, once) or until the progress asks to cancel."""
    for frame in frames:
        if opt.max_seconds is not None and frame.time > opt.max_seconds + 1e-6:
            yield None
            return
        if progress.cancelled():
            return
        yield frame


def _sources(inputs: Iterable[str | Path]) -> list[tuple[str, Path | None, str]]:
    """(raw input, path or None for a live source, error message or "") per source, in input order; folders
    are expanded (`extract.collect_sources`)."""
    items: list[tuple[str, Path | None, str]] = []
    plain: list[str | Path] = []
    for raw in inputs:
        if is_live_source(str(raw)):
            if plain:
                items.extend(collect_sources(plain))
                plain = []
            items.append((str(raw), None, ""))
        else:
            plain.append(raw)
    if plain:
        items.extend(collect_sources(plain))
    return items


def _annotation_targets(
    items: list[tuple[str, Path | None, str]], annotate: str | Path | None, overwrite: bool
) -> dict[int, Path]:
    """Index of a source → its annotated output; refuses outputs that would replace an input or a file that
    is not an earlier scan output."""
    if annotate is None:
        return {}
    ann, many = Path(annotate), len(items) > 1
    if many:
        if ann.suffix and not ann.is_dir():
            raise OptionError(Ref("annotate"), f" {ann}: with several inputs give a folder for the annotated files")
        ann.mkdir(parents=True, exist_ok=True)
    inputs_resolved = {p.resolve() for _, p, _ in items if p is not None}
    targets: dict[int, Path] = {}
    for i, (raw, path, error) in enumerate(items):
        if error:
            continue
        kind = "image" if path is not None and path.suffix.lower() in IMAGE_EXTENSIONS else "video"
        targets[i] = annotation_path(ann, str(path) if path is not None else raw, kind, many)
        if targets[i].resolve() in inputs_resolved:
            raise OptionError(Ref("annotate"), " must not overwrite an input")
        check_output(targets[i], overwrite, Ref("annotate"))
    return targets


def scan_paths(
    inputs: Iterable[str | Path],
    model: Detector,
    options: ScanOptions | None = None,
    *,
    annotate: str | Path | None = None,
    progress: ScanProgress | None = None,
    provenance: bool = True,
    on_file: Callable[[FileScan], None] | None = None,
    overwrite: bool = False,
    option_names: Callable[[str], str] = str,
) -> ScanResult:
    """Scan videos, images, folders (recursively) and live sources; bad ones become "error" entries.

    Args:
        inputs: paths, folders, stream URLs or capture devices.
        model: loaded detector (`load_detector`); `options.precision` is applied to it here.
        options: `ScanOptions`.
        annotate: with one source, the annotated output file; with several, a folder that receives
            `<stem>.annotated.mp4` (or the image suffix) per source.
        progress: callbacks.
        provenance: look for provenance findings per file.
        on_file: called with each finished `FileScan`.
        overwrite: replace existing annotated files even when they are not earlier scan outputs.
        option_names: how per-file error messages name options (see `scan_file`).

    Returns:
        `ScanResult` (use `.to_dict()` for the JSON document).

    Raises:
        BadInputError: unusable options or output locations (`OptionError` naming the option).
        KeyboardInterrupt: Ctrl-C during the first source (later: the result so far, `interrupted=True`).
    """
    opt = options or ScanOptions()
    opt.validate()
    band = verdict_band(model.card, opt)  # a bad card calibration fails before any scanning
    progress = progress or ScanProgress()
    items = _sources(inputs)
    targets = _annotation_targets(items, annotate, overwrite)
    model.choose_precision(opt.precision, batch=min(opt.batch_size, 16))
    progress.sources_found(len(items))
    files: list[FileScan] = []
    interrupted = False
    with create_detector("mediapipe", model_range=opt.model_range) as det:
        for i, (raw, path, error) in enumerate(items):
            if error:
                res = FileScan(source=raw, status="error", message=error)
                res.finish(opt, band)
                progress.file_finished(res)
            else:
                src = str(path) if path is not None else raw
                try:
                    res = scan_file(src, model, opt, detector=det, annotate=targets.get(i), progress=progress,
                                    provenance=provenance, option_names=option_names)  # fmt: skip
                except KeyboardInterrupt:
                    if not files:
                        raise
                    interrupted = True  # keep what is finished; the file in progress is dropped
                    break
            files.append(res)
            if on_file is not None:
                on_file(res)
    return ScanResult(files=files, model=model, options=opt, interrupted=interrupted)
