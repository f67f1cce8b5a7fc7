"""The frame loop's batching: the last batch of a file is shared by the workers, frames stay in order."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from deepfake_lab.pipelines.callbacks import ScanProgress
from deepfake_lab.pipelines.scan.options import ScanOptions
from deepfake_lab.pipelines.scan.result import FaceScore, FileScan, FrameScore
from deepfake_lab.pipelines.scan.scanner import FrameScanner, _Face, _Pending


def test_the_last_batch_is_cut_at_frame_boundaries_into_one_part_per_worker() -> None:
    with ThreadPoolExecutor(2) as pool:
        sc = FrameScanner(None, None, ScanOptions(), FileScan(source="clip.mp4"), ScanProgress(), pool,  # type: ignore[arg-type]
                          None, exhaustive=False, workers=2)  # fmt: skip
    img = np.zeros((4, 4, 3), np.uint8)
    for i in range(12):
        rec = FrameScore(index=i, time=i / 25)
        sc.batch_frames.append(_Pending(rec, None))
        for t in range(i % 3):  # 0, 1 or 2 faces per frame
            sc.faces.append(_Face(img, np.zeros((478, 3)), FaceScore(track=t, box=(0, 0, 1, 1)), rec))
    parts = sc._parts(2)
    assert len(parts) == 2
    assert [p for _, frames in parts for p in frames] == sc.batch_frames  # in order, none lost
    assert [f for faces, _ in parts for f in faces] == sc.faces
    for faces, frames in parts:
        assert {id(f.rec) for f in faces} <= {id(p.rec) for p in frames}  # a frame's faces travel with it
    assert abs(len(parts[0][0]) - len(parts[1][0])) <= 2
    assert sc._parts(1) == [(sc.faces, sc.batch_frames)]
    sc.faces = sc.faces[:3]  # too few faces to be worth cutting
    assert len(sc._parts(2)) == 1
