"""Video/image I/O on tiny files made here with PyAV and Pillow (no sample corpus needed)."""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from deepfake_lab.errors import BadInputError
from deepfake_lab.video import (
    Prefetcher,
    VideoReader,
    VideoWriter,
    open_media,
    probe,
    read_image,
)
from support.media import _audio_only, _unknown_codec


def pattern(i: int, w: int = 96, h: int = 64) -> np.ndarray:
    """Frame i: a bright bar whose width grows with i, on a gradient (easy to recognise after lossy coding)."""
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 2] = np.linspace(0, 120, w, dtype=np.uint8)[None, :]
    a[:, : (i % 8 + 1) * w // 8, 0] = 220
    return a


def make_video(
    path: Path,
    n: int = 10,
    fps: int = 10,
    codec: str = "libx264",
    size: tuple[int, int] = (96, 64),
    pix_fmt: str = "yuv420p",
    audio_seconds: float | None = None,
    audio_codec: str = "aac",
    pts: list[int] | None = None,
    rotation: int | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Write a small test video (optionally with a sine audio track, custom timestamps or rotation)."""
    w, h = size
    with av.open(str(path), "w", options=options or {}) as c:
        vs = c.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        if pts is not None:
            vs.time_base = Fraction(1, 1000)
            vs.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None:
            vs.set_display_rotation(rotation)
        as_ = None
        if audio_seconds:
            as_ = c.add_stream(audio_codec, rate=16000)
            as_.layout = "mono"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(pattern(i, w, h), format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[i], Fraction(1, 1000)
            for p in vs.encode(frame):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if as_ is not None:
            sr, total = 16000, int(16000 * audio_seconds)
            fmt = "s16" if audio_codec.startswith("pcm") else "fltp"
            for start in range(0, total, 1024):
                k = min(1024, total - start)
                t = (np.arange(start, start + k) / sr).astype(np.float32)
                wave = 0.3 * np.sin(2 * np.pi * 440 * t)[None, :]
                arr = (wave * 32767).astype(np.int16) if fmt == "s16" else wave.astype(np.float32)
                af = av.AudioFrame.from_ndarray(arr, format=fmt, layout="mono")
                af.sample_rate, af.pts = sr, start
                for p in as_.encode(af):
                    c.mux(p)
            for p in as_.encode():
                c.mux(p)
    return path


def audio_duration(path: Path) -> float:
    """Seconds of audio actually decoded from the first audio stream."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        return sum(f.samples for f in c.decode(s)) / s.codec_context.sample_rate


# ---------------------------------------------------------------------------------------------- reading


def test_h264_mp4_metadata_and_frames(tmp_path: Path) -> None:
    path = make_video(tmp_path / "a.mp4", n=12, fps=10)
    with open_media(path) as r:
        info = r.info
        assert (info.kind, info.codec, info.width, info.height) == ("video", "h264", 96, 64)
        assert info.fps == pytest.approx(10.0)
        assert info.frame_count == 12
        assert info.duration == pytest.approx(1.2, abs=0.05)
        assert not info.has_audio
        frames = list(r)
    assert [f.index for f in frames] == list(range(12))
    assert [round(f.time, 3) for f in frames] == [round(i / 10, 3) for i in range(12)]
    for f in frames:
        assert f.image.shape == (64, 96, 3) and f.image.dtype == np.uint8 and f.image.flags.c_contiguous
        assert np.abs(f.image.astype(int) - pattern(f.index)).mean() < 8


@pytest.mark.parametrize(
    ("suffix", "codec", "pix_fmt", "name"),
    [
        (".mov", "libx265", "yuv420p", "hevc"),
        (".webm", "libvpx-vp9", "yuv420p", "vp9"),
        (".avi", "mjpeg", "yuvj420p", "mjpeg"),
        (".mkv", "libx264", "yuv420p", "h264"),
    ],
)
def test_other_codecs_and_containers(tmp_path: Path, suffix: str, codec: str, pix_fmt: str, name: str) -> None:
    path = make_video(tmp_path / f"v{suffix}", n=6, codec=codec, pix_fmt=pix_fmt, size=(128, 64))
    with open_media(path) as r:
        assert r.info.codec == name
        frames = list(r)
    assert len(frames) == 6
    assert np.abs(frames[3].image.astype(int) - pattern(3, 128, 64)).mean() < 10


@pytest.mark.parametrize(
    ("suffix", "codec", "pix_fmt"),
    [(".mp4", "libx264", "yuv420p"), (".avi", "mjpeg", "yuvj420p"), (".mkv", "libx264", "yuv444p")],
)
def test_frames_are_the_pixels_pyav_gives(tmp_path: Path, suffix: str, codec: str, pix_fmt: str) -> None:
    """The reader converts through one kept swscale context; the pixels are those of PyAV's per-frame
    `to_ndarray(format="rgb24")` (full-range JPEG video and 4:4:4 too)."""
    path = make_video(tmp_path / f"v{suffix}", n=6, codec=codec, pix_fmt=pix_fmt, size=(128, 64))
    with av.open(str(path)) as c:
        expected = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with open_media(path) as r:
        got = [f.image for f in r]
    assert len(got) == len(expected) == 6
    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))


