"""Detection, landmarks and tracking on a real face photo crop shipped in tests/data (no corpus needed)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepfake_lab.errors import BadInputError
from deepfake_lab.faces import (
    DETECTORS,
    Face,
    FaceAnalyzer,
    FaceDetector,
    FaceTracker,
    MediaPipeDetector,
    create_detector,
    landmark_box,
    list_detectors,
    register_detector,
)
from deepfake_lab.faces import detect as detect_mod
from deepfake_lab.registry import Registry
from deepfake_lab.video import read_image
from support import FIXTURES

FACE_JPG = FIXTURES / "grace_hopper_face.jpg"


@pytest.fixture(scope="module")
def face_rgb() -> np.ndarray:
    return read_image(FACE_JPG)


@pytest.fixture(scope="module")
def detector():
    det = create_detector("mediapipe")
    with det:
        yield det


def moving_frames(face: np.ndarray, n: int = 12, size: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    """The face pasted on a gray canvas, drifting right and slightly turning, one frame per step."""
    w, h = size
    frames = []
    for i in range(n):
        m = cv2.getRotationMatrix2D((96, 112), 1.5 * i, 1.0)
        m[:, 2] += (20 + 6 * i, 8 + i)
        canvas = cv2.warpAffine(face, m, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=(90, 90, 90))
        frames.append(canvas)
    return frames


def test_registry() -> None:
    assert "mediapipe" in list_detectors()
    assert isinstance(create_detector("mediapipe"), MediaPipeDetector)
    with pytest.raises(BadInputError, match="unknown face detector"):
        create_detector("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_detector("mediapipe")(MediaPipeDetector)


def test_detects_one_face_with_consistent_landmarks(detector: FaceDetector, face_rgb: np.ndarray) -> None:
    faces = detector(face_rgb)
    assert len(faces) == 1
    f = faces[0]
    assert f.score > 0.7
    assert f.mesh is not None and f.mesh.shape == (478, 3) and f.mesh.dtype == np.float32
    h, w = face_rgb.shape[:2]
    x0, y0, x1, y1 = f.bbox
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    assert np.allclose(f.bbox, landmark_box(f.mesh))
    p68, p5 = f.landmarks68, f.landmarks5
    assert p68.shape == (68, 2) and p5.shape == (5, 2)
    # dlib convention: first eye / jaw start on the image left; nose between the eyes; mouth below the nose.
    assert p68[36:42, 0].mean() < p68[42:48, 0].mean()
    assert p68[0, 0] < p68[8, 0] < p68[16, 0]
    assert p68[8, 1] == pytest.approx(p68[:17, 1].max(), abs=2)  # chin is the lowest jaw point
    assert p5[0, 0] < p5[2, 0] < p5[1, 0]
    assert p5[2, 1] < p5[3, 1] and p5[3, 0] < p5[4, 0]
    eye_dist = np.linalg.norm(p5[0] - p5[1])
    assert 0.25 * f.size < eye_dist < 0.6 * f.size


def test_no_face_on_non_faces(detector: FaceDetector) -> None:
    rng = np.random.default_rng(0)
    assert detector(np.zeros((240, 320, 3), np.uint8)) == []
    assert detector((rng.random((240, 320, 3)) * 255).astype(np.uint8), exhaustive=True) == []
    grad = np.repeat(np.linspace(0, 255, 320, dtype=np.uint8)[None, :, None], 240, 0).repeat(3, 2)
    assert detector(np.ascontiguousarray(grad)) == []


def test_two_faces(detector: FaceDetector, face_rgb: np.ndarray) -> None:
    pair = np.ascontiguousarray(np.concatenate([face_rgb, face_rgb[:, ::-1]], axis=1))
    faces = detector(pair, exhaustive=True)
    assert len(faces) == 2
    xs = sorted(float(f.bbox[0]) for f in faces)
    assert xs[0] < face_rgb.shape[1] <= xs[1]


def test_rejects_bad_arrays(detector: FaceDetector) -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        detector(np.zeros((10, 10), np.uint8))


def test_analyzer_tracks_one_face(detector: FaceDetector, face_rgb: np.ndarray) -> None:
    frames = moving_frames(face_rgb)
    full = FaceAnalyzer(detector, detect_every=1)
    per_frame = [full(f) for f in frames]
    assert all(len(fs) == 1 for fs in per_frame)
    assert {fs[0].track_id for fs in per_frame} == {0}
    assert full.detections_run == len(frames)

    fast = FaceAnalyzer(detector, detect_every=4)
    tracked = [fast(f) for f in frames]
    assert all(len(fs) == 1 for fs in tracked)
    assert {fs[0].track_id for fs in tracked} == {0}
    assert fast.detections_run == 3  # frames 0, 4, 8
    assert sum(fs[0].tracked for fs in tracked) == len(frames) - 3
    for a, b in zip(per_frame, tracked, strict=True):
        err = np.linalg.norm(a[0].landmarks68 - b[0].landmarks68, axis=1).mean()
        assert err < 0.03 * a[0].size

    fast.reset()
    assert fast(frames[0])[0].track_id == 0


def test_tracker_ids_follow_faces_not_order() -> None:
    def face(x: float) -> Face:
        return Face(bbox=np.array([x, 10, x + 50, 60], np.float32), score=0.9)

    tr = FaceTracker(max_age=2)
    a, b = tr.update([face(0), face(200)])
    assert (a.track_id, b.track_id) == (0, 1)
    b2, a2 = tr.update([face(205), face(4)])  # order swapped, small motion
    assert (a2.track_id, b2.track_id) == (0, 1)
    for _ in range(3):
        tr.update([])
    (c,) = tr.update([face(8)])
    assert c.track_id == 2  # the old tracks expired


def test_detector_registry_names_unknown_and_duplicate() -> None:
    assert DETECTORS.names() == list_detectors() and "mediapipe" in DETECTORS
    with pytest.raises(BadInputError, match=r"unknown face detector 'haar'; known: .*mediapipe"):
        create_detector("haar")
    with pytest.raises(ValueError, match="'mediapipe' is already registered"):
        register_detector("mediapipe")(FaceDetector)
    assert DETECTORS.get("mediapipe").factory is MediaPipeDetector and MediaPipeDetector.name == "mediapipe"


def test_custom_detector_plugin_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class Fake(FaceDetector):
        def load(self) -> None:
            calls.append("load")

        def detect(self, image: np.ndarray, exhaustive: bool = False) -> list[Face]:
            calls.append("detect")
            return [Face(bbox=np.array([10, 10, 60, 60], np.float32), score=0.8)]

        def landmarks(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
            calls.append("landmarks")
            for f in faces:
                f.mesh = np.zeros((478, 3), np.float32) + [[35, 35, 0]]
                f.mesh[:10, :2] += np.random.default_rng(0).normal(0, 10, (10, 2)).astype(np.float32)
            return faces

    monkeypatch.setattr(detect_mod, "DETECTORS", Registry("face detector"))  # the plugin is gone afterwards
    register_detector("fake-test")(Fake)
    analyzer = FaceAnalyzer(create_detector("fake-test"), detect_every=2)
    img = np.zeros((100, 100, 3), np.uint8)
    analyzer(img)
    analyzer(img)
    assert calls == ["load", "detect", "landmarks", "landmarks"]  # frame 2: track -> landmarks only
    assert "fake-test" not in DETECTORS


def test_mediapipe_native_logs_are_silenced(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        from deepfake_lab.faces import create_detector
        from deepfake_lab.video import read_image
        img = read_image({str(FACE_JPG)!r})
        with create_detector("mediapipe") as det:
            print(len(det(img)))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
    assert out.stderr.strip() == ""
