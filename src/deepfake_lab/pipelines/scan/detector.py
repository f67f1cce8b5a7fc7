"""The torch form of the detector a scan runs: loading an exported detector (card checked against its weights),
its crop policy (the size and margin its training faces were aligned at) and the inference precision
(`auto_precision`). `Detector` is the contract the scanner uses, which `scan.onnx_backend.OnnxDetector` (the
same weights run by ONNX Runtime, without torch) meets too; `scan.load.load_detector` picks between them.

This module imports torch only when a torch model is loaded or run, so a scan on the ONNX Runtime backend
starts without it.

Example:
    >>> from deepfake_lab.pipelines.scan.detector import load_detector
    >>> det = load_detector()  # the shipped detector  # doctest: +SKIP
    >>> det.choose_precision("auto"), det.crop_size  # doctest: +SKIP
    ('bf16', 128)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from deepfake_lab.errors import BadInputError
from deepfake_lab.faces.extract import ExtractOptions
from deepfake_lab.fsutil import sha256_file
from deepfake_lab.models.cards import resolve_export
from deepfake_lab.pipelines.scan.options import PRECISION_ENV, OptionError, Ref, ScanOptions, option_specs
from deepfake_lab.train.device import BF16_CPU_FLAGS, native_precision

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "BF16_CPU_FLAGS", "DEFAULT_DETECTOR", "DETECTOR_ENV", "Detector", "DetectorModel", "auto_precision",
    "crop_policy", "crop_text", "load_torch_detector", "resolve_detector_path",
]  # fmt: skip

DEFAULT_DETECTOR = Path(__file__).resolve().parents[2] / "assets" / "detector-default.safetensors"
"""The shipped detector (weights; its card is the `.json` beside it)."""
DETECTOR_ENV = "DEEPFAKE_LAB_DETECTOR"
"""Environment variable naming an exported detector to use instead of the shipped one."""


class Detector(Protocol):
    """What the scanner, the report and the web app use of a loaded detector (torch or ONNX Runtime)."""

    card: dict[str, Any]
    weights: Path
    sha256: str
    crop_size: int
    margin: float
    channels: int
    precision: str
    align_size: int | None
    device: str

    @property
    def name(self) -> str: ...

    @property
    def backend(self) -> str: ...

    def predict(self, crops: np.ndarray) -> np.ndarray: ...

    def choose_precision(self, mode: str = "auto", batch: int = 16) -> str: ...

    def summary(self) -> dict[str, Any]: ...

    def torch_model(self) -> DetectorModel: ...


@dataclass
class LoadedDetector:
    """What every loaded detector has, whatever runs it: its card, weights and the crop policy it expects.

    Attributes:
        card: its model card.
        weights: the .safetensors file.
        sha256: SHA-256 of the weights.
        crop_size: side of the face crop fed to it (its input size).
        margin: alignment margin of the crop (see `faces.align`).
        channels: input channels (3 = RGB, 1 = gray).
        precision: "fp32" or "bf16" (autocast), set by `choose_precision`.
        align_size: side the face is aligned at before it is resized to `crop_size` (the card's crop size,
            when its training crops were made larger than the model input); None = aligned at `crop_size`.
        device: where it runs.
    """

    card: dict[str, Any]
    weights: Path
    sha256: str
    crop_size: int
    margin: float
    channels: int = 3
    precision: str = "fp32"
    align_size: int | None = None
    device: str = "cpu"

    @property
    def name(self) -> str:
        return str(self.card.get("name") or self.card.get("model"))


@dataclass(kw_only=True)
class DetectorModel(LoadedDetector):
    """A detector run by torch: `net` (eval mode) returns {"logits", "probs", "features"}; the other
    attributes are `LoadedDetector`'s."""

    net: nn.Module

    @property
    def backend(self) -> str:
        return "torch"

    def torch_model(self) -> DetectorModel:
        """The torch model (itself): what Grad-CAM and the heatmap head of the report need."""
        return self

    def prepare(self, crops: np.ndarray) -> torch.Tensor:
        """(N, S, S, 3) uint8 RGB -> [N, C, S, S] float in [0, 1] (channels_last)."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255)
        if self.channels == 1:
            x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        return x.contiguous(memory_format=torch.channels_last).to(self.device)

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities of FAKE: (N, S, S, 3) uint8 RGB crops -> (N,) float32."""
        import torch

        if len(crops) == 0:
            return np.zeros(0, np.float32)
        with torch.inference_mode():
            x = self.prepare(crops)
            kind = torch.device(self.device).type
            with torch.autocast(kind, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                probs = self.net(x)["probs"]
        return probs.float().reshape(-1).cpu().numpy().astype(np.float32)

    def choose_precision(self, mode: str = "auto", batch: int = 16) -> str:
        """Set `precision`: "fp32", "bf16", or "auto" = `auto_precision(device)`, a property of the machine
        (never a timing race, so the same input, model and options give the same scores run after run);
        bf16 falls back to fp32 when a layer has no bf16 kernel here. `batch` is kept for compatibility."""
        problem = option_specs(ScanOptions)["precision"].problem(mode)
        if problem:
            raise OptionError(Ref("precision"), problem)
        import torch

        self.net.to(memory_format=torch.channels_last)
        if mode != "auto":
            self.precision = mode
            return mode
        # a card may name its precision (bf16 autocast is ~10x slower for depthwise convolutions here);
        # DEEPFAKE_LAB_PRECISION still overrides it, an explicit --precision too
        hint = (self.card.get("inference") or {}).get("precision") if isinstance(self.card, dict) else None
        forced = os.environ.get(PRECISION_ENV, "").strip().lower() in ("fp32", "bf16")
        self.precision = str(hint) if hint in ("fp32", "bf16") and not forced else auto_precision(self.device)
        if self.precision == "bf16":
            try:
                self.predict(np.zeros((1, self.crop_size, self.crop_size, 3), np.uint8))
            except RuntimeError:  # no bf16 kernels for some layer on this machine
                self.precision = "fp32"
        return self.precision

    backend_reason: str = ""
    """Why the torch model runs rather than ONNX Runtime (set by `scan.load.load_detector`)."""

    def summary(self) -> dict[str, Any]:
        """What identifies the model in a scan result (name, weights hash, crop, precision, backend, the card)."""
        import torch

        backend = {"name": "torch", "version": torch.__version__.split("+")[0]}
        if self.backend_reason:
            backend["reason"] = self.backend_reason
        return summary_dict(self, backend)


def summary_dict(det: Detector, backend: dict[str, Any]) -> dict[str, Any]:
    """The `model` object of a scan result, for either backend."""
    return {
        "name": det.name,
        "model": det.card.get("model"),
        "weights": det.weights.name,
        "weights_sha256": det.sha256,
        "crop": {"size": det.align_size or det.crop_size, "margin": det.margin, "input_size": det.crop_size},
        "precision": det.precision,
        "backend": backend,
        "card": det.card,
    }


def auto_precision(device: str = "cpu") -> str:
    """What `--precision auto` means on this machine: "bf16" where the hardware computes it natively (a CUDA
    GPU that supports bf16; a CPU with AMX-BF16 or AVX-512 BF16), else "fp32".

    Decided from capabilities only, so it is the same on every run of one machine (a timing probe could pick
    differently from run to run and the scores differ by up to a few percent between the two).
    `DEEPFAKE_LAB_PRECISION=fp32|bf16` overrides it.
    """
    forced = os.environ.get(PRECISION_ENV, "").strip().lower()
    if forced in ("fp32", "bf16"):
        return forced
    return native_precision(device)


def crop_text(crop: dict[str, Any]) -> str:
    """How faces are cropped for the detector, from a model summary's `crop` ({size, margin, input_size}).

    Example:
        >>> crop_text({"size": 128, "margin": 0.1, "input_size": 64})
        'faces aligned at 128 px (margin 0.1), resized to the 64 px model input'
    """
    size, margin = crop.get("size"), crop.get("margin")
    inp = crop.get("input_size", size)
    text = f"faces aligned at {size} px (margin {margin})"
    return text + (f", resized to the {inp} px model input" if inp != size else "")


def crop_policy(card: dict[str, Any]) -> tuple[int, int | None, float]:
    """(input size, align size or None, margin) of a detector card.

    The card's `crop: {size, margin}` says how its training faces were aligned; the input size is the model's
    `image_size` (or `input.shape`). When the two sizes differ (e.g. 128 px crops resized to 64 px for training),
    faces are aligned at the crop size and resized like the training loader does (PIL bilinear). Without a
    `crop` entry: aligned directly at the input size with the extract default margin.
    """
    crop = card.get("crop") or card.get("crop_policy") or {}
    crop_size = crop.get("size") if isinstance(crop, dict) else None
    margin = crop.get("margin") if isinstance(crop, dict) else None
    size = card.get("model_kwargs", {}).get("image_size")
    if size is None:
        shape = card.get("input", {}).get("shape") or []
        size = shape[-1] if shape else None
    size = int(size or crop_size or 256)
    align = int(crop_size) if crop_size is not None and int(crop_size) != size else None
    return size, align, float(ExtractOptions.margin if margin is None else margin)


def resolve_detector_path(path: str | Path | None = None) -> Path:
    """The detector to load: `path`, or `$DEEPFAKE_LAB_DETECTOR`, or the shipped default; a bare name such as
    ``fast`` picks the shipped ``assets/detector-fast.safetensors`` (the Meso-4 preset).

    Raises:
        BadInputError: no path given and no default detector installed.
    """
    if path is None:
        env = os.environ.get(DETECTOR_ENV)
        if env:
            path = Path(env)
        elif DEFAULT_DETECTOR.is_file() and DEFAULT_DETECTOR.with_suffix(".json").is_file():
            path = DEFAULT_DETECTOR
        else:
            raise BadInputError(
                f"no default detector is installed ({DEFAULT_DETECTOR.name} is missing from deepfake_lab/assets); "
                f"pass --model PATH (an exported detector, e.g. runs/NAME/export) or set {DETECTOR_ENV}"
            )
    name = str(path)  # `--model fast`: a shipped preset (assets/detector-fast.safetensors)
    if name and "/" not in name and not Path(name).exists():
        shipped = DEFAULT_DETECTOR.with_name(f"detector-{name}.safetensors")
        path = shipped if shipped.is_file() else path
    return Path(path)


def load_torch_detector(path: str | Path | None = None, device: str = "cpu") -> DetectorModel:
    """Load an exported detector (run dir, export dir, .safetensors or card; see `resolve_detector_path`) as a
    torch model on `device`.

    Raises:
        BadInputError: no such export, not a detector, weights that do not match the card, or no default.
    """
    from deepfake_lab.train.checkpoint import load_exported

    path = resolve_detector_path(path)
    st, _ = resolve_export(path)
    net, card = load_exported(
        path,
        family="detector",
        what="a detector",
        hint="train one with `deepfake-lab train meso4 --data FOLDER` (FOLDER with real/ and fake/)",
    )
    net.to(device)
    size, align, margin = crop_policy(card)
    shape = card.get("input", {}).get("shape") or []
    channels = int(card.get("model_kwargs", {}).get("in_channels", shape[0] if len(shape) == 3 else 3))
    return DetectorModel(
        net=net,
        card=card,
        weights=st,
        sha256=sha256_file(st),
        crop_size=size,
        margin=margin,
        channels=channels,
        align_size=align,
        device=device,
    )
