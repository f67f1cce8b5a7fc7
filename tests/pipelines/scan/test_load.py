"""`load_detector` picks ONNX Runtime where it can (same scores, no torch import) and torch where it must."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines.scan import BACKEND_ENV, load_detector
from deepfake_lab.pipelines.scan.schema import validate
from support.crops import FACE_JPG, face_crops

pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("name", [None, "fast"])
def test_shipped_detectors_run_on_onnx_runtime_with_the_torch_scores(name: str | None) -> None:
    ort_det = load_detector(name)
    torch_det = load_detector(name, backend="torch")
    assert ort_det.backend == "onnxruntime" and torch_det.backend == "torch"
    torch_det.choose_precision("fp32")
    assert ort_det.choose_precision("auto") == "fp32"
    crops = face_crops(ort_det.crop_size)
    np.testing.assert_allclose(ort_det.predict(crops), torch_det.predict(crops), atol=1e-5)
    s = ort_det.summary()
    assert s["backend"]["name"] == "onnxruntime" and s["backend"]["file"].endswith(".onnx")
    assert s["weights_sha256"] == torch_det.summary()["weights_sha256"]
    assert ort_det.torch_model().backend == "torch"  # for Grad-CAM, loaded on demand


def test_settings_that_need_torch_get_torch_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    det = load_detector(precision="bf16")
    assert det.backend == "torch" and "bf16" in det.summary()["backend"]["reason"]
    monkeypatch.setenv(BACKEND_ENV, "torch")
    assert load_detector().backend == "torch"
    monkeypatch.setenv(BACKEND_ENV, "tensorflow")
    with pytest.raises(BadInputError, match="backend must be one of"):
        load_detector()


def test_a_detector_without_an_onnx_form_runs_on_torch(tiny_detector: Path) -> None:
    det = load_detector(tiny_detector)
    assert det.backend == "torch" and "no ONNX form" in det.summary()["backend"]["reason"]
    with pytest.raises(BadInputError, match="ONNX Runtime backend cannot run this detector"):
        load_detector(tiny_detector, backend="onnxruntime")


def test_detect_a_photo_without_importing_torch_and_report_grad_cam(tmp_path: Path) -> None:
    """The everyday path: `detect photo.jpg` on the shipped detector never imports torch (nor jinja2 when no
    report is asked for); a report still gets its Grad-CAM maps (the same weights loaded in torch for those
    few crops)."""
    out, report = tmp_path / "scan.json", tmp_path / "scan.html"
    code = (
        "import sys\n"
        "from deepfake_lab.cli import main\n"
        f"try:\n    main(['detect', {str(FACE_JPG)!r}, '--json', {str(out)!r}, '-q', '--no-provenance'])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print('torch' in sys.modules, 'scipy' in sys.modules, 'sklearn' in sys.modules, 'jinja2' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-4:] == ["False", "False", "False", "False"], proc.stdout  # no report templates
    doc = json.loads(out.read_text())
    validate(doc)
    assert doc["model"]["backend"]["name"] == "onnxruntime" and doc["model"]["precision"] == "fp32"
    proc = subprocess.run(
        [sys.executable, "-m", "deepfake_lab", "detect", str(FACE_JPG), "--report", str(report), "-q",
         "--no-provenance"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert 'alt="Grad-CAM map of frame' in report.read_text()
