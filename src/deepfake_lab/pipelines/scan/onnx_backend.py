"""ONNX Runtime backend for detectors: the scanner's `DetectorModel` contract without importing torch.

A detector card may name an ONNX form of its weights (written by `scripts/export_onnx.sh`)::

    "inference": {"onnx": {"file": "detector-default.onnx", "sha256": "...", "opset": 17,
                           "weights_sha256": "<sha256 of the .safetensors it was exported from>", ...}}

`onnx_status` says whether that form can be used: the file exists, its SHA-256 is the card's, the weights
beside the card are the ones it was exported from (a retrained detector with a stale ONNX file is refused),
and `onnxruntime` imports. `load_onnx_detector` then builds an `OnnxDetector`: one intra-op thread, spinning
off (on 2 shared vCPUs a spinning pool starves the decoder and the face detector), and the same call contract
as the torch `DetectorModel` - `crop_size`, `align_size`, `margin`, `channels`, `prepare`, `predict` (uint8
crops -> probabilities of FAKE), `choose_precision`, `summary`. It computes in float32 only; bf16 and Grad-CAM
stay with the torch model. `try_load_onnx` returns None plus the reason (logged) where the torch model must
be used instead.

This module imports neither torch nor scipy/scikit-learn, so a scan that uses it starts without them.

Example:
    >>> det = load_onnx_detector(ASSETS / "detector-default.safetensors")  # doctest: +SKIP
    >>> det.predict(crops)  # crops: (N, det.crop_size, det.crop_size, 3) uint8 RGB -> (N,) float32
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_lab.errors import BadInputError, DeepfakeLabError, OptionError, Ref
from deepfake_lab.fsutil import sha256_file
from deepfake_lab.models.cards import read_card
from deepfake_lab.pipelines.scan.detector import (
    DetectorModel,
    LoadedDetector,
    crop_policy,
    load_torch_detector,
    summary_dict,
)

__all__ = [
    "OnnxDetector",
    "OnnxRefused",
    "OnnxUnavailable",
    "load_onnx_detector",
    "onnx_status",
    "try_load_onnx",
]

log = logging.getLogger(__name__)

GRAY = np.array([0.299, 0.587, 0.114], np.float32).reshape(1, 3, 1, 1)
"""RGB -> luma weights of a one-channel detector (as `DetectorModel.prepare`)."""


class OnnxUnavailable(DeepfakeLabError):
    """The card's ONNX form cannot be used here (none, or no onnxruntime); use the torch model."""


class OnnxRefused(OnnxUnavailable):
    """The card names an ONNX file that must not be run: missing, another SHA-256, exported from other weights,
    or not loadable (logged as a warning; the torch model is used)."""


def onnx_status(weights: Path, card: dict[str, Any], weights_sha256: str | None = None) -> Path:
    """The verified ONNX file of a detector (`weights`: its .safetensors; `card`: its card).

    Args:
        weights_sha256: SHA-256 of `weights` when the caller has it (else it is computed).

    Raises:
        OnnxUnavailable: the card names no ONNX form; OnnxRefused: it names one that must not be run (missing,
            another SHA-256, exported from other weights). The caller falls back to torch.
    """
    entry = (card.get("inference") or {}).get("onnx") if isinstance(card.get("inference"), dict) else None
    if not isinstance(entry, dict) or not entry.get("file") or not entry.get("sha256"):
        raise OnnxUnavailable(f"the card of {weights.name} names no ONNX form")
    name = str(entry["file"])
    if Path(name).name != name:
        raise OnnxRefused(f"the card of {weights.name} names an ONNX file outside its folder ({name!r})")
    path = weights.parent / name
    if not path.is_file():
        raise OnnxRefused(f"{name} (named by the card of {weights.name}) is missing")
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise OnnxRefused(f"{name} has SHA-256 {digest[:12]}…, the card says {str(entry['sha256'])[:12]}…")
    if entry.get("weights_sha256") != (weights_sha256 or sha256_file(weights)):
        raise OnnxRefused(f"{name} was exported from other weights than {weights.name} (rerun export_onnx)")
    return path


def _session(path: Path, threads: int) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise OnnxUnavailable(f"onnxruntime does not import ({exc})") from None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.log_severity_level = 3  # errors only
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own (Fail, InvalidGraph, ...) classes
        raise OnnxRefused(f"onnxruntime cannot load {path.name} ({str(exc).splitlines()[0][:160]})") from None


