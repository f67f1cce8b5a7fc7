"""Readers for the standard deepfake dataset layouts users own, with the split discipline checked.

Every reader returns a list of `VideoItem(path, label, method, compression, split, source_id, identities)`
with label 0 = real, 1 = fake. Nothing is decoded; files only need to exist (empty files suffice to list).

Split discipline: a source video (and, where the layout names them, an identity) must not occur in two
splits — otherwise a detector is tested on faces/scenes it was trained on. `check_split_discipline`
raises on a leak; `assign_splits` makes leak-free splits by grouping items that share a source/identity.

Layouts:
* FaceForensics++ (Rössler 2019): `original_sequences/youtube/<c0|c23|c40|raw>/videos/071.mp4`,
  `manipulated_sequences/<method>/<compression>/videos/071_054.mp4` (target 071 with the face of source 054),
  optional `original_sequences/actors/...` + `manipulated_sequences/DeepFakeDetection/...` (the DFD set), and
  split files `splits/{train,val,test}.json`, each a JSON list of [target, source] id pairs. Both ids of a
  pair belong to that split; a fake goes to the split of its ids.
* Celeb-DF v2 (Li 2020): `Celeb-real/id0_0000.mp4`, `YouTube-real/00170.mp4`,
  `Celeb-synthesis/id0_id16_0000.mp4` (video 0000 of id0 with id16's face swapped in; the authors: "aa is
  the original id, bb is swapped id, cc is the video index", yuezunli/celeb-deepfakeforensics#6), and
  `List_of_testing_videos.txt` with lines `1 YouTube-real/00170.mp4`. **Its flag is 1 = real, 0 = fake —
  the reverse of ours**; it is checked against the folder. Listed videos are "test", the rest "train";
  training videos made from a test video's source are moved to "excluded" (no source video in two splits).
  The official list is NOT identity-disjoint (the 59 celebrities occur on both sides); say so in reports.
* DFDC (Dolhansky 2020): `dfdc_train_part_*/metadata.json` = {"x.mp4": {"label": "FAKE", "original":
  "y.mp4", "split": "train"}}; the original's stem is the source id (DFDC gives no method per video).
* Generic: `real/**` and `fake/<method>/**`, optionally under `train/`, `val/`, `test/` split folders.

Example:
    >>> items = read_layout("/data/FaceForensics++", compression="c23")  # doctest: +SKIP
    >>> check_split_discipline(items, by="identity")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_lab.errors import BadInputError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
SPLITS = ("train", "val", "test")
EXCLUDED = "excluded"
FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter", "DeepFakeDetection")


@dataclass(frozen=True)
class VideoItem:
    """One video of a dataset.

    Attributes:
        path: the video file.
        label: 0 = real, 1 = fake.
        method: manipulation method for fakes ("Deepfakes", "Celeb-synthesis", ...), the real source's
            name for reals ("youtube", "Celeb-real", "real", ...).
        compression: "c0" / "c23" / "c40" / "raw" for FF++, else None.
        split: "train" / "val" / "test", "excluded" (dropped to keep splits disjoint), or None (unassigned).
        source_id: the source (pristine) video this item was made from — itself for a real video.
        identities: the people whose faces it shows (target first, then the swapped-in source).
    """

    path: Path
    label: int
    method: str
    compression: str | None
    split: str | None
    source_id: str
    identities: tuple[str, ...] = ()


# ---------------------------------------------------------------- helpers
def _videos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInputError(f"{path} is not valid JSON ({msg})") from None


def _keys(item: VideoItem, by: str) -> tuple[str, ...]:
    if by == "source":
        return (item.source_id,)
    if by == "identity":
        return item.identities or (item.source_id,)
    raise BadInputError(f"split discipline is checked by 'source' or 'identity', not {by!r}")


def split_leaks(items: Iterable[VideoItem], by: str = "source") -> dict[str, set[str]]:
    """Keys (source ids or identities) that occur in more than one split -> the splits they occur in.

    Items with split None or "excluded" are ignored.
    """
    seen: dict[str, set[str]] = defaultdict(set)
    for it in items:
        if it.split is None or it.split == EXCLUDED:
            continue
        for k in _keys(it, by):
            seen[k].add(it.split)
    return {k: v for k, v in seen.items() if len(v) > 1}


def check_split_discipline(items: Iterable[VideoItem], by: str = "source") -> None:
    """Raise BadInputError if any source video (by="source") or identity (by="identity") is in two splits."""
    leaks = split_leaks(items, by)
    if leaks:
        shown = ", ".join(f"{k} in {'/'.join(sorted(v))}" for k, v in sorted(leaks.items())[:5])
        raise BadInputError(f"{len(leaks)} {by} id(s) occur in more than one split: {shown}")


def assign_splits(
    items: Sequence[VideoItem],
    fractions: Mapping[str, float] | None = None,
    *,
    by: str = "identity",
    seed: int = 0,
) -> list[VideoItem]:
    """Give every item whose split is None a split so that no source/identity crosses splits.

    Items are grouped by connected components of shared keys (a fake joins its target's and its source's
    identities), the groups shuffled with `seed` and dealt out until each split holds about its fraction of
    the items. Items that already have a split keep it; their keys pin connected unassigned items to the
    same split.

    Args:
        items: the dataset.
        fractions: split name -> fraction (default train 0.8, val 0.1, test 0.1).
        by: "source" or "identity" (stricter).
        seed: shuffling seed.
    """
    fractions = dict(fractions or {"train": 0.8, "val": 0.1, "test": 0.1})
    if not fractions or min(fractions.values()) < 0 or sum(fractions.values()) <= 0:
        raise BadInputError(f"bad split fractions {fractions}")
    parent: dict[str, str] = {}

    def find(a: str) -> str:
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for it in items:
        ks = _keys(it, by)
        for k in ks[1:]:
            parent[find(k)] = find(ks[0])
        find(ks[0])
    pinned: dict[str, str] = {}
    for it in items:
        if it.split is not None:
            root = find(_keys(it, by)[0])
            if pinned.setdefault(root, it.split) != it.split:
                raise BadInputError(f"{by} group of {it.source_id!r} is already split across {pinned[root]}/{it.split}")
    groups: dict[str, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        if it.split is None:
            groups[find(_keys(it, by)[0])].append(i)
    split_of: dict[str, str] = {}
    free = [g for g in groups if g not in pinned]
    rng = np.random.default_rng(seed)
    order = [free[i] for i in rng.permutation(len(free))]
    total = sum(len(groups[g]) for g in free)
    names = list(fractions)
    weights = np.array([fractions[n] for n in names], dtype=np.float64)
    targets = weights / weights.sum() * total
    filled = np.zeros(len(names))
    for g in order:
        j = int(np.argmax(targets - filled))
        split_of[g] = names[j]
        filled[j] += len(groups[g])
    out = list(items)
    for g, idx in groups.items():
        s = pinned.get(g, split_of.get(g))
        for i in idx:
            out[i] = replace(out[i], split=s)
    return out


# ---------------------------------------------------------------- FaceForensics++
def _ffpp_split_map(splits_dir: Path) -> dict[str, str]:
    """video id -> split from splits/{train,val,test}.json (lists of [target, source] id pairs)."""
    out: dict[str, str] = {}
    for split in SPLITS:
        path = splits_dir / f"{split}.json"
        if not path.is_file():
            continue
        data = _read_json(path)
        if not isinstance(data, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(v, str) for v in p) for p in data
        ):
            raise BadInputError(f'{path} must be a JSON list of [target, source] id pairs, e.g. [["071", "054"]]')
        for pair in data:
            for vid in pair:
                if out.setdefault(vid, split) != split:
                    raise BadInputError(f"video {vid} is listed in both {out[vid]}.json and {split}.json")
    return out


def _ffpp_ids(stem: str, actors: bool) -> tuple[str, tuple[str, ...]]:
    """(source video id, identities) of an FF++ file stem.

    youtube: "071" -> ("071", ("071",)); "071_054" -> ("071", ("071", "054")).
    actors (DFD): "01__walking" -> ("01__walking", ("01",));
    "01_02__walking__YVGY8LOK" -> ("01__walking", ("01", "02")).
    """
    if actors or "__" in stem:
        head, _, rest = stem.partition("__")
        ids = tuple(head.split("_"))
        scene = rest.split("__")[0]
        return f"{ids[0]}__{scene}", ids
    ids = tuple(stem.split("_"))
    return ids[0], ids


def read_faceforensics(
    root: Path | str,
    *,
    compression: str | Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    splits_dir: Path | str | None = None,
) -> list[VideoItem]:
    """FaceForensics++ videos with labels, methods, compressions and the official splits.

    Args:
        root: the FF++ root (holding original_sequences/ and manipulated_sequences/).
        compression: keep only these compression folders ("c23", ["c23", "c40"]); None keeps all.
        methods: keep only these manipulation methods; None keeps all found.
        splits_dir: folder with train.json/val.json/test.json (default root/splits); missing files leave
            split None.
    """
    root = Path(root)
    comps = None if compression is None else {compression} if isinstance(compression, str) else set(compression)
    split_map = _ffpp_split_map(Path(splits_dir) if splits_dir else root / "splits")
    items: list[VideoItem] = []

    def add(folder: Path, label: int, method: str, actors: bool) -> None:
        if not folder.is_dir():
            return
        for comp_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            if comps is not None and comp_dir.name not in comps:
                continue
            for v in _videos(comp_dir / "videos"):
                source, ids = _ffpp_ids(v.stem, actors)
                splits = {split_map.get(i) for i in ids} - {None}
                if len(splits) > 1:
                    raise BadInputError(f"{v.name}: its ids {', '.join(ids)} are in different splits {sorted(splits)}")
                split = splits.pop() if splits else None
                items.append(VideoItem(v, label, method, comp_dir.name, split, source, ids))

    for kind in ("youtube", "actors"):
        add(root / "original_sequences" / kind, 0, kind, kind == "actors")
    man = root / "manipulated_sequences"
    if man.is_dir():
        for mdir in sorted(p for p in man.iterdir() if p.is_dir()):
            if methods is None or mdir.name in methods:
                add(mdir, 1, mdir.name, mdir.name == "DeepFakeDetection")
    if not items:
        raise BadInputError(
            f"no FaceForensics++ videos under {root} (expected original_sequences/youtube/<c23>/videos)"
        )
    check_split_discipline(items, by="source")
    return items


# ---------------------------------------------------------------- Celeb-DF v2
CELEBDF_FOLDERS = {"Celeb-real": 0, "YouTube-real": 0, "Celeb-synthesis": 1}
_CELEB_FAKE = re.compile(r"^(id\d+)_(id\d+)_(\d+)$")
_CELEB_REAL = re.compile(r"^(id\d+)_(\d+)$")


def _celebdf_ids(folder: str, stem: str) -> tuple[str, tuple[str, ...]]:
    if folder == "Celeb-synthesis":
        m = _CELEB_FAKE.match(stem)
        if m:
            return f"{m.group(1)}_{m.group(3)}", (m.group(1), m.group(2))
    elif folder == "Celeb-real":
        m = _CELEB_REAL.match(stem)
        if m:
            return stem, (m.group(1),)
    return f"{folder}/{stem}", (f"{folder}/{stem}",)


def read_celebdf(root: Path | str, *, exclude_leaking: bool = True) -> list[VideoItem]:
    """Celeb-DF v2 with the official test list (1 = real, 0 = fake in that file; checked against the folder).

    Args:
        root: the folder holding Celeb-real/, Celeb-synthesis/, YouTube-real/, List_of_testing_videos.txt.
        exclude_leaking: training videos sharing a source video with a test video get split "excluded";
            False keeps them in "train" and the discipline check then raises.
    """
    root = Path(root)
    test: dict[str, int] = {}
    listing = root / "List_of_testing_videos.txt"
    if listing.is_file():
        for n, line in enumerate(listing.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 2 or parts[0] not in ("0", "1") or parts[1].split("/")[0] not in CELEBDF_FOLDERS:
                raise BadInputError(
                    f"{listing}:{n}: expected '<1 real | 0 fake> <folder>/<video>', got {line.strip()!r}"
                )
            folder = parts[1].split("/")[0]
            ours = 1 - int(parts[0])  # Celeb-DF: 1 = real; ours: 1 = fake
            if ours != CELEBDF_FOLDERS[folder]:
                raise BadInputError(
                    f"{listing}:{n}: flag {parts[0]} contradicts folder {folder} (1 = real in this file)"
                )
            test[parts[1]] = ours
    items: list[VideoItem] = []
    for folder, label in CELEBDF_FOLDERS.items():
        for v in _videos(root / folder):
            rel = f"{folder}/{v.name}"
            source, ids = _celebdf_ids(folder, v.stem)
            split = "test" if rel in test else ("train" if test else None)
            items.append(VideoItem(v, label, folder, None, split, source, ids))
    if not items:
        raise BadInputError(f"no Celeb-DF videos under {root} (expected Celeb-real/, Celeb-synthesis/, YouTube-real/)")
    if exclude_leaking and test:
        test_sources = {it.source_id for it in items if it.split == "test"}
        items = [
            replace(it, split=EXCLUDED) if it.split == "train" and it.source_id in test_sources else it for it in items
        ]
    check_split_discipline(items, by="source")
    return items


# ---------------------------------------------------------------- DFDC
def read_dfdc(root: Path | str) -> list[VideoItem]:
    """DFDC training parts: every `metadata.json` in root or in its `dfdc_train_part_*` folders."""
    root = Path(root)
    metas = sorted(root.glob("dfdc_train_part_*/metadata.json"))
    if (root / "metadata.json").is_file():
        metas.insert(0, root / "metadata.json")
    if not metas:
        raise BadInputError(f"no DFDC metadata.json under {root} (expected dfdc_train_part_*/metadata.json)")
    items: list[VideoItem] = []
    for meta in metas:
        data = _read_json(meta)
        if not isinstance(data, dict):
            raise BadInputError(f"{meta} must map video names to {{label, original, split}}")
        for name, rec in sorted(data.items()):
            if not isinstance(rec, dict) or str(rec.get("label", "")).upper() not in ("REAL", "FAKE"):
                raise BadInputError(f'{meta}: entry {name!r} needs "label": "REAL" or "FAKE"')
            label = int(str(rec["label"]).upper() == "FAKE")
            original = rec.get("original")
            if label == 1 and not isinstance(original, str):
                raise BadInputError(f'{meta}: fake {name!r} has no "original"')
            source = Path(original).stem if label == 1 else Path(name).stem
            split = rec.get("split")
            items.append(
                VideoItem(meta.parent / name, label, "dfdc" if label else "real", None,
                          split if isinstance(split, str) else None, source, (source,))
            )  # fmt: skip
    check_split_discipline(items, by="source")
    return items


# ---------------------------------------------------------------- generic real/ + fake/<method>/
def _real_fake_items(base: Path, split: str | None, root: Path) -> list[VideoItem]:
    items = []
    for top, label in (("real", 0), ("fake", 1)):
        folder = next((p for p in base.iterdir() if p.is_dir() and p.name.lower() == top), None)
        if folder is None:
            continue
        for v in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES):
            rel = v.relative_to(folder)
            method = "real" if label == 0 else ("/".join(rel.parts[:-1]) or "fake")
            source = v.relative_to(root).with_suffix("").as_posix()
            items.append(VideoItem(v, label, method, None, split, source, (source,)))
    return items


def read_real_fake_folder(root: Path | str) -> list[VideoItem]:
    """`real/**` + `fake/<method>/**` videos, or the same under `train/`, `val/`, `test/` split folders.

    Each file is its own source (the layout says nothing about provenance); use `assign_splits` or split
    folders to make splits.
    """
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"not a folder: {root}")
    split_dirs = [root / s for s in SPLITS if (root / s).is_dir()]
    if split_dirs:
        items = [it for d in split_dirs for it in _real_fake_items(d, d.name, root)]
    else:
        items = _real_fake_items(root, None, root)
    if not items:
        raise BadInputError(f"no videos under {root}/real or {root}/fake/<method> ({', '.join(VIDEO_SUFFIXES)})")
    check_split_discipline(items, by="source")
    return items


def detect_layout(root: Path | str) -> str:
    """ "ffpp", "celebdf", "dfdc" or "folder" from what `root` holds; BadInputError if none fits."""
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"not a folder: {root}")
    if (root / "original_sequences").is_dir() or (root / "manipulated_sequences").is_dir():
        return "ffpp"
    if any((root / f).is_dir() for f in CELEBDF_FOLDERS):
        return "celebdf"
    if (root / "metadata.json").is_file() or any(root.glob("dfdc_train_part_*/metadata.json")):
        return "dfdc"
    names = {p.name.lower() for p in root.iterdir() if p.is_dir()}
    if names & {"real", "fake"} or names & set(SPLITS):
        return "folder"
    raise BadInputError(f"{root} is not a FaceForensics++, Celeb-DF, DFDC or real/fake folder layout")


def read_layout(root: Path | str, kind: str = "auto", **kwargs: Any) -> list[VideoItem]:
    """Read any supported layout ("auto" detects it); kwargs go to the reader."""
    readers = {"ffpp": read_faceforensics, "celebdf": read_celebdf, "dfdc": read_dfdc, "folder": read_real_fake_folder}
    kind = detect_layout(root) if kind == "auto" else kind
    if kind not in readers:
        raise BadInputError(f"unknown layout {kind!r}; choose auto, {', '.join(readers)}")
    try:
        return readers[kind](root, **kwargs)
    except TypeError as exc:
        raise BadInputError(f"bad option for the {kind} reader: {exc}") from None
