"""H.264 MP4 writer (libx264 from the PyAV wheel) that carries the source's audio over.

Audio packets are copied without re-encoding when MP4 can hold the codec (AAC, MP3, Opus, AC-3, ALAC, FLAC)
and re-encoded to AAC otherwise. They are interleaved with the video as frames are written, so memory stays
flat and the file plays while it is being read sequentially.

Example:
    >>> from deepfake_lab.video import VideoReader, VideoWriter
    >>> with VideoReader("in.mp4") as r, VideoWriter("out.mp4", fps=r.info.fps, audio_from="in.mp4") as w:
    ...     for frame in r:  # doctest: +SKIP
    ...         w.write(frame.image, time=frame.time)
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from deepfake_lab.errors import BadInputError

__all__ = ["VideoWriter", "MP4_AUDIO_COPY_CODECS"]

MP4_AUDIO_COPY_CODECS: frozenset[str] = frozenset({"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"})
"""Audio codecs copied as they are into MP4; anything else is re-encoded to AAC."""

_TIME_BASE = Fraction(1, 90000)
_AUDIO_LEAD_S = 0.5  # audio is muxed up to this far ahead of the last video frame


class VideoWriter:
    """Write RGB frames to an H.264 MP4, optionally with the audio of a source file.

    Args:
        path: output file (.mp4 / .mov / .mkv; the container follows the suffix).
        fps: frame rate (used for frames written without a time, and as the nominal rate).
        crf: x264 constant rate factor (0 lossless .. 51 worst; 18 is visually lossless).
        preset: x264 speed preset ("ultrafast" .. "veryslow").
        audio_from: a media file whose first audio stream is copied into the output (ignored when it has
            no audio).
        pix_fmt: output pixel format ("yuv420p" plays everywhere; "yuv444p" keeps full chroma).
        threads: encoder threads (0 = automatic).
        metadata: container metadata tags (e.g. {"comment": ...}; MP4 keeps title/comment/description/...).

    Frames must all have the same size; odd sizes are padded by one pixel (edge replicated) for 4:2:0.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        *,
        crf: int = 18,
        preset: str = "medium",
        audio_from: str | Path | None = None,
        pix_fmt: str = "yuv420p",
        threads: int = 0,
        metadata: dict[str, str] | None = None,
    ) -> None:
        if not 0 <= crf <= 51:
            raise BadInputError(f"crf must be in 0..51, got {crf}")
        if not fps or fps <= 0:
            raise BadInputError(f"fps must be > 0, got {fps}")
        self.path = Path(path)
        self.fps = float(fps)
        self._crf = int(crf)
        self._preset = preset
        self._pix_fmt = pix_fmt
        self._threads = threads
        self._container = av.open(str(self.path), mode="w")
        if metadata:
            self._container.metadata.update({str(k): str(v) for k, v in metadata.items()})
        self._vstream: av.VideoStream | None = None
        self._size: tuple[int, int] | None = None
        self._count = 0
        self._last_pts = -1
        self._closed = False
        self._audio: _AudioCopier | None = None
        if audio_from is not None:
            self._audio = _AudioCopier.open(Path(audio_from), self._container)

    @property
    def frames_written(self) -> int:
        """Number of video frames written so far."""
        return self._count

    def _open_video(self, width: int, height: int) -> None:
        rate = Fraction(self.fps).limit_denominator(1001)
        vs = self._container.add_stream("libx264", rate=rate)
        vs.width, vs.height = width + width % 2, height + height % 2
        vs.pix_fmt = self._pix_fmt
        vs.time_base = _TIME_BASE
        vs.codec_context.time_base = _TIME_BASE
        vs.options = {"crf": str(self._crf), "preset": self._preset}
        vs.codec_context.thread_count = self._threads
        self._vstream = vs
        self._size = (width, height)

    def write(self, image: np.ndarray, time: float | None = None) -> None:
        """Encode one frame.

        Args:
            image: (H, W, 3) uint8 RGB (or (H, W) grayscale).
            time: presentation time in seconds; default `frames_written / fps`. Times must increase.
        """
        if self._closed:
            raise ValueError("writer is closed")
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
        h, w = image.shape[:2]
        if self._vstream is None:
            self._open_video(w, h)
        if (w, h) != self._size:
            raise ValueError(f"frame size changed from {self._size} to {(w, h)}")
        if w % 2 or h % 2:
            image = np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        t = self._count / self.fps if time is None else float(time)
        pts = max(int(round(t / _TIME_BASE)), self._last_pts + 1)
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts = pts
        frame.time_base = _TIME_BASE
        assert self._vstream is not None
        for packet in self._vstream.encode(frame):
            self._container.mux(packet)
        self._count += 1
        if self._audio is not None:
            self._audio.mux_until(float(pts * _TIME_BASE) + _AUDIO_LEAD_S)

    def close(self) -> None:
        """Flush the encoder, copy the remaining audio and finalise the file."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._vstream is not None:
                for packet in self._vstream.encode(None):
                    self._container.mux(packet)
            if self._audio is not None:
                self._audio.mux_until(float("inf"))
        finally:
            if self._audio is not None:
                self._audio.close()
            self._container.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _AudioCopier:
    """Streams the audio of a source into an output container, copying or re-encoding packets."""

    def __init__(self, src: av.container.InputContainer, out: av.container.OutputContainer) -> None:
        self._src = src
        self._out = out
        ain = src.streams.audio[0]
        self._ain = ain
        vstreams = src.streams.video
        # Keep audio aligned with video frames whose time starts at the video stream's start.
        start = vstreams[0].start_time if vstreams and vstreams[0].start_time is not None else None
        self._offset = float(start * vstreams[0].time_base) if start is not None else 0.0
        name = ain.codec_context.name
        self._copy = name in MP4_AUDIO_COPY_CODECS and out.format.name in (
            "mp4",
            "mov,mp4,m4a,3gp,3g2,mj2",
            "mov",
        )
        if self._copy:
            self._aout = out.add_stream_from_template(ain)
        else:
            rate = ain.codec_context.sample_rate or 48000
            self._aout = out.add_stream("aac", rate=rate)
            self._resampler = av.AudioResampler(format="fltp", layout=ain.codec_context.layout, rate=rate)
        self._packets: Iterator[av.Packet] = src.demux(ain)
        self._done = False
        self._next_pts = 0

    @classmethod
    def open(cls, path: Path, out: av.container.OutputContainer) -> _AudioCopier | None:
        try:
            src = av.open(str(path), mode="r", metadata_errors="ignore")
        except (av.error.FFmpegError, OSError):
            return None
        if not src.streams.audio:
            src.close()
            return None
        return cls(src, out)

    def mux_until(self, t_end: float) -> None:
        """Mux source audio packets whose time is < `t_end` seconds (video timeline)."""
        while not self._done:
            try:
                packet = next(self._packets)
            except (StopIteration, av.error.FFmpegError):
                self._done = True
                self._flush()
                return
            if packet.dts is None and packet.size == 0:
                continue
            pts_shift = int(round(self._offset / packet.time_base)) if packet.time_base else 0
            if self._copy:
                if packet.pts is not None:
                    packet.pts -= pts_shift
                if packet.dts is not None:
                    packet.dts -= pts_shift
                packet.stream = self._aout
                self._out.mux(packet)
            else:
                self._encode(packet)
            if packet.pts is not None and packet.time_base and float(packet.pts * packet.time_base) >= t_end:
                return

    def _encode(self, packet: av.Packet | None) -> None:
        try:
            frames = packet.decode() if packet is not None else []
        except av.error.FFmpegError:
            return
        for frame in frames:
            for rf in self._resampler.resample(frame):
                rf.pts = self._next_pts
                self._next_pts += rf.samples
                for p in self._aout.encode(rf):
                    self._out.mux(p)

    def _flush(self) -> None:
        if not self._copy:
            for rf in self._resampler.resample(None):
                rf.pts = self._next_pts
                self._next_pts += rf.samples
                for p in self._aout.encode(rf):
                    self._out.mux(p)
            for p in self._aout.encode(None):
                self._out.mux(p)

    def close(self) -> None:
        self._src.close()
