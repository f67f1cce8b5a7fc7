"""Tiny real media for the tests: a real face photo (tests/fixtures) moved in a video, and bad inputs."""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from deepfake_lab.video import read_image
from support import FIXTURES

FACE_JPG = FIXTURES / "grace_hopper_face.jpg"
N_FACE, N_BLANK = 14, 4


def face_frames(n: int = N_FACE, size: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    face = read_image(FACE_JPG)
    w, h = size
    out = []
    for i in range(n):
        m = cv2.getRotationMatrix2D((96, 112), 2.0 * i, 1.0)
        m[:, 2] += (30 + 5 * i, 6 + i)
        out.append(cv2.warpAffine(face, m, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=(70, 80, 90)))
    return out


def write_video(path: Path, frames: list[np.ndarray], fps: int = 8, audio: bool = True, **opts: str) -> Path:
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", options=opts) as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"crf": "18", "preset": "ultrafast"}
        a = c.add_stream("aac", rate=16000) if audio else None
        if a is not None:
            a.layout = "mono"
        for img in frames:
            for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if a is not None:
            total = int(16000 * len(frames) / fps)
            for start in range(0, total, 1024):
                k = min(1024, total - start)
                af = av.AudioFrame.from_ndarray(np.zeros((1, k), np.float32), format="fltp", layout="mono")
                af.sample_rate, af.pts, af.time_base = 16000, start, Fraction(1, 16000)
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path



def _truncated(d: Path) -> Path:
    data = write_video(d / "whole.mp4", face_frames(6), audio=False).read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    return d / "truncated.mp4"


def _audio_only(d: Path) -> Path:
    path = d / "audio.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=8000)
        s.layout = "mono"
        for i in range(6):
            af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            af.sample_rate, af.pts = 8000, i * 1024
            for p in s.encode(af):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def _unknown_codec(d: Path) -> Path:
    with av.open(str(d / "m.avi"), "w") as c:
        vs = c.add_stream("mjpeg", rate=5)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuvj420p"
        for _ in range(3):
            for p in vs.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
    (d / "unknown.avi").write_bytes((d / "m.avi").read_bytes().replace(b"MJPG", b"QQQQ"))
    return d / "unknown.avi"


def _bomb(d: Path) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 99)) + chunk(b"IEND", b"")
    (d / "bomb.png").write_bytes(png)
    return d / "bomb.png"


BAD = {
    "zero-byte": (lambda d: (d / "zero.mp4").write_bytes(b"") or d / "zero.mp4", "empty file"),
    "truncated": (_truncated, "not a readable video"),
    "text": (lambda d: (d / "text.mp4").write_text("not a video\n" * 30) and d / "text.mp4", "not a readable video"),
    "audio-only": (_audio_only, "audio only"),
    "unknown-codec": (_unknown_codec, "unknown video codec"),
    "bomb": (_bomb, "too large"),
    "missing": (lambda d: d / "missing.mp4", "no such file"),
    "empty-folder": (lambda d: (d / "empty").mkdir() or d / "empty", "no videos or images"),
}
