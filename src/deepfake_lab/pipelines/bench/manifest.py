"""The closed-loop detection benchmark: shared pieces of `bench build` and `bench eval`.

A benchmark folder (`deepfake-lab bench build`) holds labelled, aligned face crops, one tree per
compression level, each a real/fake folder that `deepfake-lab train <detector> --data` reads as is::

    BENCH/
      bench.json            options, sources, methods, counts, split rule, timings, provenance note
      manifest.jsonl        one JSON line per image (see `ManifestRow`); manifest.csv: the same as CSV
      state.json            finished units (a re-run resumes after them)
      faces/                the `extract` faceset of the corpus videos (alignment = `deepfake-lab extract`)
      models/               the generators trained on the train-split real faces (GAN, AE)
      c0/ c23/ c40/         H.264 CRF 0 / 23 / 40 (PyAV, libx264) of every image sequence
        train/ val/ test/
          real/<video>_<frame>.png
          fake/<method>/<video>_<frame>.png
      jpeg90/ jpeg70/ ...   JPEG re-compression of the c0 test images (test split only)

Generation methods are plugins in `BENCH_METHODS` (see `bench.methods`): one registered factory each.

Example:
    >>> from deepfake_lab.pipelines.bench.manifest import read_manifest  # doctest: +SKIP
    >>> rows = read_manifest("bench")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from deepfake_lab.data.layouts import SPLITS, VideoItem, check_split_discipline
from deepfake_lab.errors import BadInputError

__all__ = [
    "BENCH_KIND",
    "MANIFEST",
    "ManifestRow",
    "bench_splits_check",
    "compression_names",
    "read_bench_info",
    "read_manifest",
    "write_manifest_csv",
]

BENCH_KIND = "deepfake-lab/bench"
BENCH_VERSION = 1
MANIFEST = "manifest.jsonl"
PROVENANCE_NOTE = (
    "fakes are unlabelled: written without the provenance watermark, container metadata or sidecar, so a "
    "detector trained here cannot learn the watermark instead of the manipulation"
)


@dataclass(frozen=True)
class ManifestRow:
    """One image of the benchmark.

    Attributes:
        path: file path relative to the benchmark folder.
        label: 0 = real, 1 = fake.
        method: "real" or the generation method.
        video: source video file name ("" for samples that come from no video, e.g. GAN samples).
        clip: the split unit: "<video>:<split>" (a time segment of one video) or a pseudo-video of samples.
        identity: the person the image shows (for swaps: the target whose frame it is).
        donor: the identity whose face was put in (swaps), else "".
        frame: frame index in the source video (sample index for GAN samples).
        compression: "c0", "c23", "c40", "jpeg90", ...
        split: "train", "val" or "test".
    """

    path: str
    label: int
    method: str
    video: str
    clip: str
    identity: str
    donor: str
    frame: int
    compression: str
    split: str


def _row(d: dict[str, Any]) -> ManifestRow:
    names = {f.name for f in fields(ManifestRow)}
    missing = names - set(d)
    if missing:
        raise BadInputError(f"manifest row lacks {sorted(missing)}")
    return ManifestRow(**{k: d[k] for k in names})


def read_manifest(bench: Path | str) -> list[ManifestRow]:
    """All rows of `bench/manifest.jsonl`; BadInputError if the folder is not a benchmark."""
    path = Path(bench) / MANIFEST
    if not path.is_file():
        raise BadInputError(
            f"{bench} is not a benchmark folder (no {MANIFEST}; make one with `deepfake-lab bench build`)"
        )
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(_row(json.loads(line)))
        except (json.JSONDecodeError, TypeError) as exc:
            raise BadInputError(f"{path}:{n}: not a manifest row ({exc})") from None
    if not rows:
        raise BadInputError(f"{path} is empty")
    return rows


def read_bench_info(bench: Path | str) -> dict[str, Any]:
    """`bench.json` of a benchmark folder."""
    path = Path(bench) / "bench.json"
    try:
        info = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        raise BadInputError(f"{bench} is not a finished benchmark folder (no readable bench.json)") from None
    if not isinstance(info, dict) or info.get("kind") != BENCH_KIND:
        raise BadInputError(f"{path} is not a deepfake-lab benchmark description")
    return info


def write_manifest_csv(rows: Iterable[ManifestRow], path: Path) -> None:
    """The manifest as CSV (same columns as the JSON lines)."""
    cols = [f.name for f in fields(ManifestRow)]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow(asdict(r))


def compression_names(rows: Sequence[ManifestRow]) -> list[str]:
    """Compression levels present, in a stable order (c0, c23, c40, then JPEG from best to worst)."""
    names = {r.compression for r in rows}

    def key(n: str) -> tuple[int, int]:
        if n.startswith("c") and n[1:].isdigit():
            return (0, int(n[1:]))
        if n.startswith("jpeg") and n[4:].isdigit():
            return (1, -int(n[4:]))
        return (2, 0)

    return sorted(names, key=key)


def bench_splits_check(rows: Sequence[ManifestRow]) -> dict[str, Any]:
    """Check the split discipline of a manifest and summarise it.

    Every clip (split unit) must lie in one split, and every test image must come from the held-out end of
    its video: a video's train/val frames all precede its test frames. Raises BadInputError on a leak.

    Returns:
        {"clips": n, "videos": {video: {split: [first frame, last frame]}}}.
    """
    items = [VideoItem(Path(r.path), r.label, r.method, r.compression, r.split, r.clip, (r.clip,)) for r in rows]
    check_split_discipline(items, by="source")
    spans: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for r in rows:
        if not r.video:
            continue
        s = spans[r.video].setdefault(r.split, [r.frame, r.frame])
        s[0], s[1] = min(s[0], r.frame), max(s[1], r.frame)
    for video, by_split in spans.items():
        if "test" in by_split:
            first_test = by_split["test"][0]
            for split in ("train", "val"):
                if split in by_split and by_split[split][1] >= first_test:
                    raise BadInputError(
                        f"{video}: {split} frame {by_split[split][1]} is not before the held-out slice "
                        f"(first test frame {first_test})"
                    )
    return {"clips": len({r.clip for r in rows}), "videos": {k: dict(v) for k, v in spans.items()}, "splits": SPLITS}