@dataclass(kw_only=True)
class OnnxDetector(LoadedDetector):
    """A detector run by ONNX Runtime, with the attributes and methods of the scanner's `DetectorModel`.

    Attributes (besides `LoadedDetector`'s; `sha256` is that of the .safetensors the ONNX file was exported
    from, what `summary()` reports, as for the torch model; `precision` is always "fp32"):
        session: the `onnxruntime.InferenceSession` (input "input" [B, C, S, S] float32 in [0, 1]; output "probs").
        onnx: the .onnx file; `onnx_sha256` its verified SHA-256.
        threads: intra-op threads of the session.
    """

    session: Any
    onnx: Path
    onnx_sha256: str
    threads: int = 1
    backend: str = field(default="onnxruntime", init=False)
    _torch: DetectorModel | None = field(default=None, init=False, repr=False)

    def prepare(self, crops: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 RGB -> [N, C, S, S] float32 in [0, 1] (C-contiguous)."""
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (self.crop_size, self.crop_size, 3):
            raise BadInputError(f"crops must be (N, {self.crop_size}, {self.crop_size}, 3), got {crops.shape}")
        x = crops.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255)
        if self.channels == 1:
            x = (x * GRAY).sum(1, keepdims=True, dtype=np.float32)
        return np.ascontiguousarray(x)

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities of FAKE: (N, S, S, 3) uint8 RGB crops -> (N,) float32."""
        if len(crops) == 0:
            return np.zeros(0, np.float32)
        (probs,) = self.session.run(["probs"], {"input": self.prepare(crops)})
        return np.asarray(probs, np.float32).reshape(-1)

    def choose_precision(self, mode: str = "auto", batch: int = 16) -> str:
        """ONNX Runtime computes in float32: "auto" and "fp32" give "fp32"; "bf16" needs the torch model."""
        if mode not in ("auto", "fp32", "bf16"):
            raise OptionError(Ref("precision"), f" must be auto, fp32 or bf16, got {mode!r}")
        if mode == "bf16":
            raise OptionError(Ref("precision"), " bf16 runs on the torch model; the ONNX Runtime backend is fp32 only")
        self.precision = "fp32"
        return self.precision

    def torch_model(self) -> DetectorModel:
        """The same weights as a torch model (loaded on first use, then kept): Grad-CAM and the heatmap head of
        the report need it; scoring never does."""
        if self._torch is None:
            self._torch = load_torch_detector(self.weights, device="cpu")
            self._torch.choose_precision("fp32")
        return self._torch

    def summary(self) -> dict[str, Any]:
        """What identifies the model in a scan result: the torch model's keys, `backend` saying how it ran."""
        return summary_dict(self, self.backend_info())

    def backend_info(self) -> dict[str, Any]:
        """How it ran: {"name": "onnxruntime", "version", "file", "sha256", "threads"}."""
        import onnxruntime as ort

        return {
            "name": self.backend,
            "version": ort.__version__,
            "file": self.onnx.name,
            "sha256": self.onnx_sha256,
            "threads": self.threads,
        }


def load_onnx_detector(
    weights: str | Path, card: dict[str, Any] | None = None, *, threads: int = 1, weights_sha256: str | None = None
) -> OnnxDetector:
    """Load the verified ONNX form of a detector.

    Args:
        weights: the detector's .safetensors (its card is the .json beside it unless `card` is given).
        card: the card, when the caller has read it.
        threads: ONNX Runtime intra-op threads (1 = what the scanner wants beside decoding + face detection).
        weights_sha256: SHA-256 of `weights`, when known (else computed: ~10 ms for 5 MB).

    Raises:
        OnnxUnavailable: no ONNX form or no onnxruntime; OnnxRefused: a form that must not be run (see
            `onnx_status`; or onnxruntime cannot load it, or its input is not the card's); BadInputError: an
            unreadable card or not a detector.
    """
    weights = Path(weights)
    if card is None:
        card = read_card(weights.with_suffix(".json"))
    if card.get("family") not in (None, "detector"):
        raise BadInputError(f"{weights} is a {card.get('family')} model ({card.get('model')}), not a detector")
    digest = weights_sha256 or sha256_file(weights)
    path = onnx_status(weights, card, digest)
    session = _session(path, threads)
    size, align, margin = crop_policy(card)
    shape = card.get("input", {}).get("shape") or []
    channels = int(card.get("model_kwargs", {}).get("in_channels", shape[0] if len(shape) == 3 else 3))
    inputs = session.get_inputs()
    want = [channels, size, size]
    if len(inputs) != 1 or list(inputs[0].shape[1:]) != want or "probs" not in {o.name for o in session.get_outputs()}:
        got = [(i.name, i.shape) for i in inputs]
        raise OnnxRefused(f"{path.name} takes {got}, the card says [batch, {', '.join(map(str, want))}] -> probs")
    return OnnxDetector(
        session=session,
        card=card,
        weights=weights,
        sha256=digest,
        onnx=path,
        onnx_sha256=str(card["inference"]["onnx"]["sha256"]),
        crop_size=size,
        margin=margin,
        channels=channels,
        align_size=align,
        threads=max(1, int(threads)),
    )


def try_load_onnx(
    weights: str | Path, card: dict[str, Any] | None = None, *, threads: int = 1, weights_sha256: str | None = None
) -> tuple[OnnxDetector | None, str]:
    """`load_onnx_detector`, or (None, reason) where the torch model must be used; the reason is logged (a
    refused ONNX file as a warning, a detector without one or a missing onnxruntime at INFO)."""
    try:
        return load_onnx_detector(weights, card, threads=threads, weights_sha256=weights_sha256), "onnx verified"
    except OnnxUnavailable as exc:
        level = logging.WARNING if isinstance(exc, OnnxRefused) else logging.INFO
        log.log(level, "detector %s: using torch, not ONNX Runtime: %s", Path(weights).name, exc)
        return None, str(exc)
