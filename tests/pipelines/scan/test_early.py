"""Decoding a file before its scan exists (`pipelines.scan.early`), and the byte bound of `Prefetcher`."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from deepfake_lab.pipelines.scan import ScanOptions, load_detector, scan_file
from deepfake_lab.pipelines.scan import early as early_mod
from deepfake_lab.pipelines.scan.early import discard_untaken, prestart_frames, take_frames
from deepfake_lab.video import Prefetcher
from deepfake_lab.video.reader import Frame


@pytest.fixture(autouse=True)
def _nothing_left_prestarted():
    yield
    discard_untaken()


def _frames(n: int, side: int = 32) -> list[Frame]:
    return [Frame(np.full((side, side, 3), i, np.uint8), i, i / 10) for i in range(n)]


def _settle(feed: Prefetcher, waiting: int) -> int:
    """Items waiting in `feed` once its thread stopped for room (5 s at most)."""
    deadline = time.monotonic() + 5.0
    while len(feed._items) < waiting and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # would it go further?
    return len(feed._items)


def test_prefetcher_holds_frames_up_to_max_bytes_then_up_to_the_new_limit() -> None:
    frames = _frames(40)
    size = frames[0].image.nbytes
    feed = Prefetcher(iter(frames), depth=2, max_bytes=10 * size)
    try:
        assert _settle(feed, 10) == 10  # ten frames fit in the bytes, more than the depth of 2
        feed.limit(3)  # the scan started: the bytes no longer count
        it = iter(feed)
        got = [next(it).index for _ in range(9)]  # drains to below 3 waiting, then decodes on
        assert got == list(range(9))
        assert _settle(feed, 3) == 3
        assert [f.index for f in it] == list(range(9, 40))  # nothing lost or reordered
    finally:
        feed.close()
    assert not feed._thread.is_alive()


def test_a_prestarted_video_is_taken_over_once_for_the_same_file_and_every(scan_media, tmp_path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(scan_media["mixed"].read_bytes())
    prestart_frames(clip, every=2)
    prestart_frames(Path(os.path.relpath(clip)), every=2)  # the same file: started once
    early = take_frames(Path(os.path.relpath(clip)), every=2)
    assert early is not None
    reader, feed = early
    try:
        feed.limit(4)
        indices = [f.index for f in feed]
        assert indices == list(range(0, reader.info.frame_count or 0, 2)) and indices
    finally:
        feed.close()
        reader.close()
    assert take_frames(clip, every=2) is None  # taken once
    prestart_frames(clip, every=1)
    assert take_frames(clip, every=3) is None  # another `every`: the scan opens the file itself
    prestart_frames(clip, every=1)
    (stale,) = early_mod._EARLY.values()
    os.utime(clip, ns=(1, 1))  # the file changed after the early start
    assert take_frames(clip, every=1) is None
    assert stale.reader is None and stale.feed is None and not early_mod._EARLY  # closed, not left decoding
    for path in (scan_media["face"], tmp_path / "missing.mp4", tmp_path):
        prestart_frames(path)  # a still decodes nothing ahead; no file: nothing starts
        assert take_frames(path, every=1) is None
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    prestart_frames(broken)
    assert take_frames(broken, every=1) is None  # the scan reports it, as without the early start


def test_untaken_prestarts_are_closed_at_exit(scan_media, tmp_path) -> None:
    clip = tmp_path / "left.mp4"
    clip.write_bytes(scan_media["real"].read_bytes())
    prestart_frames(clip)
    (left,) = [e for e in early_mod._EARLY.values() if e.path == clip]
    left.opened.wait()
    thread = left.feed._thread if left.feed is not None else None
    discard_untaken()
    assert left.feed is None and left.reader is None and not early_mod._EARLY
    assert thread is not None and not thread.is_alive()


def test_detect_leaves_nothing_decoding_when_it_fails_before_the_scan(scan_media, tmp_path, capsys) -> None:
    from deepfake_lab.cli import main

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(scan_media["real"].read_bytes())
    taken = tmp_path / "taken.json"
    taken.write_text("{}")  # not an earlier scan output: detect refuses to replace it
    started = []
    real_prestart = early_mod.prestart_frames

    def spy(path, every=1, max_bytes=early_mod.EARLY_BYTES):
        real_prestart(path, every, max_bytes)
        started.extend(early_mod._EARLY.values())

    early_mod.prestart_frames = spy
    try:
        with pytest.raises(SystemExit) as exc:
            main(["detect", str(clip), "--json", str(taken), "-q"])
    finally:
        early_mod.prestart_frames = real_prestart
    assert exc.value.code != 0 and taken.read_text() == "{}"
    assert started and not early_mod._EARLY  # it had started, and the command closed it
    assert all(e.reader is None and e.feed is None for e in started)


def test_a_scan_of_a_prestarted_file_gives_the_same_result(scan_media, tiny_detector, tmp_path) -> None:
    model = load_detector(tiny_detector)
    clip = tmp_path / "mixed.mp4"
    clip.write_bytes(scan_media["mixed"].read_bytes())
    opt = ScanOptions(detect_every=3, precision="fp32")
    plain = scan_file(clip, model, opt, provenance=False)
    prestart_frames(clip, every=1)
    assert early_mod._EARLY  # waiting for the scan
    prestarted = scan_file(clip, model, opt, provenance=False)
    assert not early_mod._EARLY  # the scan took it
    assert [fr.index for fr in prestarted.frames] == [fr.index for fr in plain.frames]
    assert [fr.prob for fr in prestarted.frames] == pytest.approx([fr.prob for fr in plain.frames], abs=1e-6)
    assert prestarted.status == plain.status == "ok"