def test_rotation_metadata_is_applied(tmp_path: Path) -> None:
    path = make_video(tmp_path / "rot.mp4", n=3, size=(96, 64), rotation=90)
    with open_media(path) as r:
        assert r.info.rotation == 90
        assert (r.info.width, r.info.height) == (64, 96)
        img = next(iter(r)).image
    assert img.shape == (96, 64, 3)
    # The bright bar on the left of the stored frame (frame 0: first eighth) ends up at the bottom after a
    # quarter turn counter-clockwise.
    expected = np.rot90(pattern(0), 1)
    assert np.abs(img.astype(int) - expected).mean() < 8


def test_variable_frame_rate_timestamps_kept(tmp_path: Path) -> None:
    pts = [0, 40, 120, 130, 300, 310, 500]
    path = make_video(tmp_path / "vfr.mp4", n=len(pts), pts=pts)
    with open_media(path) as r:
        times = [f.time for f in r]
    assert times == pytest.approx([p / 1000 for p in pts], abs=1e-3)


def test_seek_resume_and_every(tmp_path: Path) -> None:
    path = make_video(tmp_path / "s.mp4", n=30, fps=10, options=None)
    with open_media(path) as r:
        assert isinstance(r, VideoReader)
        r.seek(1.5)
        f = next(iter(r))
        assert (f.index, f.time) == (15, pytest.approx(1.5))
        assert np.abs(f.image.astype(int) - pattern(15)).mean() < 8
        seen = {g.index: g for g in open_media(path)}
        r.resume(seen[7].pts, 7)
        assert [g.index for g in r][:3] == [8, 9, 10]
        r.seek(0.0)
        assert [g.index for g in r.iter_frames(every=7)] == [0, 7, 14, 21, 28]


def test_prefetcher_streams_and_reraises(tmp_path: Path) -> None:
    path = make_video(tmp_path / "p.mp4", n=9)
    with open_media(path) as r, Prefetcher(r.iter_frames(), depth=2) as it:
        assert [f.index for f in it] == list(range(9))

    def broken():
        yield 1
        raise BadInputError("boom")

    with Prefetcher(broken()) as it2, pytest.raises(BadInputError, match="boom"):  # type: ignore[arg-type]
        list(it2)


def test_image_sequence_folder_pattern_and_glob(tmp_path: Path) -> None:
    seq = tmp_path / "seq"
    seq.mkdir()
    for i in (1, 2, 10):  # natural order 1, 2, 10
        Image.fromarray(pattern(i)).save(seq / f"frame_{i}.png")
    (seq / "notes.txt").write_text("ignored")
    for source in (seq, str(seq / "frame_%d.png"), str(seq / "frame_*.png")):
        with open_media(source, fps=5) as r:
            assert r.info.kind == "sequence" and r.info.frame_count == 3 and r.info.fps == 5
            frames = list(r)
        assert [f.time for f in frames] == pytest.approx([0.0, 0.2, 0.4])
        assert np.array_equal(frames[2].image, pattern(10))


# ---------------------------------------------------------------------------------------------- stills


def test_still_image_exif_orientation(tmp_path: Path) -> None:
    img = Image.fromarray(pattern(0, 96, 64))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    img.save(tmp_path / "o.jpg", exif=exif.tobytes(), quality=95)
    out = read_image(tmp_path / "o.jpg")
    assert out.shape == (96, 64, 3)
    assert np.abs(out.astype(int) - np.rot90(pattern(0, 96, 64), -1)).mean() < 8
    info = probe(tmp_path / "o.jpg")
    assert (info.kind, info.width, info.height, info.frame_count) == ("image", 64, 96, 1)


def test_still_image_modes_converted(tmp_path: Path) -> None:
    g16 = (np.arange(64 * 32).reshape(32, 64) * 32).astype(np.uint16)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    out = read_image(tmp_path / "g16.png")
    assert out.dtype == np.uint8 and out.shape == (32, 64, 3)
    assert np.array_equal(out[..., 0], (g16 >> 8).astype(np.uint8))

    Image.fromarray(np.full((8, 8), 77, np.uint8)).save(tmp_path / "g.png")
    assert np.all(read_image(tmp_path / "g.png") == 77)

    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png")[0, 0].tolist() == [100, 0, 0]

    Image.fromarray(pattern(3)).save(tmp_path / "w.webp", lossless=True)
    assert np.array_equal(read_image(tmp_path / "w.webp"), pattern(3))

    Image.fromarray(pattern(3)).convert("P").save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (64, 96, 3)


