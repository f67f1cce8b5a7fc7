"""The provenance check inside a scan: bounded look for a C2PA manifest and an invisible watermark.

Runs beside the scan of a file, on its own thread (`start_provenance_check`; its time is not part of
`FileScan.seconds`), and never fails the scan: a problem becomes {"error": "..."} in the file's `provenance`.

Example:
    >>> from deepfake_lab.pipelines.scan.provenance_check import check_provenance
    >>> check_provenance(Path("generated.png"))["c2pa"]  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deepfake_lab.errors import DeepfakeLabError

__all__ = ["PROVENANCE_CONFIRM", "PROVENANCE_FRAMES", "check_provenance", "start_provenance_check"]

PROVENANCE_FRAMES = 16
"""Most video frames the provenance check of a scan decodes (key frames spread over the file first)."""
PROVENANCE_CONFIRM = 3
"""The check stops once this many sampled frames carried the same watermark payload."""


def check_provenance(path: Path) -> dict[str, Any] | None:
    """Findings of `deepfake_lab.provenance.inspect_provenance` (None when that module is not installed).

    Bounded: the C2PA manifest, then at most `PROVENANCE_FRAMES` frames (key frames at evenly spaced times,
    one seek each), stopping after `PROVENANCE_CONFIRM` frames agree on a payload; the report's
    `watermark.frames_checked` / `sample_limit` / `stopped_early` say what it cost."""
    try:
        from deepfake_lab.provenance import inspect_provenance  # type: ignore[attr-defined]
    except ImportError:
        return None
    try:
        rep = inspect_provenance(path, max_frames=PROVENANCE_FRAMES, confirm=PROVENANCE_CONFIRM, sampling="keyframes")
        return dict(rep.to_dict())
    except DeepfakeLabError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a failing check must not cost the scan
        return {"error": f"provenance check failed: {type(exc).__name__}: {str(exc)[:200]}"}


def start_provenance_check(path: Path) -> Callable[[], dict[str, Any] | None]:
    """Start `check_provenance(path)` on a daemon thread; the returned function waits for its findings.

    The scan of a file keeps both cores only partly busy (decode, face detection and the detector hand work
    to each other), so the check's few decoded frames fit beside it instead of after it."""
    box: list[dict[str, Any] | None] = [None]
    worker = threading.Thread(target=lambda: box.__setitem__(0, check_provenance(path)), name="scan-provenance",
                              daemon=True)  # fmt: skip
    worker.start()

    def result() -> dict[str, Any] | None:
        worker.join()
        return box[0]

    return result
