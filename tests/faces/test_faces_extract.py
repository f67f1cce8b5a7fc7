"""Per-frame face extraction (`faces.extract.FaceExtractor`) on a real face photo crop (no corpus needed)."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_lab.errors import BadInputError
from deepfake_lab.faces import create_detector
from deepfake_lab.faces.extract import ExtractOptions, FaceExtractor
from deepfake_lab.video import read_image
from support import FIXTURES

RECORD_KEYS = ["frame", "time", "track", "bbox", "landmarks", "landmarks5", "matrix", "size", "scores", "tracked"]


@pytest.fixture(scope="module")
def face_rgb() -> np.ndarray:
    return read_image(FIXTURES / "grace_hopper_face.jpg")


@pytest.fixture(scope="module")
def detector():
    det = create_detector("mediapipe")
    yield det
    det.close()


def test_one_face_is_aligned_with_its_record(face_rgb: np.ndarray, detector) -> None:
    with FaceExtractor(ExtractOptions(size=64, save_masks=True), detector) as fx:
        out = fx(face_rgb, index=7, time=0.25, exhaustive=True)
    assert (out.found, len(out.crops), out.rejected) == (1, 1, [])
    crop = out.crops[0]
    assert crop.name == "000007_t000.png" and crop.image.shape == (64, 64, 3) and crop.image.dtype == np.uint8
    assert crop.mask is not None and crop.mask.shape == (64, 64) and crop.mask.dtype == np.uint8
    assert 0 < int(crop.mask.mean()) < 255  # a hull, not an empty or full square
    assert list(crop.record) == RECORD_KEYS  # the key order of faces.jsonl
    assert crop.record["frame"] == 7 and crop.record["time"] == 0.25 and crop.record["size"] == 64
    assert len(crop.record["landmarks"]) == 68 and np.asarray(crop.record["matrix"]).shape == (2, 3)
    assert detector.name == "mediapipe"  # a given detector is not closed by the extractor
    assert len(detector(face_rgb)) == 1


def test_rejected_faces_are_counted_by_reason(face_rgb: np.ndarray, detector) -> None:
    fx = FaceExtractor(ExtractOptions(size=64, min_size=10_000), detector)
    out = fx(face_rgb, 0, 0.0, exhaustive=True)
    assert (out.found, out.crops, out.rejected) == (1, [], ["size"])
    fx = FaceExtractor(ExtractOptions(size=64, min_blur=1e9), detector)
    out = fx(face_rgb, 0, 0.0, exhaustive=True)
    assert (out.found, out.crops, out.rejected) == (1, [], ["blur"])


def test_options_are_validated_and_name_the_detector_arguments() -> None:
    with pytest.raises(BadInputError, match="size must be in 16..2048"):
        FaceExtractor(ExtractOptions(size=8))
    opts = ExtractOptions(model_range="full", min_score=0.9)
    assert opts.detector_kwargs() == {"model_range": "full", "min_score": 0.5}
    assert list(opts.output_values()) == list(ExtractOptions.OUTPUT_OPTIONS)
    assert "png_compression" not in opts.output_values() and "png_compression" in opts.as_record()
