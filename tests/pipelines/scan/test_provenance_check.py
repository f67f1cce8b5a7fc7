"""The provenance check beside a scan: a deterministic sample of the scan's own frames, early start, ends."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from deepfake_lab.pipelines.scan.provenance_check import (
    PROVENANCE_FRAMES,
    ProvenanceCheck,
    prestart_provenance_check,
    start_provenance_check,
)
from deepfake_lab.provenance.payload import WatermarkPayload
from deepfake_lab.provenance.watermark import embed_watermark
from deepfake_lab.video.reader import Frame

PAYLOAD = WatermarkPayload(kind="swap", model_id=0x1F00D, run_id=0x00042)


def _frames(n: int, marked: bool = False) -> list[Frame]:
    rng = np.random.default_rng(1)
    base = (rng.random((192, 256, 3)) * 255).astype(np.uint8)
    out = []
    for i in range(n):
        img = np.roll(base, i, axis=1)
        out.append(Frame(embed_watermark(img, PAYLOAD) if marked else img, i, i / 25))
    return out


def _video(tmp_path: Path, name: str = "clip.mp4") -> Path:
    path = tmp_path / name
    path.write_bytes(b"not decoded: the check takes the scan's frames")
    return path


def test_every_nth_scanned_frame_is_checked_the_same_way_every_run(tmp_path: Path) -> None:
    frames = _frames(80)
    runs = []
    for _ in range(2):
        check = ProvenanceCheck(_video(tmp_path))
        check.plan(expected_frames=80, fps=25.0)
        for f in frames:
            check.offer(f)
        runs.append(check.result())
    w = runs[0]["watermark"]
    assert w["sampling"] == "scan" and w["sample_limit"] == PROVENANCE_FRAMES
    assert w["frame_indices"] == list(range(0, 80, 5))[:PROVENANCE_FRAMES] and w["frames_found"] == 0
    assert runs[1]["watermark"]["frame_indices"] == w["frame_indices"]
    unknown = ProvenanceCheck(_video(tmp_path))
    unknown.plan(expected_frames=None, fps=25.0)  # a stream of unknown length: one frame per second
    for f in frames:
        unknown.offer(f)
    assert unknown.result()["watermark"]["frame_indices"] == [0, 25, 50, 75]


def test_a_labelled_video_stops_the_sample_early(tmp_path: Path) -> None:
    check = ProvenanceCheck(_video(tmp_path))
    check.plan(expected_frames=40)
    for f in _frames(40, marked=True):
        check.offer(f)  # once confirmed, offers return at once (nothing queued, nothing waits)
    rep = check.result()
    w = rep["watermark"]
    assert w["stopped_early"] and w["frames_checked"] == 3 and w["frame_indices"] == [0, 2, 4]
    assert w["payload"] == PAYLOAD.to_dict() and rep["labelled_synthetic"]


def test_a_failed_scan_ends_the_check_and_images_read_themselves(tmp_path: Path) -> None:
    check = ProvenanceCheck(_video(tmp_path))
    check.end()  # the scan failed before any frame
    assert check.result()["watermark"]["frames_checked"] == 0
    img = _frames(1, marked=True)[0].image
    Image.fromarray(img).save(tmp_path / "still.png")
    still = ProvenanceCheck(tmp_path / "still.png")
    still.offer(Frame(np.zeros((8, 8, 3), np.uint8), 0, 0.0))  # ignored: the check decodes the file
    rep = still.result()
    assert rep["kind"] == "image" and rep["watermark"]["frames_found"] == 1


def test_a_prestarted_check_is_taken_over_once_and_only_for_the_same_file(tmp_path: Path) -> None:
    clip = _video(tmp_path)
    early = prestart_provenance_check(clip)
    assert early is not None and prestart_provenance_check(clip) is early  # started once
    assert start_provenance_check(Path(os.path.relpath(clip))) is early  # the same file, another spelling
    again = start_provenance_check(clip)
    assert again is not early  # taken over once; the next scan of the file starts its own
    stale = prestart_provenance_check(clip)
    clip.write_bytes(b"changed after the early start")
    os.utime(clip, ns=(1, 1))
    fresh = start_provenance_check(clip)
    assert fresh is not stale
    for c in (early, again, stale, fresh):
        c.end()
        assert c.result() is not None
    assert prestart_provenance_check(tmp_path / "missing.mp4") is None
