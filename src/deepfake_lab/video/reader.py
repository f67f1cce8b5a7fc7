"""Streaming media readers (PyAV): videos, image sequences and still images as RGB frames.

Frames are decoded one at a time (memory stays flat whatever the length of the file), rotation metadata is
applied, and each frame keeps its own timestamp so variable-frame-rate files keep their timing.

Example:
    >>> from deepfake_lab.video import open_media
    >>> with open_media("clip.mp4") as reader:  # doctest: +SKIP
    ...     print(reader.info.fps, reader.info.frame_count)
    ...     for frame in reader:
    ...         frame.image.shape, frame.index, frame.time  # (H, W, 3) uint8 RGB
"""

from __future__ import annotations

import abc
import glob
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import av.error
import numpy as np
from av.video.reformatter import VideoReformatter

from deepfake_lab.errors import BadInputError
from deepfake_lab.video.image import DEFAULT_MAX_PIXELS, image_size, is_image_path, read_image

__all__ = [
    "Frame",
    "MediaInfo",
    "MediaReader",
    "VideoReader",
    "ImageSequenceReader",
    "open_media",
    "probe",
    "natural_key",
    "media_error_reason",
]

_MAX_DECODE_ERRORS = 50  # packets that fail to decode before a file is declared corrupt


@dataclass(frozen=True)
class MediaInfo:
    """What is known about a media source before decoding it.

    Attributes:
        path: the file (or folder / pattern for an image sequence).
        kind: "video", "image" (one still) or "sequence" (several stills).
        width: displayed width in pixels (after rotation).
        height: displayed height in pixels (after rotation).
        fps: average frame rate (nominal for stills and sequences).
        frame_count: number of frames when the container declares it, else None.
        duration: seconds, when known.
        rotation: degrees counter-clockwise applied to decoded frames to show them upright (0/90/180/270).
        codec: decoder name ("h264", "hevc", "vp9", "mjpeg", "png", ...).
        has_audio: whether the source has an audio stream.
    """

    path: Path
    kind: Literal["video", "image", "sequence"]
    width: int
    height: int
    fps: float
    frame_count: int | None
    duration: float | None
    rotation: int
    codec: str
    has_audio: bool


@dataclass
class Frame:
    """One decoded frame.

    Attributes:
        image: (H, W, 3) uint8 RGB array, upright, C-contiguous.
        index: 0-based position in the source (exact unless the reader was seeked by time).
        time: seconds since the start of the video stream (its own timestamp: VFR timing kept).
        pts: presentation timestamp in the stream's time base (None for stills).
    """

    image: np.ndarray
    index: int
    time: float
    pts: int | None = None


def rgb_converter() -> Callable[[av.VideoFrame], np.ndarray]:
    """A decoded frame -> (H, W, 3) uint8 RGB array, through one swscale context kept for every frame.

    `VideoFrame.to_ndarray(format="rgb24")` sets up a new context per frame (the reformatter lives on the frame):
    about 0.5 ms more per 720p frame for the same pixels (benchmarks/RESULTS.md, 2026-12-01 evening). One
    converter per stream and thread.
    """
    reformatter = VideoReformatter()

    def convert(frame: av.VideoFrame) -> np.ndarray:
        return reformatter.reformat(frame, format="rgb24").to_ndarray()

    return convert


