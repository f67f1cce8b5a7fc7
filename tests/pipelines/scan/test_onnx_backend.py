"""The ONNX Runtime detector backend: parity with the torch detectors, no torch import, refused ONNX files."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines.scan import DEFAULT_DETECTOR, crop_policy, load_torch_detector
from deepfake_lab.pipelines.scan.onnx_backend import (
    OnnxRefused,
    OnnxUnavailable,
    load_onnx_detector,
    onnx_status,
    try_load_onnx,
)
from support.crops import face_crops

ASSETS = DEFAULT_DETECTOR.parent
PARITY_TOL = 1e-4  # measured: <= 3e-7 (scripts/export_onnx.py records it in the cards)
LOGIT_TOL = 1e-3  # measured: <= 6e-6


@pytest.mark.parametrize("name", ["default", "fast"])
def test_probabilities_match_torch(name: str) -> None:
    torch_det = load_torch_detector(name)
    torch_det.choose_precision("fp32")
    det = load_onnx_detector(ASSETS / f"detector-{name}.safetensors")
    assert (det.crop_size, det.align_size, det.margin, det.channels) == (
        torch_det.crop_size,
        torch_det.align_size,
        torch_det.margin,
        torch_det.channels,
    )
    crops = face_crops(det.crop_size)
    want = torch_det.predict(crops)
    got = det.predict(crops)
    one_by_one = np.concatenate([det.predict(crops[i : i + 1]) for i in range(len(crops))])
    assert got.dtype == np.float32 and got.shape == (len(crops),)
    assert np.abs(got - want).max() <= PARITY_TOL
    assert np.abs(one_by_one - want).max() <= PARITY_TOL
    assert np.ptp(want) > 1e-3  # the variants do move the score: the comparison is not between constants
    # logits too: the default detector's probabilities of these unaligned crops sit near 1, where they are flat
    with torch.inference_mode():
        want_logits = torch_det.net(torch_det.prepare(crops))["logits"].reshape(-1).numpy()
    (got_logits,) = det.session.run(["logits"], {"input": det.prepare(crops)})
    assert np.abs(got_logits.reshape(-1) - want_logits).max() <= LOGIT_TOL
    assert np.ptp(want_logits) > 0.5
    assert det.predict(crops[:0]).shape == (0,)
    assert det.summary().keys() == torch_det.summary().keys()
    assert det.summary()["weights_sha256"] == torch_det.sha256
    assert det.summary()["crop"] == torch_det.summary()["crop"]


@pytest.mark.parametrize("name", ["default", "fast"])
def test_shipped_onnx_forms_are_current(name: str) -> None:
    weights = ASSETS / f"detector-{name}.safetensors"
    card = json.loads(weights.with_suffix(".json").read_text())
    try:
        path = onnx_status(weights, card)
    except OnnxRefused as exc:
        pytest.fail(f"{exc}: rerun scripts/export_onnx.sh --install after shipping new weights")
    assert path == weights.with_suffix(".onnx")
    assert card["inference"]["onnx"]["parity"]["max_abs_prob_diff"] <= PARITY_TOL


def test_scoring_does_not_import_torch() -> None:
    code = f"""
        import sys
        import numpy as np
        from deepfake_lab.pipelines.scan.onnx_backend import load_onnx_detector
        det = load_onnx_detector({str(ASSETS / "detector-default.safetensors")!r})
        p = det.predict(np.full((3, det.crop_size, det.crop_size, 3), 128, np.uint8))
        print(p.shape[0], det.backend_info()["name"])
        print(*[m in sys.modules for m in ("torch", "scipy", "sklearn")])
        """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "onnxruntime", "False", "False", "False"]


def _copy_fast(tmp_path: Path) -> Path:
    for suffix in (".safetensors", ".json", ".onnx"):
        shutil.copyfile(ASSETS / f"detector-fast{suffix}", tmp_path / f"detector-fast{suffix}")
    return tmp_path / "detector-fast.safetensors"


def _edit_card(weights: Path, **onnx: object) -> dict:
    path = weights.with_suffix(".json")
    card = json.loads(path.read_text())
    card["inference"]["onnx"].update(onnx)
    path.write_text(json.dumps(card))
    return card


def test_tampered_onnx_is_refused_and_torch_is_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    weights = _copy_fast(tmp_path)
    assert load_onnx_detector(weights).predict(face_crops(64)[:1]).shape == (1,)  # the untouched copy loads
    onnx = weights.with_suffix(".onnx")
    data = bytearray(onnx.read_bytes())
    data[-100] ^= 0xFF
    onnx.write_bytes(bytes(data))
    with caplog.at_level(logging.INFO, logger="deepfake_lab.pipelines.scan.onnx_backend"):
        det, reason = try_load_onnx(weights)
    assert det is None
    assert "SHA-256" in reason and "detector-fast.onnx" in reason
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    with pytest.raises(OnnxRefused, match="SHA-256"):
        load_onnx_detector(weights)


def test_stale_or_misplaced_onnx_is_refused(tmp_path: Path) -> None:
    weights = _copy_fast(tmp_path)
    card = _edit_card(weights, weights_sha256="0" * 64)
    with pytest.raises(OnnxRefused, match="exported from other weights"):
        onnx_status(weights, card)
    shipped = json.loads((ASSETS / "detector-fast.json").read_text())["inference"]["onnx"]
    card = _edit_card(weights, weights_sha256=shipped["weights_sha256"], file="../detector-fast.onnx")
    with pytest.raises(OnnxRefused, match="outside its folder"):
        onnx_status(weights, card)
    card = _edit_card(weights, file="detector-fast.onnx")
    weights.with_suffix(".onnx").unlink()
    with pytest.raises(OnnxRefused, match="missing"):
        onnx_status(weights, card)


def test_card_without_onnx_falls_back_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    weights = _copy_fast(tmp_path)
    card = json.loads(weights.with_suffix(".json").read_text())
    del card["inference"]
    with caplog.at_level(logging.INFO, logger="deepfake_lab.pipelines.scan.onnx_backend"):
        det, reason = try_load_onnx(weights, card)
    assert det is None and "names no ONNX form" in reason
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    with pytest.raises(OnnxUnavailable) as exc:
        load_onnx_detector(weights, card)
    assert not isinstance(exc.value, OnnxRefused)


def test_without_onnxruntime_the_reason_says_so() -> None:
    code = f"""
        import sys
        sys.modules["onnxruntime"] = None  # as if it were not installed
        from deepfake_lab.pipelines.scan.onnx_backend import try_load_onnx
        det, reason = try_load_onnx({str(ASSETS / "detector-fast.safetensors")!r})
        print(det is None, reason.startswith("onnxruntime does not import"))
        """
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]


def test_precision_and_bad_crops() -> None:
    det = load_onnx_detector(ASSETS / "detector-fast.safetensors")
    assert det.choose_precision("auto") == det.choose_precision("fp32") == "fp32"
    with pytest.raises(BadInputError, match="torch"):
        det.choose_precision("bf16")
    with pytest.raises(BadInputError, match="auto, fp32 or bf16"):
        det.choose_precision("fp16")
    with pytest.raises(BadInputError, match=r"\(N, 64, 64, 3\)"):
        det.predict(np.zeros((2, 32, 32, 3), np.uint8))


def test_crop_policy_reads_the_card() -> None:
    card = json.loads((ASSETS / "detector-default.json").read_text())
    assert crop_policy(card) == (112, 128, 0.1)
    assert crop_policy({"input": {"shape": [3, 96, 96]}}) == (96, None, 0.2)
    with pytest.raises(BadInputError, match="not a detector"):
        load_onnx_detector(ASSETS / "dcgan32-fashion-mnist.safetensors")
