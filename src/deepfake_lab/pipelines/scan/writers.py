"""What a scan writes besides its document: the CSV rows, the JSON file, and the check that an existing output
file may be replaced (only an earlier scan output, unless `overwrite`).

Example:
    >>> from deepfake_lab.pipelines.scan.writers import is_scan_output
    >>> is_scan_output("holiday.mp4")  # doctest: +SKIP
    False
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import av
import av.error
from PIL import Image

from deepfake_lab.pipelines.scan.options import OptionError, Ref
from deepfake_lab.pipelines.scan.result import SCHEMA_ID, ScanResult
from deepfake_lab.video.image import IMAGE_EXTENSIONS

__all__ = ["CSV_COLUMNS", "OUTPUT_MARK", "check_output", "is_scan_output", "write_csv", "write_json"]

OUTPUT_MARK = "deepfake-lab detect"
"""Marks files a scan writes (HTML generator, video comment, image comment) so that re-runs may replace them."""


CSV_COLUMNS = (
    "source",
    "frame",
    "time",
    "status",
    "track",
    "x0",
    "y0",
    "x1",
    "y1",
    "prob",
    "tracked",
    "file_score",
    "verdict",
    "reason",
)


def write_csv(result: ScanResult, path: str | Path) -> Path:
    """One row per face (empty prob and a reason when it was not scored), one per frame without a face (empty
    prob), one per failed file; `reason` is the face's not-evaluated reason, else the file's."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for f in result.files:
        tail = ["" if f.score is None else f"{f.score:.4f}", f.verdict]
        if not f.frames:
            w.writerow([f.source, "", "", f.status, "", "", "", "", "", "", "", *tail, f.reason or ""])
        for fr in f.frames:
            if not fr.faces:
                w.writerow(
                    [f.source, fr.index, f"{fr.time:.4f}", "no_face", "", "", "", "", "", "", "", *tail, f.reason or ""]
                )
            for fc in fr.faces:
                box = [f"{v:.1f}" for v in fc.box]
                w.writerow(
                    [
                        f.source,
                        fr.index,
                        f"{fr.time:.4f}",
                        "face",
                        fc.track,
                        *box,
                        f"{fc.prob:.4f}" if fc.evaluated else "",
                        int(fc.tracked),
                        *tail,
                        fc.reason or f.reason or "",
                    ]
                )
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(buf.getvalue(), encoding="utf-8")
    return out


def write_json(doc: dict[str, Any], path: str | Path) -> Path:
    """Write a scan document (`ScanResult.to_dict()`) as indented JSON."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return out


def is_scan_output(path: str | Path) -> bool:
    """Whether an existing file was written by a scan (JSON, CSV, HTML report, annotated video or image)."""
    p = Path(path)
    try:
        head = p.read_bytes()[:4096] if p.suffix.lower() in (".json", ".jsonl", ".csv", ".html", ".htm") else b""
    except OSError:
        return False
    suffix = p.suffix.lower()
    if suffix in (".json", ".jsonl"):
        return f'"schema": "{SCHEMA_ID}"'.encode() in head
    if suffix == ".csv":
        return head.startswith(",".join(CSV_COLUMNS[:-1]).encode())  # schema 1 files lack "reason"
    if suffix in (".html", ".htm"):
        return f'<meta name="generator" content="{OUTPUT_MARK}">'.encode() in head
    if suffix in IMAGE_EXTENSIONS:
        try:
            with Image.open(p) as im:
                mark = im.info.get("Comment") or im.info.get("comment") or b""
        except (OSError, ValueError):
            return False
        return (mark.decode(errors="ignore") if isinstance(mark, bytes) else str(mark)) == OUTPUT_MARK
    try:
        with av.open(str(p), metadata_errors="ignore") as c:
            return str(c.metadata.get("comment", "")).startswith(OUTPUT_MARK)
    except (av.error.FFmpegError, OSError, ValueError):
        return False


def check_output(path: str | Path, overwrite: bool = False, what: str | Ref = "output") -> None:
    """Refuse to replace an existing file that is not an earlier scan output (unless `overwrite`).

    Raises:
        OptionError: `path` is a folder, or a file that is not a scan output (the message names `what`, and
            the `overwrite` option as the way out).
    """
    p = Path(path)
    if p.is_dir():
        raise OptionError(what, f" {p} is a folder; give a file name")
    if p.exists() and not overwrite and not is_scan_output(p):
        raise OptionError(what, f" {p} exists and is not a deepfake-lab scan output; pass ", Ref("overwrite"),
                          " to replace it")  # fmt: skip


