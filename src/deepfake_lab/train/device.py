"""Device names of the CLI (`--device auto|cpu|cuda|cuda:N`) to torch devices; light, so inference commands
do not import the trainer for it, and `cpu` does not import torch at all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from deepfake_lab.errors import OptionError, Ref

if TYPE_CHECKING:
    import torch

__all__ = ["device_name", "resolve_device"]


def device_name(name: str) -> str:
    """`auto` (CUDA when present), `cpu`, `cuda` or `cuda:N` -> the device's name ("cpu", "cuda", "cuda:1");
    anything else is a one-line user error. Only `auto` and CUDA names import torch (to ask for CUDA)."""
    if name not in ("auto", "cpu", "cuda") and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise OptionError(Ref("device"), f" must be auto, cpu, cuda or cuda:N, got {name!r}")
    if name == "cpu":
        return name
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise OptionError(Ref("device"), " cuda asked for, but no CUDA device is available")
    return name


def resolve_device(name: str) -> torch.device:
    """`device_name` as a `torch.device`."""
    import torch

    return torch.device(device_name(name))
