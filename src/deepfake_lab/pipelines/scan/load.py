"""`load_detector`: the detector a scan runs, on ONNX Runtime where it can, else on torch.

ONNX Runtime runs the shipped detectors 3-6x faster than eager torch per crop on a CPU and starts without
torch (~1.7 s of imports saved), which is what makes a one-photo `detect` quick. It is used when the device
is the CPU, the precision is fp32 (or auto), the detector's card names a verified ONNX form of its weights
(see `scan.onnx_backend.onnx_status`) and `onnxruntime` imports; otherwise the torch model runs, and the
reason is kept in the result (`model.backend.reason`). Both give the same probabilities to ~1e-6.

Example:
    >>> det = load_detector()  # the shipped detector  # doctest: +SKIP
    >>> det.backend, det.predict(crops)  # doctest: +SKIP
    ('onnxruntime', array([0.01, 0.97], dtype=float32))
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from deepfake_lab.errors import BadInputError
from deepfake_lab.models.cards import read_card, resolve_export
from deepfake_lab.pipelines.scan.detector import PRECISION_ENV, Detector, load_torch_detector, resolve_detector_path
from deepfake_lab.pipelines.scan.onnx_backend import try_load_onnx

__all__ = ["BACKENDS", "BACKEND_ENV", "Backend", "load_detector"]

Backend = Literal["auto", "onnxruntime", "torch"]
BACKENDS: tuple[str, ...] = ("auto", "onnxruntime", "torch")
BACKEND_ENV = "DEEPFAKE_LAB_BACKEND"
"""Environment variable choosing the inference backend (auto, onnxruntime, torch)."""


def _torch_reason(device: str, precision: str) -> str | None:
    """Why these settings need the torch model (None = ONNX Runtime may run them)."""
    if device != "cpu":
        return f"device {device} runs on torch"
    forced = os.environ.get(PRECISION_ENV, "").strip().lower()
    if precision == "bf16" or (precision == "auto" and forced == "bf16"):
        return "bf16 runs on torch (ONNX Runtime computes in fp32)"
    return None


def load_detector(
    path: str | Path | None = None,
    device: str = "cpu",
    *,
    backend: Backend | str = "auto",
    precision: str = "auto",
    threads: int = 1,
) -> Detector:
    """Load an exported detector (run dir, export dir, .safetensors or card), or the default one.

    Args:
        path: the detector (see `scan.detector.resolve_detector_path`: default, `$DEEPFAKE_LAB_DETECTOR`, or a
            shipped preset name such as ``fast``).
        device: "cpu", "cuda" or "cuda:N" (ONNX Runtime runs on the CPU only).
        backend: "auto" (ONNX Runtime where it can, else torch), "onnxruntime" (an error where it cannot) or
            "torch". `$DEEPFAKE_LAB_BACKEND` sets it when "auto" is given.
        precision: the precision the scan will ask for ("auto", "fp32", "bf16"): bf16 needs torch.
        threads: ONNX Runtime intra-op threads (fixed when its session is made).

    Raises:
        BadInputError: no such export, not a detector, weights that do not match the card, no default, a
            bad backend name, or `backend="onnxruntime"` where it cannot run.
    """
    if backend == "auto":
        backend = os.environ.get(BACKEND_ENV, "").strip().lower() or "auto"
    if backend not in BACKENDS:
        raise BadInputError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "torch":
        return load_torch_detector(path, device)
    reason = _torch_reason(device, precision)
    if reason is None:
        try:
            st, card_path = resolve_export(resolve_detector_path(path))
            card = read_card(card_path)
        except BadInputError:
            card = None  # the torch loader below says what is wrong, in its words
        if card is not None and card.get("family") == "detector":
            det, reason = try_load_onnx(st, card, threads=threads)
            if det is not None:
                return det
        elif card is not None:
            reason = "not a detector card"
    if reason is None:
        reason = "no readable detector card"
    if backend == "onnxruntime":
        raise BadInputError(f"the ONNX Runtime backend cannot run this detector: {reason}")
    torch_det = load_torch_detector(path, device)
    torch_det.backend_reason = reason
    return torch_det
