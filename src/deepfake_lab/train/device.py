"""Device names of the CLI (`--device auto|cpu|cuda|cuda:N`) to torch devices; light (torch only), so
inference commands do not import the trainer for it."""

from __future__ import annotations

import torch

from deepfake_lab.errors import BadInputError

__all__ = ["resolve_device"]


def resolve_device(name: str) -> torch.device:
    """`auto` (CUDA when present), `cpu`, `cuda` or `cuda:N`; anything else is a one-line user error."""
    if name not in ("auto", "cpu", "cuda") and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise BadInputError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BadInputError("--device cuda asked for, but no CUDA device is available")
    return torch.device(name)
