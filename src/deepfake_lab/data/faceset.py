"""Facesets written by `deepfake-lab extract`, loaded into memory for face-swap training.

A faceset folder holds `faces/**.png` crops and `faces.jsonl` (one record per crop: source, frame, time,
68 landmarks and the frame->crop matrix). `load_faceset` reads the crops at the model size and adds the
landmark face mask of each crop as a 4th channel: images are uint8 [N, 4, S, S] (RGB + mask).

Held-out split (explicit and recorded in model cards): per source, the faces are ordered by frame index
and the last `holdout` fraction of them (20 % by default) is the "test" split; "train" is the rest. So a
model trained on the "train" split has never seen the end of any source video.

Example:
    >>> ds = load_faceset("facesets/woman", split="train", image_size=64)  # doctest: +SKIP
    >>> ds.images.shape  # [N, 4, 64, 64]: RGB + face mask  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from deepfake_lab.data.datasets import ImageDataset
from deepfake_lab.errors import BadInputError

__all__ = [
    "DEFAULT_HOLDOUT", "Faceset", "crop_points", "is_faceset", "faceset_margin", "load_faceset", "parts_mask",
    "split_records",
]

DEFAULT_HOLDOUT = 0.2
HOLDOUT_RULE = "per source, faces ordered by frame; the last {f:.0%} of each source's faces are held out (test)"


@dataclass
class Faceset(ImageDataset):
    """An `ImageDataset` of aligned faces: images uint8 [N, 4, S, S] (RGB + landmark face mask).

    Attributes:
        records: the faces.jsonl record of each item (source, frame, time, landmarks, matrix, ...).
        margin: alignment margin the faceset was extracted with.
        crop_size: side of the crops on disk.
        split: "train", "test" or "all".
        holdout: held-out fraction per source.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    margin: float = 0.2
    crop_size: int = 256
    split: str = "all"
    holdout: float = DEFAULT_HOLDOUT

    def summary(self) -> dict[str, Any]:
        """What the card records about this data: folder, split rule, counts and frame ranges per source."""
        per: dict[str, list[int]] = {}
        for r in self.records:
            per.setdefault(Path(str(r.get("source"))).name, []).append(int(r.get("frame", 0)))
        return {
            "faceset": self.name,
            "split": self.split,
            "holdout_rule": HOLDOUT_RULE.format(f=self.holdout),
            "faces": len(self),
            "sources": {s: {"faces": len(v), "frames": [min(v), max(v)]} for s, v in per.items()},
        }


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


def _read_records(root: Path) -> list[dict[str, Any]]:
    from deepfake_lab.pipelines.extract import read_faces_jsonl

    return [r for r in read_faces_jsonl(root / "faces.jsonl") if isinstance(r, dict) and "file" in r]


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
    from deepfake_lab.faces import transform_points

    pts = np.asarray(record["landmarks"], np.float64)
    m = np.asarray(record["matrix"], np.float64)
    return transform_points(pts, m) * (image_size / float(record["size"]))


def _crop_mask(record: dict[str, Any], image_size: int) -> np.ndarray:
    """Feathered face-hull mask [S, S] uint8 of a record's 68 landmarks mapped into the crop at `image_size`."""
    from deepfake_lab.faces import face_mask

    mask = face_mask(crop_points(record, image_size), (image_size, image_size), feather=image_size / 32)
    return (mask * 255 + 0.5).astype(np.uint8)


def parts_mask(points68: np.ndarray, image_size: int) -> np.ndarray:
    """Eyes (with brows) and mouth regions of a face as one feathered mask [S, S] float32 in [0, 1].

    Args:
        points68: (68, 2) landmarks in the crop's pixel coordinates.
        image_size: side S of the crop.
    """
    from deepfake_lab.faces import face_mask

    pts = np.asarray(points68, np.float64)
    grow = max(1, int(round(image_size / 40)))
    regions = (np.r_[17:22, 36:42], np.r_[22:27, 42:48], np.r_[48:60])  # left eye+brow, right eye+brow, mouth
    out = np.zeros((image_size, image_size), np.float32)
    for idx in regions:
        out = np.maximum(out, face_mask(pts[idx], (image_size, image_size), grow=grow, feather=image_size / 32))
    return out


def load_faceset(
    root: str | Path,
    split: str = "train",
    *,
    image_size: int = 64,
    holdout: float = DEFAULT_HOLDOUT,
    limit: int | None = None,
    parts: bool = False,
) -> Faceset:
    """Read a faceset into memory at `image_size`, with the landmark face mask as channel 3.

    Args:
        root: faceset folder (from `deepfake-lab extract`).
        split: "train", "test" (held-out last `holdout` of each source's faces) or "all".
        image_size: side S of the returned crops (crops are shrunk with area averaging; never enlarged).
        holdout: held-out fraction per source.
        limit: keep the first `limit` items of the split.
        parts: add channel 4, the eyes + mouth mask (`parts_mask`), for losses that weight those regions.

    Returns:
        `Faceset` with images uint8 [N, 4, S, S] (or [N, 5, S, S] with `parts`).

    Raises:
        BadInputError: not a faceset, empty, crops smaller than `image_size`, unreadable crops.
    """
    p = Path(root)
    if not p.is_dir():
        raise BadInputError(f"faceset {p} is not a folder (make one with `deepfake-lab extract VIDEO -o {p}`)")
    if not (p / "faces.jsonl").is_file():
        raise BadInputError(f"{p} is not a faceset: no faces.jsonl (make one with `deepfake-lab extract`)")
    records = _read_records(p)
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
        images[i, 3] = _crop_mask(r, image_size)
        if parts:
            images[i, 4] = (parts_mask(crop_points(r, image_size), image_size) * 255 + 0.5).astype(np.uint8)
    return Faceset(
        name=str(p),
        images=torch.from_numpy(images),
        records=chosen,
        margin=faceset_margin(p),
        crop_size=min(sizes),
        split=split,
        holdout=holdout,
    )
