"""Corpus scans across processes and machines: `torchrun ... -m deepfake_lab detect DIR --json out.jsonl`.

Every rank expands the same inputs into the same sorted source list, drops the sources an earlier run
already finished, and scans every world_size-th of the rest (`distributed.shard`). Each finished file is
appended (and fsynced) as one JSON line to the rank's part file `.<out>.part<rank>` beside the output, so
an interrupted or crashed run loses at most the files in flight, and a re-run skips what is done. When all
ranks are through, rank 0 merges the parts, in input order, into `out`:

- `out.jsonl`: line 1 is the scan document without `files` (schema, model, options, aggregation, summary);
  every further line is one file object of the `detect --json` schema;
- `out.json`: the whole `detect --json` document.

A file that fails on one rank is recorded with status "error" and its message; it does not stop the scan,
and a re-run tries it again (files with any other status count as finished, unless their record lacks a key
of the current schema version: those were written by an older version and are scanned again).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from deepfake_lab.errors import BadInputError
from deepfake_lab.fsutil import atomic_write_text
from deepfake_lab.pipelines.callbacks import ScanProgress
from deepfake_lab.pipelines.scan.core import scan_paths
from deepfake_lab.pipelines.scan.detector import Detector
from deepfake_lab.pipelines.scan.options import OptionError, Ref, ScanOptions
from deepfake_lab.pipelines.scan.result import FileScan, ScanResult, summary_dict
from deepfake_lab.pipelines.scan.schema import SCAN_SCHEMA
from deepfake_lab.train import distributed as ddp
from deepfake_lab.video.discover import collect_sources

RETRIED = ("error", "interrupted")


def part_path(out: Path, rank: int) -> Path:
    return out.parent / f".{out.name}.part{rank}"


def _source_key(raw: str, path: Path | None) -> str:
    return str(path) if path is not None else raw


def read_finished(out: Path) -> dict[str, dict[str, Any]]:
    """File objects already written by an earlier run (merged output and any leftover parts), by source."""
    done: dict[str, dict[str, Any]] = {}
    lines: list[str] = []
    if out.is_file():
        text = out.read_text()
        if out.suffix == ".jsonl":
            lines += text.splitlines()[1:]
        else:
            try:
                lines += [json.dumps(f) for f in json.loads(text).get("files", [])]
            except (json.JSONDecodeError, AttributeError):
                raise OptionError(
                    f"{out} exists and is not a scan result; choose another ", Ref("json"), " path"
                ) from None
    for part in sorted(out.parent.glob(f".{out.name}.part*")):
        lines += part.read_text().splitlines()
    for line in lines:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash: that file is scanned again
        if isinstance(rec, dict) and "source" in rec and rec.get("status") not in RETRIED and _current(rec):
            done[rec["source"]] = rec
    return done


def _current(rec: dict[str, Any]) -> bool:
    """Whether a file record has every key of the current schema (records of an older version are rescanned)."""
    return all(k in rec for k in SCAN_SCHEMA["properties"]["files"]["items"]["required"])


def _append_line(path: Path, rec: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(rec) + "\n")
        f.flush()
        os.fsync(f.fileno())


def scan_sharded(
    inputs: Iterable[str | Path],
    model: Detector,
    options: ScanOptions,
    out: Path,
    *,
    progress: ScanProgress | None = None,
    provenance: bool = True,
) -> dict[str, Any] | None:
    """Scan `inputs` split over the torchrun ranks (or alone), resumably; rank 0 returns the merged document.

    Args:
        inputs: files and folders (searched recursively); live sources are not sharded.
        model, options: as for `scan_paths`.
        out: `.jsonl` or `.json` result path (see the module docstring).

    Returns:
        The merged `detect --json` document on rank 0; None on the other ranks.
    """
    out = Path(out)
    if out.suffix not in (".json", ".jsonl"):
        raise OptionError(Ref("json"), f" {out}: a distributed scan writes .json or .jsonl")
    info = ddp.init_distributed("cpu")  # collectives only carry file lists: gloo is enough on any machine
    items = collect_sources([str(x) for x in inputs])
    if not items:
        raise BadInputError("nothing to scan")
    keys = [_source_key(raw, path) for raw, path, _ in items]
    done = read_finished(out)
    todo = [k for k in keys if k not in done]
    mine = ddp.shard(todo, info)
    part = part_path(out, info.rank)
    out.parent.mkdir(parents=True, exist_ok=True)

    def keep(f: FileScan) -> None:
        _append_line(part, f.to_dict())

    result = scan_paths(mine, model, options, progress=progress, provenance=provenance, on_file=keep) if mine else None
    ddp.barrier()
    doc: dict[str, Any] | None = None
    if info.is_main:
        finished = read_finished(out)
        files = []
        for k, (raw, _, error) in zip(keys, items, strict=True):
            rec = finished.get(k)
            if rec is None:  # failed on its rank (error lines are re-read here, not kept as finished)
                rec = _last_line_for(out, k) or _error_record(raw, error or "not scanned", options)
            files.append(rec)
        doc = ScanResult([], model, options).to_dict()
        doc["files"] = files
        doc["summary"] = summary_dict(files)  # the same counts per verdict as a plain scan
        if out.suffix == ".jsonl":
            head = {k: v for k, v in doc.items() if k != "files"}
            atomic_write_text(out, "\n".join(json.dumps(x) for x in [head, *files]) + "\n")
        else:
            atomic_write_text(out, json.dumps(doc, indent=1))
        for p in out.parent.glob(f".{out.name}.part*"):
            p.unlink()
    ddp.barrier()
    del result
    return doc


def _error_record(source: str, message: str, options: ScanOptions) -> dict[str, Any]:
    f = FileScan(source=source, status="error", message=message)
    f.finish(options)
    return f.to_dict()


def _last_line_for(out: Path, key: str) -> dict[str, Any] | None:
    """The newest record (any status) of `key` in the parts, e.g. the error line of a file that failed."""
    rec = None
    for part in sorted(out.parent.glob(f".{out.name}.part*")):
        for line in part.read_text().splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(r, dict) and r.get("source") == key:
                rec = r
    return rec
