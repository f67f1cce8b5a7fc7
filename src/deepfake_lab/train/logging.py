"""Run logging: metrics.jsonl (one JSON object per logged step) and TensorBoard events."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from torch import Tensor


class RunLogger:
    """Appends metrics to `<run>/metrics.jsonl` and TensorBoard events under `<run>/tb/`."""

    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self._file = self.path.open("a")
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(Path(run_dir) / "tb"))

    def log(self, step: int, metrics: dict[str, float], **extra: Any) -> None:
        record = {"step": step, **{k: _clean(v) for k, v in metrics.items()}, **extra}
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self._tb is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    self._tb.add_scalar(k, v, step)

    def image(self, tag: str, image: Tensor, step: int) -> None:
        if self._tb is not None:
            self._tb.add_image(tag, image.clamp(0, 1), step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.flush()
            self._tb.close()


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def truncate_metrics(run_dir: Path, step: int) -> int:
    """Drop the records of `<run>/metrics.jsonl` logged after `step` (and a torn last line); returns how many.

    Called on resume from a checkpoint of `step`: the steps a killed run logged after its last checkpoint
    are trained (and logged) again, so that every step appears once in the log.
    """
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return 0
    keep, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            dropped += 1
            continue
        if isinstance(rec, dict) and isinstance(rec.get("step"), int) and rec["step"] > step:
            dropped += 1
            continue
        keep.append(line)
    if dropped:
        from deepfake_lab.fsutil import atomic_write_text

        atomic_write_text(path, "".join(f"{ln}\n" for ln in keep))
    return dropped


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """All records of `<run>/metrics.jsonl` (a truncated last line from a killed run is ignored)."""
    out = []
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
