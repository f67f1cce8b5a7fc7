"""What a finished scan means for whoever ran it: counts per verdict and the exit code, the same for a plain
scan (`ScanResult.files`) and a sharded one (the merged document's file objects).

Exit codes: 0 done, whatever the verdicts; 1 a file scored above `fail_above` or got a verdict in `fail_on`;
2 a file with status "error" or "partial"; 130 interrupted.

Example:
    >>> files = [{"source": "a.mp4", "score": 0.9, "verdict": "manipulated", "status": "ok"}]
    >>> scan_outcome(files, fail_on={"manipulated"}).code
    1
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from deepfake_lab.pipelines.scan.result import FileScan, summary_dict
from deepfake_lab.pipelines.scan.verdicts import FILE_VERDICTS

__all__ = ["EXIT_DONE", "EXIT_ERRORS", "EXIT_FLAGGED", "EXIT_INTERRUPTED", "ScanOutcome", "scan_outcome"]

EXIT_DONE, EXIT_FLAGGED, EXIT_ERRORS, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass
class ScanOutcome:
    """The summary of a finished scan and the exit code it calls for.

    Attributes:
        code: `EXIT_DONE`, `EXIT_FLAGGED`, `EXIT_ERRORS` or `EXIT_INTERRUPTED`.
        summary: the document's "summary" (`result.summary_dict`: files, errors, counts per verdict, max score).
        above: sources that scored above `fail_above`.
        hit: (source, verdict) of the files whose verdict is in `fail_on`.
    """

    code: int
    summary: dict[str, Any]
    above: list[str]
    hit: list[tuple[str, str]]

    def counts_text(self) -> str:
        """"2 authentic, 1 manipulated" (verdicts with files, errors left out), or "" when none."""
        return ", ".join(f"{self.summary[v]} {v}" for v in FILE_VERDICTS if v != "error" and self.summary.get(v))


def _get(f: FileScan | Mapping[str, Any], key: str) -> Any:
    return f.get(key) if isinstance(f, Mapping) else getattr(f, key)


def scan_outcome(
    files: Sequence[FileScan | Mapping[str, Any]],
    *,
    fail_above: float | None = None,
    fail_on: Collection[str] = (),
    interrupted: bool = False,
) -> ScanOutcome:
    """Summary and exit code of a scan from its files (`FileScan`s, or file objects of the JSON document).

    Args:
        files: the scanned files.
        fail_above: a score above this makes the exit code 1 (None: never).
        fail_on: verdicts that make the exit code 1.
        interrupted: the scan was stopped by Ctrl-C (exit code 130 first).
    """
    docs = [f if isinstance(f, Mapping) else f.to_dict(verbose=False) for f in files]
    summary = summary_dict(docs)
    above = [
        str(_get(f, "source"))
        for f in files
        if fail_above is not None and _get(f, "score") is not None and _get(f, "score") > fail_above
    ]
    hit = [(str(_get(f, "source")), str(_get(f, "verdict"))) for f in files if _get(f, "verdict") in fail_on]
    if interrupted:
        code = EXIT_INTERRUPTED
    elif summary["errors"]:
        code = EXIT_ERRORS
    else:
        code = EXIT_FLAGGED if above or hit else EXIT_DONE
    return ScanOutcome(code, summary, above, hit)
