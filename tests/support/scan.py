"""Builders for the scan tests; their fixtures (`scan_media`: tiny videos of a real face photo;
`tiny_detector`: a meso4 trained in seconds) are in conftest.py.

"Fake" here is a crude manipulation (red and blue channels swapped inside the face box) that a Meso-4 learns in a
few dozen steps, so that the tests can check that scores follow the manipulated frames and faces.
"""

from __future__ import annotations

import numpy as np

CROP, MARGIN = 64, 0.1
N_REAL, N_FAKE, N_BLANK = 10, 10, 4


def fake_frames(frames: list[np.ndarray]) -> list[np.ndarray]:
    from deepfake_lab.faces import create_detector

    out = []
    with create_detector("mediapipe") as det:
        for frame in frames:
            g = frame.copy()
            for f in det(frame):
                x0, y0, x1, y1 = (max(0, int(v)) for v in f.bbox)
                g[y0:y1, x0:x1] = g[y0:y1, x0:x1, ::-1]
            out.append(g)
    return out
