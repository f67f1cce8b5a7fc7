"""The faceset on disk: what `deepfake-lab extract` writes and what training reads back.

Folder layout::

    FACESET/
      extract.json     options the faceset was made with (a re-run must use the same ones)
      faces.jsonl      one JSON line per saved face (source, frame, time, 68 landmarks, frame->crop matrix, ...)
      sources.jsonl    one JSON line per finished source (frames, faces, frames without faces, errors)
      progress.json    checkpoint of the source being processed (exists only while one is unfinished)
      faces/<source>-<key>/<frame>_t<track>.png    aligned RGB crops
      masks/<source>-<key>/<frame>_t<track>.png    face-hull masks (with `save_masks`)

`FacesetWriter` writes this layout (and cleans up after an interrupted run); `read_faceset` reads the crops at
a model size with the landmark face mask of each crop as a 4th channel (`data.datasets.load_faceset` wraps the
result as a dataset). Nothing here needs torch.

Held-out split (explicit and recorded in model cards): per source, the faces are ordered by frame index
and the last `holdout` fraction of them (20 % by default) is the "test" split; "train" is the rest. So a
model trained on the "train" split has never seen the end of any source video.

Example:
    >>> images, records, crop = read_faceset("facesets/woman", "train", image_size=64)  # doctest: +SKIP
    >>> images.shape  # [N, 4, 64, 64]: RGB + face mask  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import cv2
import numpy as np

from deepfake_lab.errors import BadInputError
from deepfake_lab.faces.align import transform_points
from deepfake_lab.faces.mask import face_mask
from deepfake_lab.fsutil import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from deepfake_lab.faces.extract import ExtractOptions

__all__ = [
    "DEFAULT_HOLDOUT", "FORMAT_VERSION", "FacesetWriter", "PngWriter", "crop_mask", "crop_points", "faceset_margin",
    "is_faceset", "parts_mask", "read_faces_jsonl", "read_faceset", "read_records", "split_records", "split_summary",
]  # fmt: skip

FORMAT_VERSION = 1
FACES_FILE = "faces.jsonl"
SOURCES_FILE = "sources.jsonl"
PROGRESS_FILE = "progress.json"
OPTIONS_FILE = "extract.json"
DEFAULT_HOLDOUT = 0.2
HOLDOUT_RULE = "per source, faces ordered by frame; the last {f:.0%} of each source's faces are held out (test)"


def read_faces_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Records of a `faces.jsonl` (a truncated last line, e.g. after a crash, is ignored)."""
    p = Path(path)
    if not p.exists():
        return
    with open(p, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def is_faceset(path: str | Path) -> bool:
    """True if `path` is a folder with a faces.jsonl (an `extract` output)."""
    p = Path(path)
    return p.is_dir() and (p / "faces.jsonl").is_file()


def faceset_margin(path: str | Path) -> float:
    """The alignment margin recorded in a faceset's extract.json (0.2, extract's default, if absent)."""
    p = Path(path) / "extract.json"
    try:
        opts = json.loads(p.read_text())
        opts = opts.get("options", opts)
        return float(opts.get("margin", 0.2))
    except (OSError, json.JSONDecodeError, AttributeError, TypeError, ValueError):
        return 0.2


def read_records(root: str | Path) -> list[dict[str, Any]]:
    """The face records of a faceset folder (lines without a "file" are ignored)."""
    return [r for r in read_faces_jsonl(Path(root) / FACES_FILE) if isinstance(r, dict) and "file" in r]


def split_summary(name: str, records: list[dict[str, Any]], split: str, holdout: float) -> dict[str, Any]:
    """What a model card records about one split: folder, split rule, counts and frame ranges per source."""
    per: dict[str, list[int]] = {}
    for r in records:
        per.setdefault(Path(str(r.get("source"))).name, []).append(int(r.get("frame", 0)))
    return {
        "faceset": name,
        "split": split,
        "holdout_rule": HOLDOUT_RULE.format(f=holdout),
        "faces": len(records),
        "sources": {s: {"faces": len(v), "frames": [min(v), max(v)]} for s, v in per.items()},
    }


def split_records(records: list[dict[str, Any]], split: str, holdout: float = DEFAULT_HOLDOUT) -> list[dict[str, Any]]:
    """Records of `split` under the held-out rule (see module docstring); order: source, then frame."""
    if split not in ("train", "test", "all"):
        raise BadInputError(f"split must be train, test or all, got {split!r}")
    if not 0 <= holdout < 1:
        raise BadInputError(f"holdout must be in [0, 1), got {holdout}")
    by_source: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_source.setdefault(str(r.get("source_key", r.get("source"))), []).append(r)
    out: list[dict[str, Any]] = []
    for recs in by_source.values():
        recs = sorted(recs, key=lambda r: (int(r.get("frame", 0)), int(r.get("track", 0))))
        n_test = int(math.floor(len(recs) * holdout)) if len(recs) >= 5 else 0
        cut = len(recs) - n_test
        out += recs if split == "all" else recs[:cut] if split == "train" else recs[cut:]
    return out


def crop_points(record: dict[str, Any], image_size: int) -> np.ndarray:
    """A record's 68 landmarks (frame coordinates) mapped into its crop at `image_size`: (68, 2)."""
    pts = np.asarray(record["landmarks"], np.float64)
    m = np.asarray(record["matrix"], np.float64)
    return transform_points(pts, m) * (image_size / float(record["size"]))


def crop_mask(record: dict[str, Any], image_size: int) -> np.ndarray:
    """Feathered face-hull mask [S, S] uint8 of a record's 68 landmarks mapped into the crop at `image_size`."""
    mask = face_mask(crop_points(record, image_size), (image_size, image_size), feather=image_size / 32)
    return (mask * 255 + 0.5).astype(np.uint8)


def parts_mask(points68: np.ndarray, image_size: int) -> np.ndarray:
    """Eyes (with brows) and mouth regions of a face as one feathered mask [S, S] float32 in [0, 1].

    Args:
        points68: (68, 2) landmarks in the crop's pixel coordinates.
        image_size: side S of the crop.
    """
    pts = np.asarray(points68, np.float64)
    grow = max(1, int(round(image_size / 40)))
    regions = (np.r_[17:22, 36:42], np.r_[22:27, 42:48], np.r_[48:60])  # left eye+brow, right eye+brow, mouth
    out = np.zeros((image_size, image_size), np.float32)
    for idx in regions:
        out = np.maximum(out, face_mask(pts[idx], (image_size, image_size), grow=grow, feather=image_size / 32))
    return out


def read_faceset(
    root: str | Path,
    split: str = "train",
    *,
    image_size: int = 64,
    holdout: float = DEFAULT_HOLDOUT,
    limit: int | None = None,
    parts: bool = False,
) -> tuple[np.ndarray, list[dict[str, Any]], int]:
    """Read a faceset's crops of one split at `image_size`, with the landmark face mask as channel 3.

    Args:
        root: faceset folder (from `deepfake-lab extract`).
        split: "train", "test" (held-out last `holdout` of each source's faces) or "all".
        image_size: side S of the returned crops (crops are shrunk with area averaging; never enlarged).
        holdout: held-out fraction per source.
        limit: keep the first `limit` items of the split.
        parts: add channel 4, the eyes + mouth mask (`parts_mask`), for losses that weight those regions.

    Returns:
        (images uint8 [N, 4, S, S] (or [N, 5, S, S] with `parts`), the records of those N faces, side of the
        crops on disk).

    Raises:
        BadInputError: not a faceset, empty, crops smaller than `image_size`, unreadable crops.
    """
    p = Path(root)
    if not p.is_dir():
        raise BadInputError(f"faceset {p} is not a folder (make one with `deepfake-lab extract VIDEO -o {p}`)")
    if not (p / FACES_FILE).is_file():
        raise BadInputError(f"{p} is not a faceset: no faces.jsonl (make one with `deepfake-lab extract`)")
    records = read_records(p)
    if not records:
        raise BadInputError(f"faceset {p} is empty: faces.jsonl lists no faces")
    sizes = {int(r.get("size", 0)) for r in records}
    if min(sizes) < image_size:
        raise BadInputError(
            f"faceset {p} has {min(sizes)} px crops; the model needs at least {image_size} px "
            f"(re-extract with --size {image_size} or more)"
        )
    chosen = split_records(records, split, holdout)
    if limit is not None:
        chosen = chosen[: max(1, int(limit))]
    if not chosen:
        raise BadInputError(f"faceset {p} has no faces in its {split!r} split ({len(records)} faces in all)")
    images = np.empty((len(chosen), 5 if parts else 4, image_size, image_size), np.uint8)
    for i, r in enumerate(chosen):
        f = p / r["file"]
        bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if bgr is None:
            raise BadInputError(f"faceset {p}: cannot read crop {f}")
        if bgr.shape[0] != int(r["size"]) or bgr.shape[1] != int(r["size"]):
            raise BadInputError(f"faceset {p}: crop {f} is {bgr.shape[1]}x{bgr.shape[0]}, faces.jsonl says {r['size']}")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if rgb.shape[0] != image_size:
            rgb = cv2.resize(rgb, (image_size, image_size), interpolation=cv2.INTER_AREA)
        images[i, :3] = rgb.transpose(2, 0, 1)
        images[i, 3] = crop_mask(r, image_size)
        if parts:
            images[i, 4] = (parts_mask(crop_points(r, image_size), image_size) * 255 + 0.5).astype(np.uint8)
    return images, chosen, min(sizes)


# --------------------------------------------------------------------------------------------------------
# Writing


class FacesetWriter:
    """Files of an output faceset: options, records, per-source status, checkpoint.

    Opening checks the folder (created if missing; must be empty or a faceset made with the same output
    options), reads which sources are done and the checkpoint of an unfinished one, and drops the records
    (and crop files) written after that checkpoint.

    Args:
        root: faceset folder.
        options: the extraction options (recorded in extract.json; `OUTPUT_OPTIONS` must match on resume).
    """

    def __init__(self, root: Path, options: ExtractOptions) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInputError(f"{root}: cannot create output folder ({exc.strerror})") from None
        if not root.is_dir():
            raise BadInputError(f"{root}: output exists and is not a folder")
        if not os.access(root, os.W_OK):
            raise BadInputError(f"{root}: output folder not writable")
        self.faces_path = root / FACES_FILE
        self.sources_path = root / SOURCES_FILE
        self.progress_path = root / PROGRESS_FILE
        self._check_options(options)
        self.done: dict[str, dict[str, Any]] = {}
        for rec in read_faces_jsonl(self.sources_path):
            if rec.get("status") == "done" and "key" in rec:
                self.done[rec["key"]] = rec
        self.checkpoint: dict[str, Any] | None = None
        if self.progress_path.exists():
            try:
                self.checkpoint = json.loads(self.progress_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                self.checkpoint = None
        self._clean_records()
        self._faces_fh: TextIO = open(self.faces_path, "a", encoding="utf-8")  # noqa: SIM115

    def _check_options(self, options: ExtractOptions) -> None:
        meta_path = self.root / OPTIONS_FILE
        wanted = options.output_values()
        if meta_path.exists():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                meta = None
            if meta is not None:
                old = meta.get("options", {})
                diff = [k for k in wanted if k in old and old[k] != wanted[k]]
                if diff:
                    k = diff[0]
                    raise BadInputError(
                        f"{self.root} was extracted with {k}={old[k]!r} (now {wanted[k]!r}); "
                        "use the same options to resume, or another output folder"
                    )
                return
        elif any(self.root.iterdir()):
            # A non-empty folder that is not a faceset: refuse rather than mix files.
            raise BadInputError(f"{self.root}: folder is not empty and is not a deepfake-lab faceset")
        meta = {"format_version": FORMAT_VERSION, "kind": "deepfake-lab faceset", "options": options.as_record()}
        atomic_write_text(meta_path, json.dumps(meta, indent=2))

    def _clean_records(self) -> None:
        """Drop records written after the last checkpoint of an unfinished source (and their files)."""
        if not self.faces_path.exists():
            return
        ck = self.checkpoint or {}
        keep_lines: list[str] = []
        dropped: list[dict[str, Any]] = []
        changed = False
        with open(self.faces_path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    changed = True
                    continue
                key = rec.get("source_key")
                ok = key in self.done or (key == ck.get("key") and rec.get("frame", 0) <= ck.get("last_index", -1))
                if ok:
                    keep_lines.append(line if line.endswith("\n") else line + "\n")
                else:
                    dropped.append(rec)
                    changed = True
        if not changed:
            return
        atomic_write_text(self.faces_path, "".join(keep_lines))
        root = self.root.resolve()
        for rec in dropped:
            for k in ("file", "mask"):
                target = (self.root / str(rec.get(k) or "")).resolve()
                if rec.get(k) and target.is_relative_to(root) and target.is_file():
                    target.unlink(missing_ok=True)

    def add_face(self, record: dict[str, Any]) -> None:
        """Append one face record to faces.jsonl (buffered; flushed at each checkpoint)."""
        self._faces_fh.write(json.dumps(record, separators=(",", ":")) + "\n")

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Flush the records and write progress.json (the state to resume the current source from)."""
        self._faces_fh.flush()
        atomic_write_text(self.progress_path, json.dumps(state))

    def finish_source(self, record: dict[str, Any]) -> None:
        """Record a finished (or failed) source in sources.jsonl and drop the checkpoint."""
        self._faces_fh.flush()
        with open(self.sources_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        if record.get("status") == "done":
            self.done[record["key"]] = record
        self.progress_path.unlink(missing_ok=True)
        self.checkpoint = None

    def close(self) -> None:
        self._faces_fh.close()


def _write_png(path: Path, image: np.ndarray, compression: int) -> None:
    """Encode an RGB (or gray) array as PNG and write it via a temporary name + rename.

    No fsync per crop (thousands of small files; `fsutil.atomic_write_bytes` would sync each): a crop's
    record reaches faces.jsonl only after the writer is drained at a checkpoint.
    """
    img = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])
    if not ok:
        raise OSError(f"cannot encode {path}")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)


class PngWriter:
    """Writes PNGs on a background thread (OpenCV releases the GIL while encoding), at most `depth` queued."""

    def __init__(self, compression: int, depth: int = 16) -> None:
        self._compression = compression
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="png-writer")
        self._pending: deque[Future[None]] = deque()
        self._depth = depth
        self._dirs: set[Path] = set()

    def submit(self, path: Path, image: np.ndarray) -> None:
        """Queue `image` (RGB uint8 (H, W, 3) or gray (H, W)) to be written to `path`."""
        if path.parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(path.parent)
        while len(self._pending) >= self._depth:
            self._pending.popleft().result()
        self._pending.append(self._pool.submit(_write_png, path, image, self._compression))

    def drain(self) -> None:
        """Wait until everything submitted is on disk (re-raises a write error)."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        try:
            self.drain()
        finally:
            self._pool.shutdown(wait=True)
