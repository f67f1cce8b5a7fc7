"""`video.feed` and `video.live`: frames handed over by a background thread (realtime pacing that drops stale
frames) and what counts as a live source."""

from __future__ import annotations

import time

import numpy as np

from deepfake_lab.video import Frame, RealtimeFeed, is_live_source


def test_realtime_drops_frames_to_bound_latency() -> None:
    frames = (Frame(np.zeros((4, 4, 3), np.uint8), i, i / 100) for i in range(60))  # 100 fps source
    rt = RealtimeFeed(frames, max_latency=0.05, pace=True)
    got, lags = [], []
    t0 = time.perf_counter()
    for fr in rt:
        lags.append(time.perf_counter() - t0 - fr.time)
        got.append(fr.index)
        time.sleep(0.03)  # a consumer 3x slower than the source
    rt.close()
    assert rt.dropped > 10 and len(got) + rt.dropped == 60
    assert got == sorted(got) and got[-1] == 59
    assert max(lags) < 0.05 + 0.03 + 0.2  # latency bound + one processing step + slack for a busy machine


def test_live_sources_are_urls_devices_and_capture_specs() -> None:
    assert is_live_source("rtsp://cam/stream") and is_live_source("/dev/video0") and is_live_source("lavfi:testsrc")
    assert not is_live_source("clip.mp4") and not is_live_source("C:/videos/a.mp4") and not is_live_source("a:b.mp4")
