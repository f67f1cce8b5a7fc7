"""Live sources: stream URLs (`rtsp://`, `http://` ...), capture devices (`/dev/video0`) and `FORMAT:DEVICE`
capture specs (`v4l2:/dev/video0`, `lavfi:testsrc`) read with PyAV, frame count unknown, never seeking.

Example:
    >>> from deepfake_lab.video.live import LiveReader, is_live_source
    >>> is_live_source("rtsp://camera/stream"), is_live_source("clip.mp4")
    (True, False)
    >>> with LiveReader("/dev/video0") as reader:  # doctest: +SKIP
    ...     next(reader.iter_frames()).image.shape
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import av.error
import numpy as np

from deepfake_lab.errors import BadInputError
from deepfake_lab.video.reader import Frame, MediaInfo, MediaReader, media_error_reason, rgb_converter

__all__ = ["CAPTURE_FORMATS", "LiveReader", "is_live_source"]

CAPTURE_FORMATS = ("v4l2", "video4linux2", "avfoundation", "dshow", "gdigrab", "x11grab", "lavfi", "kmsgrab")
"""FFmpeg capture input formats accepted as `FORMAT:DEVICE`."""


def is_live_source(source: str) -> bool:
    """True for a stream URL (`rtsp://`, `http://`, `file://` ...), a capture device (`/dev/video0`) or a
    `FORMAT:DEVICE` capture spec such as `v4l2:/dev/video0` or `lavfi:testsrc`."""
    s = str(source)
    if "://" in s or s.startswith("/dev/video"):
        return True
    fmt = s.split(":", 1)[0]
    return ":" in s and fmt in CAPTURE_FORMATS


class LiveReader(MediaReader):
    """Frames of a stream or capture device opened by PyAV (frame count unknown; never seeks).

    Args:
        source: URL, `/dev/videoN`, or `FORMAT:DEVICE` (e.g. `v4l2:/dev/video0`).
        open_timeout: seconds to wait for the source to open.
    """

    def __init__(self, source: str, open_timeout: float = 10.0) -> None:
        self.source = source
        fmt: str | None = None
        target = source
        if "://" not in source:
            if source.startswith("/dev/video"):
                fmt = "v4l2"
            else:
                fmt, target = source.split(":", 1)
        try:
            self._container = av.open(target, mode="r", format=fmt, timeout=(open_timeout, open_timeout))
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise BadInputError(f"{source}: cannot open live source ({media_error_reason(exc)})") from None
        if not self._container.streams.video:
            self._container.close()
            raise BadInputError(f"{source}: no video stream")
        vs = self._container.streams.video[0]
        vs.thread_type = "AUTO"
        self._stream = vs
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else 25.0
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 25.0
        ctx = vs.codec_context
        self.info = MediaInfo(
            path=Path(source),
            kind="video",
            width=int(ctx.width or 0),
            height=int(ctx.height or 0),
            fps=fps,
            frame_count=None,
            duration=None,
            rotation=0,
            codec=getattr(ctx.codec, "name", "") or "",
            has_audio=False,
        )
        self._tb = vs.time_base
        self._start: int | None = None

    def iter_frames(self, every: int = 1) -> Iterator[Frame]:
        every = max(1, int(every))
        index = 0
        rgb = rgb_converter()
        try:
            for packet in self._container.demux(self._stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    continue
                for f in frames:
                    i, index = index, index + 1
                    if i % every:
                        continue
                    if f.pts is not None and self._start is None:
                        self._start = int(f.pts)
                    t = float((int(f.pts) - (self._start or 0)) * self._tb) if f.pts is not None else i / self.info.fps
                    yield Frame(image=rgb(f), index=i, time=t, pts=f.pts)
        except av.error.FFmpegError as exc:
            if index == 0:
                raise BadInputError(f"{self.source}: live source failed ({media_error_reason(exc)})") from None

    def seek(self, time: float) -> None:
        raise BadInputError(f"{self.source}: a live source cannot seek")

    def close(self) -> None:
        self._container.close()