def png_with_declared_size(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header declares a huge size (decompression-bomb shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def test_decompression_bomb_refused_before_decoding(tmp_path: Path) -> None:
    bomb = png_with_declared_size(tmp_path / "bomb.png", 30000, 30000)
    assert bomb.stat().st_size < 200
    with pytest.raises(BadInputError, match="too large"):
        read_image(bomb)
    with pytest.raises(BadInputError, match="too large"):
        open_media(bomb)
    small = png_with_declared_size(tmp_path / "small.png", 4000, 3000)
    with pytest.raises(BadInputError, match="too large"):
        read_image(small, max_pixels=1_000_000)


# ---------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: (p.write_bytes(b""), p)[1], "empty file"),
        (lambda p: (p.write_text("this is not a video\n" * 20), p)[1], "not a readable video"),
        (lambda p: _audio_only(p.parent), "audio only"),
        (lambda p: _unknown_codec(p.parent), "unknown video codec"),
        (lambda p: p.with_name("missing.mp4"), "no such file"),
        (lambda p: (p.mkdir(), p)[1], "folder"),
    ],
    ids=["zero-byte", "text", "audio-only", "unknown-codec", "missing", "folder"],
)
def test_bad_video_inputs_raise_one_line_errors(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path / "bad.mp4")
    with pytest.raises(BadInputError, match=message) as exc:
        VideoReader(path)
    assert "\n" not in str(exc.value)


def test_truncated_mp4(tmp_path: Path) -> None:
    whole = make_video(tmp_path / "whole.mp4", n=40, size=(128, 96)).read_bytes()
    # moov at the end (the default): cut it off -> unreadable.
    (tmp_path / "cut.mp4").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BadInputError, match="not a readable video"):
        VideoReader(tmp_path / "cut.mp4")
    # moov at the front: the frames before the cut decode, and the reader says the file is incomplete.
    rng = np.random.default_rng(0)
    path = tmp_path / "fast.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as c:
        vs = c.add_stream("libx264", rate=10)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        vs.options = {"g": "5"}
        for _ in range(40):
            noise = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
            for p in vs.encode(av.VideoFrame.from_ndarray(noise, format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
    data = path.read_bytes()
    (tmp_path / "fastcut.mp4").write_bytes(data[: len(data) // 2])
    with VideoReader(tmp_path / "fastcut.mp4") as r:
        n = sum(1 for _ in r)
        assert 0 < n < 40
        assert "truncated" in (r.incomplete() or "")
    with VideoReader(path) as r:
        assert sum(1 for _ in r) == 40 and r.incomplete() is None


# ---------------------------------------------------------------------------------------------- writing


def test_writer_crf_and_timing(tmp_path: Path) -> None:
    sizes = {}
    for crf in (10, 40):
        out = tmp_path / f"crf{crf}.mp4"
        with VideoWriter(out, fps=12, crf=crf, preset="ultrafast") as w:
            for i in range(24):
                w.write(pattern(i, 128, 96))
        sizes[crf] = out.stat().st_size
        with open_media(out) as r:
            assert r.info.codec == "h264" and r.info.fps == pytest.approx(12)
            frames = list(r)
        assert len(frames) == 24
        assert frames[5].time == pytest.approx(5 / 12, abs=1e-3)
        if crf == 10:
            assert np.abs(frames[5].image.astype(int) - pattern(5, 128, 96)).mean() < 3
    assert sizes[40] < sizes[10]


def test_writer_pads_odd_sizes_and_keeps_given_times(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    times = [0.0, 0.05, 0.3, 0.35]
    with VideoWriter(out, fps=10) as w:
        for i, t in enumerate(times):
            w.write(pattern(i, 95, 63), time=t)
    with open_media(out) as r:
        assert (r.info.width, r.info.height) == (96, 64)
        assert [f.time for f in r] == pytest.approx(times, abs=1e-3)


@pytest.mark.parametrize(("container", "acodec"), [(".mp4", "aac"), (".mov", "pcm_s16le")])
def test_writer_copies_source_audio(tmp_path: Path, container: str, acodec: str) -> None:
    src = make_video(tmp_path / f"src{container}", n=20, fps=10, audio_seconds=2.0, audio_codec=acodec)
    src_dur = audio_duration(src)
    assert src_dur == pytest.approx(2.0, abs=0.07)
    out = tmp_path / "out.mp4"
    with open_media(src) as r, VideoWriter(out, fps=r.info.fps, audio_from=src, preset="ultrafast") as w:
        for f in r:
            w.write(255 - f.image, time=f.time)
    with av.open(str(out)) as c:
        assert len(c.streams.video) == 1 and len(c.streams.audio) == 1
        assert c.streams.audio[0].codec_context.name == "aac"
    assert audio_duration(out) == pytest.approx(src_dur, abs=0.07)
    with open_media(out) as r:
        assert r.info.has_audio and sum(1 for _ in r) == 20


def test_writer_without_audio_source_audio(tmp_path: Path) -> None:
    src = make_video(tmp_path / "silent.mp4", n=5)
    out = tmp_path / "o.mp4"
    with VideoWriter(out, fps=10, audio_from=src) as w:
        for i in range(5):
            w.write(pattern(i))
    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 0
