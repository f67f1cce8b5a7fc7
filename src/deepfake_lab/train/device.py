"""Device names of the CLI (`--device auto|cpu|cuda|cuda:N`) to torch devices, and the precision a device
computes natively; light, so inference commands do not import the trainer for it, and `cpu` does not import
torch at all."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from deepfake_lab.errors import OptionError, Ref

if TYPE_CHECKING:
    import torch

__all__ = ["BF16_CPU_FLAGS", "device_name", "native_precision", "resolve_device"]

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
"""CPU features that compute bf16 natively (Intel AMX, AVX-512 BF16): where `auto` picks bf16 on a CPU."""


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


def _cpu_flags() -> set[str]:
    """CPU feature flags from /proc/cpuinfo (Linux); empty elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def native_precision(device: str = "cpu") -> str:
    """"bf16" where the hardware computes it natively (a CUDA GPU that supports bf16; a CPU with AMX-BF16 or
    AVX-512 BF16), else "fp32": what `--precision auto` means for inference and training.

    Decided from capabilities only, so it is the same on every run of one machine (elsewhere bf16 autocast is
    slower: measured 10-25x for depthwise and transposed convolutions on this project's 2-vCPU machines)."""
    if device.startswith("cuda"):
        import torch

        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if any(f in _cpu_flags() for f in BF16_CPU_FLAGS) else "fp32"