def natural_key(text: str) -> list[object]:
    """Sort key that orders "img2" before "img10"."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", text)]


class MediaReader(abc.ABC):
    """Common interface of all readers: `info`, iteration over `Frame`s, `seek`, `close`, context manager."""

    info: MediaInfo

    def __iter__(self) -> Iterator[Frame]:
        """Yield frames from the current position to the end."""
        return self.iter_frames(1)

    @abc.abstractmethod
    def iter_frames(self, every: int = 1) -> Iterator[Frame]:
        """Yield the frames whose index is a multiple of `every`, from the current position to the end.

        Frames in between are decoded (codecs need them) but not converted to RGB, so a large `every` is
        cheap.
        """

    @abc.abstractmethod
    def seek(self, time: float) -> None:
        """Position the reader so that the next frame yielded is the first with `frame.time >= time`."""

    def resume(self, after_pts: int | None, after_index: int) -> None:
        """Continue after a frame seen earlier (index `after_index`, timestamp `after_pts`): the next frame
        yielded is the one that followed it, with index `after_index + 1`."""
        self.seek((after_index + 1) / self.info.fps)

    def incomplete(self) -> str | None:
        """After reading to the end: why the source looks truncated/corrupt, or None when it looks whole.

        The one shared check behind `detect`, `extract`, `swap` and the web service ("truncated or corrupt:
        decoded 23 of 72 frames"); stills and image sequences are always whole here (their readers fail on a
        bad file instead).
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the file."""

    def __enter__(self) -> MediaReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rot_k(rotation: float) -> int:
    """np.rot90 turns for a counter-clockwise rotation in degrees."""
    return int(round(rotation / 90.0)) % 4


class VideoReader(MediaReader):
    """Streaming reader for any container/codec the FFmpeg inside PyAV decodes (H.264, HEVC, VP9, AV1,
    MJPEG, ProRes...).

    The first frame is decoded on opening, so a file that cannot be decoded fails here with a clear
    `BadInputError` rather than half-way through a job.

    Args:
        path: the video file.
        threads: decoder threads (0 = FFmpeg's choice, frame + slice threading).
        max_pixels: refuse streams whose declared width × height exceeds this.
        apply_rotation: rotate frames upright according to the display matrix.
        max_decode_errors: corrupt packets tolerated (skipped) before giving up.

    Raises:
        BadInputError: missing, empty, truncated or non-media file; no video stream (audio-only); codec
            without decoder; absurd size.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        threads: int = 0,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        apply_rotation: bool = True,
        max_decode_errors: int = _MAX_DECODE_ERRORS,
    ) -> None:
        self.path = Path(path)
        self._max_errors = max_decode_errors
        self.decode_errors = 0
        _check_file(self.path)
        try:
            self._container = av.open(str(self.path), mode="r", metadata_errors="ignore")
        except av.error.FFmpegError as exc:
            raise BadInputError(f"{self.path}: not a readable video ({media_error_reason(exc)})") from None
        except (OSError, ValueError) as exc:
            raise BadInputError(f"{self.path}: cannot open ({exc})") from None
        try:
            self._setup(threads, max_pixels, apply_rotation)
        except BaseException:
            self._container.close()
            raise

    def _setup(self, threads: int, max_pixels: int, apply_rotation: bool) -> None:
        c = self._container
        has_audio = len(c.streams.audio) > 0
        if not c.streams.video:
            what = "audio only, no video stream" if has_audio else "no video stream"
            raise BadInputError(f"{self.path}: {what}")
        vs = c.streams.video[0]
        self._stream = vs
        self._rgb = rgb_converter()
        ctx = vs.codec_context
        codec = getattr(getattr(ctx, "codec", None), "name", None) if ctx is not None else None
        if ctx is None or not codec:
            raise BadInputError(f"{self.path}: unknown video codec (no decoder in this FFmpeg build)")
        w, h = int(ctx.width or 0), int(ctx.height or 0)
        if w * h > max_pixels:
            raise BadInputError(f"{self.path}: frame size {w}x{h} too large (limit {max_pixels / 1e6:.0f} MP)")
        if threads >= 0:
            ctx.thread_type = "AUTO"
            ctx.thread_count = threads
        self._tb: Fraction = vs.time_base or Fraction(1, 90000)
        self._start_pts = int(vs.start_time) if vs.start_time is not None else None
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else 0.0
        if not math.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 25.0
        duration: float | None = None
        if vs.duration:
            duration = float(vs.duration * self._tb)
        elif c.duration:
            duration = c.duration / av.time_base
        frame_count = int(vs.frames) if vs.frames and vs.frames > 0 else None
        self._decoded = self._decode_iter()
        self._index = 0
        self._index_exact = True
        self._skip_before: float | None = None
        self._skip_pts: int | None = None
        first = self._next_av_frame()
        if first is None:
            raise BadInputError(f"{self.path}: no decodable video frame ({codec}, truncated or corrupt)")
        if self._start_pts is None and first.pts is not None:
            self._start_pts = int(first.pts)
        self._pending: av.VideoFrame | None = first
        self._rot = _rot_k(first.rotation) if apply_rotation else 0
        fw, fh = first.width, first.height
        if self._rot % 2:
            fw, fh = fh, fw
        self.info = MediaInfo(
            path=self.path,
            kind="video",
            width=fw,
            height=fh,
            fps=fps,
            frame_count=frame_count,
            duration=duration,
            rotation=self._rot * 90,
            codec=codec,
            has_audio=has_audio,
        )

    # -- decoding -------------------------------------------------------------------------------------
    def _decode_iter(self) -> Iterator[av.VideoFrame]:
        """Yield decoded av frames, skipping corrupt packets; ends cleanly on truncated files."""
        try:
            for packet in self._container.demux(self._stream):
                try:
                    frames = packet.decode()
                except av.error.EOFError:
                    return
                except av.error.FFmpegError:
                    self._count_error()
                    continue
                yield from frames
        except av.error.FFmpegError:
            # Truncated/corrupt container: flush what the decoder still holds, then stop.
            self._count_error()
            try:
                yield from self._stream.codec_context.decode(None)
            except av.error.FFmpegError:
                return

    def _count_error(self) -> None:
        self.decode_errors += 1
        if self.decode_errors > self._max_errors:
            raise BadInputError(f"{self.path}: too many corrupt packets ({self.decode_errors}), giving up")

    def _next_av_frame(self) -> av.VideoFrame | None:
        try:
            return next(self._decoded)
        except StopIteration:
            return None

    def _time_of(self, f: av.VideoFrame) -> float:
        if f.pts is None:
            return self._index / self.info.fps if hasattr(self, "info") else 0.0
        return float((int(f.pts) - (self._start_pts or 0)) * self._tb)

    def iter_frames(self, every: int = 1) -> Iterator[Frame]:
        every = max(1, int(every))
        while True:
            f = self._pending if self._pending is not None else self._next_av_frame()
            self._pending = None
            if f is None:
                return
            t = self._time_of(f)
            if self._skip_pts is not None:
                if f.pts is not None and int(f.pts) <= self._skip_pts:
                    continue
                self._skip_pts = None
            if self._skip_before is not None:
                if t < self._skip_before - 1e-6:
                    continue
                self._skip_before = None
                if not self._index_exact:
                    self._index = int(round(t * self.info.fps))
                    self._index_exact = True
            index = self._index
            self._index += 1
            if index % every:
                continue
            image = self._rgb(f)
            if self._rot:
                image = np.ascontiguousarray(np.rot90(image, self._rot))
            yield Frame(image=image, index=index, time=t, pts=None if f.pts is None else int(f.pts))

    @property
    def next_index(self) -> int:
        """Index the next decoded frame will get (after a full pass: the number of frames decoded)."""
        return self._index

    def incomplete(self) -> str | None:
        """After reading to the end: why the file looks truncated/corrupt, or None when it looks whole.

        A file is called truncated when fewer than 90 % of the frames its container declares could be
        decoded; skipped corrupt packets are reported too.
        """
        declared = self.info.frame_count
        problems = []
        if declared and self._index < 0.9 * declared:
            problems.append(f"truncated or corrupt: decoded {self._index} of {declared} frames")
        if self.decode_errors:
            problems.append(f"{self.decode_errors} corrupt packet(s) skipped")
        return "; ".join(problems) or None

    def skip(self) -> Frame | None:
        """Decode the next frame without converting it to RGB (fast-forward); returns None at the end.

        The returned `Frame` has an empty image (shape (0, 0, 3)).
        """
        f = self._pending if self._pending is not None else self._next_av_frame()
        self._pending = None
        if f is None:
            return None
        frame = Frame(np.empty((0, 0, 3), np.uint8), self._index, self._time_of(f), f.pts)
        self._index += 1
        return frame

    def seek(self, time: float) -> None:
        """Jump to `time` seconds: the next frame is the first whose time is >= `time`.

        After a seek by time the frame index is estimated as round(time × fps) (exact for constant frame
        rate). Use `resume` for an exact position.
        """
        self._seek_pts(int((max(0.0, time)) / self._tb) + (self._start_pts or 0))
        self._skip_before = max(0.0, time)
        self._index_exact = False

    def resume(self, after_pts: int | None, after_index: int) -> None:
        """Continue after a frame seen earlier: the next frame yielded is the one following the frame with
        presentation timestamp `after_pts`, and gets index `after_index + 1` (exact, VFR-safe).

        Without a timestamp the file is decoded from the start and `after_index + 1` frames are skipped.
        """
        if after_pts is None:
            self._seek_pts(self._start_pts or 0)
            for _ in range(after_index + 1):
                if self.skip() is None:
                    break
            return
        self._seek_pts(after_pts)
        self._skip_pts = after_pts
        self._index = after_index + 1
        self._index_exact = True

    def _seek_pts(self, pts: int) -> None:
        self._pending = None
        try:
            self._container.seek(pts, stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            # Not seekable (e.g. some raw streams): restart from the beginning and skip forward.
            self._container.seek(0)
        self._decoded = self._decode_iter()
        self._index = 0

    def keyframe_at(self, time: float) -> Frame | None:
        """Decode the key frame at or before `time` seconds: one seek and about one decoded frame, so spot
        checks spread over a long file cost little (e.g. the provenance sample of `detect`).

        Afterwards `iter_frames` continues with the frames that follow it. Indices are estimates
        (round(time × fps)), as after `seek`. Returns None when nothing can be decoded there; a stream that
        cannot seek restarts at its first frame.
        """
        self._seek_pts(int(max(0.0, time) / self._tb) + (self._start_pts or 0))
        self._skip_before, self._skip_pts = None, None
        f = self._next_av_frame()
        if f is None:
            return None
        self._index = int(round(self._time_of(f) * self.info.fps))
        self._index_exact = False
        self._pending = f
        return next(self.iter_frames(), None)

    def close(self) -> None:
        self._container.close()


class ImageSequenceReader(MediaReader):
    """Stills read as a video: a sorted list of files, a folder, a glob or a printf pattern (`img_%04d.png`).

    Args:
        paths: the image files in display order.
        fps: nominal frame rate used for timestamps.
        max_pixels: decompression-bomb guard passed to `read_image`.
        source: what to report as `info.path` (defaults to the first file).
    """

    def __init__(
        self,
        paths: list[Path],
        *,
        fps: float = 25.0,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        source: Path | None = None,
    ) -> None:
        if not paths:
            raise BadInputError(f"{source or 'image sequence'}: no images found")
        self.paths = [Path(p) for p in paths]
        self._max_pixels = max_pixels
        self._start = 0
        w, h = image_size(self.paths[0], max_pixels)
        single = len(self.paths) == 1
        self.info = MediaInfo(
            path=Path(source) if source is not None else self.paths[0],
            kind="image" if single else "sequence",
            width=w,
            height=h,
            fps=float(fps),
            frame_count=len(self.paths),
            duration=len(self.paths) / fps,
            rotation=0,
            codec=self.paths[0].suffix.lower().lstrip(".") or "image",
            has_audio=False,
        )

    def iter_frames(self, every: int = 1) -> Iterator[Frame]:
        every = max(1, int(every))
        start, self._start = self._start, 0
        for i in range(start, len(self.paths)):
            if i % every:
                continue
            image = read_image(self.paths[i], self._max_pixels)
            yield Frame(image=image, index=i, time=i / self.info.fps, pts=None)

    def seek(self, time: float) -> None:
        self._start = min(len(self.paths), max(0, math.ceil(time * self.info.fps - 1e-6)))

    def resume(self, after_pts: int | None, after_index: int) -> None:
        self._start = min(len(self.paths), after_index + 1)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise BadInputError(f"{path}: no such file")
    if path.is_dir():
        raise BadInputError(f"{path}: is a folder, not a video")
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except PermissionError:
        raise BadInputError(f"{path}: permission denied") from None
    if size == 0:
        raise BadInputError(f"{path}: empty file (0 bytes)")


def media_error_reason(exc: BaseException) -> str:
    """The short reason of a PyAV/OS error, e.g. "invalid data found when processing input"."""
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[0].strip().lower() if text else type(exc).__name__


def _expand_pattern(pattern: str) -> list[Path]:
    if "%" in pattern:
        # printf-style pattern (ffmpeg image2): turn %d / %04d into a regex over the folder listing.
        folder = Path(pattern).parent
        name = Path(pattern).name
        regex = re.compile(
            "".join(
                r"(\d+)" if re.fullmatch(r"%0?\d*d", tok) else re.escape(tok) for tok in re.split(r"(%0?\d*d)", name)
            )
        )
        hits = [p for p in folder.iterdir() if regex.fullmatch(p.name)] if folder.is_dir() else []
        return sorted(hits, key=lambda p: [int(g) for g in regex.fullmatch(p.name).groups()])  # type: ignore[union-attr]
    return sorted((Path(p) for p in glob.glob(pattern)), key=lambda p: natural_key(p.name))


def open_media(
    path: str | Path,
    *,
    fps: float = 25.0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    threads: int = 0,
) -> MediaReader:
    """Open a video file, a still image, a folder of images or an image pattern as a frame reader.

    Args:
        path: video file; image file; folder of images (sorted naturally); glob (`frames/*.png`) or printf
            pattern (`frames/%05d.png`).
        fps: nominal frame rate for stills / sequences.
        max_pixels: decompression-bomb guard.
        threads: decoder threads for videos (0 = automatic).

    Returns:
        A `MediaReader` (use it as a context manager).

    Raises:
        BadInputError: the source cannot be read (message says why, on one line).
    """
    text = str(path)
    p = Path(path)
    if ("%" in text or any(ch in text for ch in "*?[")) and not p.exists():
        files = [f for f in _expand_pattern(text) if is_image_path(f)]
        return ImageSequenceReader(files, fps=fps, max_pixels=max_pixels, source=p)
    if p.is_dir():
        try:
            files = sorted(
                (f for f in p.iterdir() if f.is_file() and is_image_path(f)),
                key=lambda f: natural_key(f.name),
            )
        except PermissionError:
            raise BadInputError(f"{p}: folder not readable (permission denied)") from None
        return ImageSequenceReader(files, fps=fps, max_pixels=max_pixels, source=p)
    if is_image_path(p):
        _check_file(p)
        return ImageSequenceReader([p], fps=fps, max_pixels=max_pixels)
    return VideoReader(p, threads=threads, max_pixels=max_pixels)


def probe(path: str | Path) -> MediaInfo:
    """`MediaInfo` of a source (opens it, decodes at most one frame, closes it)."""
    with open_media(path) as reader:
        return reader.info
