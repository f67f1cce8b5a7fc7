"""In-memory image datasets: uint8 tensors [N, C, H, W], converted to float [0, 1] per batch.

Small corpora (digits, MNIST, Fashion-MNIST, facesets of a few thousand crops) fit in memory as uint8,
which is far faster on 2 cores than decoding files per item.

`load_dataset` finds its loader in `DATASETS`, one registry: the built-in datasets by name (family
"builtin") and the folder kinds (family "folder": facesets, paired folders, image folders), tried in their
`order` tag, the first whose `match` tag accepts the path. The on-disk formats are documented where they are
written (`data.faceset`, `data.paired`).

Example:
    >>> ds = load_dataset("digits", split="train")
    >>> ds.images.shape[1:]
    torch.Size([1, 8, 8])
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor

from deepfake_lab.data.faceset import DEFAULT_HOLDOUT, faceset_margin, is_faceset, read_faceset, split_summary
from deepfake_lab.errors import BadInputError
from deepfake_lab.registry import Entry, Registry

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
PAIRS_FILE = "pairs.json"
PAIRS_HOLDOUT = 0.2  # the last 20 % of a paired folder's pairs (file order) are its "test" split



@dataclass
class Batch:
    """x: float [B, C, H, W] in [0, 1]; y: int64 [B] or None."""

    x: Tensor
    y: Tensor | None = None

    def to(self, device: torch.device | str, channels_last: bool = False) -> Batch:
        fmt = torch.channels_last if channels_last and self.x.dim() == 4 else torch.contiguous_format
        return Batch(self.x.to(device, memory_format=fmt), None if self.y is None else self.y.to(device))


@dataclass
class ImageDataset:
    """images: uint8 [N, C, H, W]; labels: int64 [N] or None; classes: label names.

    methods: per-item sub-group names or None; real/fake folders keep the manipulation method here
    (`fake/<method>/...` -> "<method>", `real/...` -> "real").
    """

    name: str
    images: Tensor
    labels: Tensor | None = None
    classes: list[str] | None = None
    methods: list[str] | None = None

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError("images must be uint8 [N, C, H, W]")
        if len(self.images) == 0:
            raise BadInputError(f"dataset {self.name!r} is empty")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def batch(self, idx: Tensor) -> Batch:
        """Rows `idx` as floats in [0, 1]."""
        x = self.images[idx].float().div_(255.0)
        return Batch(x, None if self.labels is None else self.labels[idx])

    def subset(self, idx: Tensor) -> ImageDataset:
        methods = None
        if self.methods is not None:
            rows = torch.arange(len(self))[idx].reshape(-1)  # integer rows for index tensors and boolean masks
            methods = [self.methods[int(i)] for i in rows]
        return ImageDataset(
            self.name, self.images[idx], None if self.labels is None else self.labels[idx], self.classes, methods
        )


class BatchSampler:
    """Shuffled minibatches, epoch after epoch, with a state that resumes exactly."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        if batch_size < 1:
            raise BadInputError(f"batch size must be >= 1, got {batch_size}")
        self.n, self.batch_size = n, min(batch_size, n)
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch, self.pos = 0, 0
        self.perm = torch.randperm(n, generator=self.generator)

    def next(self) -> Tensor:
        if self.pos + self.batch_size > self.n:
            self.epoch += 1
            self.pos = 0
            self.perm = torch.randperm(self.n, generator=self.generator)
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "epoch": self.epoch, "pos": self.pos, "perm": self.perm}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.epoch, self.pos, self.perm = int(state["epoch"]), int(state["pos"]), state["perm"]


DATASETS: Registry[ImageDataset] = Registry("dataset")
"""Dataset loaders. "builtin": ``loader(split)``; "folder": ``loader(path, split, *, image_size, channels,
limit)`` with tags ``order`` (int: tried lowest first) and ``match`` (``Path -> bool``)."""


def _split_indices(labels: np.ndarray, split: str, test_fraction: float = 0.2, seed: int = 0) -> np.ndarray:
    """Deterministic stratified train/test split of datasets that ship without one."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    train, test = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=labels)
    return np.sort(train if split == "train" else test)


def _from_arrays(name: str, images: np.ndarray, labels: np.ndarray | None, classes: list[str] | None) -> ImageDataset:
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.uint8))
    if x.dim() == 3:
        x = x.unsqueeze(1)
    y = None if labels is None else torch.from_numpy(np.asarray(labels, dtype=np.int64))
    return ImageDataset(name, x, y, classes)


@DATASETS.register("digits", family="builtin", order=0)
def _load_digits(split: str) -> ImageDataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    imgs = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
    idx = _split_indices(d.target, split)
    return _from_arrays("digits", imgs[idx], d.target[idx], [str(i) for i in range(10)])


@DATASETS.register("mnist", family="builtin", order=1)
def _load_mnist(split: str) -> ImageDataset:
    from deepfake_lab.data.sources import load_mnist

    imgs, labels = load_mnist()
    idx = _split_indices(labels, split)
    return _from_arrays("mnist", imgs[idx], labels[idx], [str(i) for i in range(10)])


@DATASETS.register("fashion-mnist", family="builtin", order=2)
def _load_fashion(split: str) -> ImageDataset:
    from deepfake_lab.data.sources import FASHION_CLASSES, load_fashion_mnist

    imgs, labels = load_fashion_mnist(train=split == "train")
    return _from_arrays("fashion-mnist", imgs, labels, list(FASHION_CLASSES))


REAL_FAKE_CLASSES = ("real", "fake")  # label 0 = real, 1 = fake


def real_fake_layout(root: Path, files: list[Path]) -> bool:
    """True if every file lies under `root/real/` or `root/fake/` (any case) and both occur."""
    tops = set()
    for f in files:
        parts = f.relative_to(root).parts
        if len(parts) < 2:
            return False
        tops.add(parts[0].lower())
    return tops == set(REAL_FAKE_CLASSES)


def real_fake_label(rel: Path) -> tuple[int, str]:
    """(label, method) of a file path relative to a real/fake root: real/x.png -> (0, "real"),
    fake/x.png -> (1, "fake"), fake/<method>/.../x.png -> (1, "<method>/...")."""
    parts = rel.parts
    if parts[0].lower() == "real":
        return 0, "real"
    return 1, "/".join(parts[1:-1]) or "fake"


def load_image_folder(
    root: Path, *, image_size: int = 64, channels: int = 3, split: str = "train", limit: int | None = None
) -> ImageDataset:
    """Images under `root` (recursively), resized to a square; sub-folder names become class labels.

    Real/fake mode: when the top-level sub-folders are exactly `real` and `fake` (any case; `fake/<method>/`
    nesting allowed, no images directly in `root`), labels are binary whatever the sort order — real = 0,
    fake = 1, classes ["real", "fake"] — and `methods` keeps each item's method ("real" for real items,
    the sub-folder path below `fake/` or "fake").
    Unreadable images are skipped and counted; an empty folder is a user error.
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(root)
    if not root.is_dir():
        raise BadInputError(f"not a folder: {root}")
    try:
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    except PermissionError as exc:
        raise BadInputError(f"cannot read folder {exc.filename}") from None
    if not files:
        raise BadInputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {root}")
    class_names = sorted({p.parent.relative_to(root).as_posix() for p in files})
    labelled = len(class_names) > 1
    binary = real_fake_layout(root, files)
    if split != "all":
        rng = np.random.default_rng(0)
        is_test = rng.random(len(files)) < 0.2 if len(files) >= 5 else np.zeros(len(files), bool)
        files = [f for f, t in zip(files, is_test, strict=False) if t == (split == "test")]
    if limit is not None and limit < len(files):  # a seeded random subset: sorted order would keep one class
        keep = np.sort(np.random.default_rng(0).permutation(len(files))[:limit])
        files = [files[i] for i in keep]
    mode = {1: "L", 3: "RGB"}[channels]
    arrays, labels, skipped = [], [], 0
    methods: list[str] = []
    for f in files:
        try:
            with Image.open(f) as im:
                im = im.convert(mode).resize((image_size, image_size), Image.BILINEAR)
                arrays.append(np.asarray(im, dtype=np.uint8))
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError):
            skipped += 1
            continue
        if binary:
            label, method = real_fake_label(f.relative_to(root))
            labels.append(label)
            methods.append(method)
        else:
            labels.append(class_names.index(f.parent.relative_to(root).as_posix()))
    if not arrays:
        raise BadInputError(f"no readable images in {root} ({skipped} unreadable)")
    x = np.stack(arrays)
    x = x[:, None] if channels == 1 else x.transpose(0, 3, 1, 2)
    if binary:
        ds = _from_arrays(str(root), x, np.asarray(labels), list(REAL_FAKE_CLASSES))
        ds.methods = methods
    else:
        ds = _from_arrays(str(root), x, np.asarray(labels) if labelled else None, class_names if labelled else None)
    ds.skipped = skipped  # type: ignore[attr-defined]
    return ds


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
        return split_summary(self.name, self.records, self.split, self.holdout)


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

    The arguments and errors are those of `deepfake_lab.data.faceset.read_faceset` (root: a folder from
    `deepfake-lab extract`; split "train", "test" = the held-out end of each source, or "all"; `parts` adds the
    eyes + mouth mask as channel 4).

    Returns:
        `Faceset` with images uint8 [N, 4, S, S] (or [N, 5, S, S] with `parts`).

    Example:
        >>> ds = load_faceset("facesets/woman", split="train", image_size=64)  # doctest: +SKIP
        >>> ds.images.shape  # [N, 4, 64, 64]: RGB + face mask  # doctest: +SKIP
    """
    images, records, crop_size = read_faceset(
        root, split, image_size=image_size, holdout=holdout, limit=limit, parts=parts
    )
    return Faceset(
        name=str(Path(root)),
        images=torch.from_numpy(images),
        records=records,
        margin=faceset_margin(root),
        crop_size=crop_size,
        split=split,
        holdout=holdout,
    )


@dataclass
class PairedDataset(ImageDataset):
    """`ImageDataset` of stacked pairs: images uint8 [N, C_s + C_t, S, S]; the first `source_channels` are
    the source, the rest the target (paired folders are made by `deepfake_lab.data.paired.make_pairs`)."""

    source_channels: int = 1
    kind: str = "edges"


def is_paired(path: str | Path) -> bool:
    """True if `path` is a paired folder (has pairs.json)."""
    return (Path(path) / PAIRS_FILE).is_file()


def load_paired(
    root: str | Path, split: str = "train", *, image_size: int | None = None, limit: int | None = None
) -> PairedDataset:
    """Read a paired folder as stacked uint8 [N, C_s + 3, S, S] (held-out "test" = the last 20 %).

    Args:
        root: folder made by `make_pairs`.
        split: "train", "test" or "all".
        image_size: resize (area) to this side (default: the folder's size).
        limit: keep the first `limit` pairs of the split.
    """
    root = Path(root)
    try:
        meta = json.loads((root / PAIRS_FILE).read_text())
        cs, n, size = int(meta["source_channels"]), int(meta["pairs"]), int(meta["image_size"])
        kind = str(meta["kind"])
    except (OSError, ValueError, KeyError, TypeError):
        raise BadInputError(f"{root} is not a paired folder (unreadable {PAIRS_FILE})") from None
    if split not in ("train", "test", "all"):
        raise BadInputError(f"split must be train, test or all, got {split!r}")
    cut = n - max(1, int(round(n * PAIRS_HOLDOUT))) if n > 1 else n
    idx = {"train": range(0, cut), "test": range(cut, n), "all": range(n)}[split]
    if limit is not None:
        idx = idx[: max(1, int(limit))]
    if len(idx) == 0:
        raise BadInputError(f"paired folder {root} has no pairs in its {split!r} split")
    s = int(image_size or size)
    images = np.empty((len(idx), cs + 3, s, s), np.uint8)
    for j, i in enumerate(idx):
        name = f"{i:06d}.png"
        src = cv2.imread(str(root / "source" / name), cv2.IMREAD_GRAYSCALE if cs == 1 else cv2.IMREAD_COLOR)
        tgt = cv2.imread(str(root / "target" / name), cv2.IMREAD_COLOR)
        if src is None or tgt is None:
            raise BadInputError(f"paired folder {root}: cannot read pair {name}")
        if cs == 3:
            src = cv2.cvtColor(src, cv2.COLOR_BGR2RGB)
        tgt = cv2.cvtColor(tgt, cv2.COLOR_BGR2RGB)
        if src.shape[0] != s:
            src = cv2.resize(src, (s, s), interpolation=cv2.INTER_AREA)
            tgt = cv2.resize(tgt, (s, s), interpolation=cv2.INTER_AREA)
        images[j, :cs] = src[None] if cs == 1 else src.transpose(2, 0, 1)
        images[j, cs:] = tgt.transpose(2, 0, 1)
    return PairedDataset(name=str(root), images=torch.from_numpy(images), source_channels=cs, kind=kind)


@DATASETS.register("faceset", family="folder", order=0, match=is_faceset)
def _faceset_folder(
    path: Path, split: str, *, image_size: int | None, channels: int | None, limit: int | None
) -> ImageDataset:
    """An `extract` faceset: RGB + face mask (channels=5 adds the eyes + mouth mask), held-out split."""
    return load_faceset(path, split, image_size=image_size or 64, limit=limit, parts=channels == 5)


@DATASETS.register("paired", family="folder", order=1, match=is_paired)
def _paired_folder(
    path: Path, split: str, *, image_size: int | None, channels: int | None, limit: int | None
) -> ImageDataset:
    """A paired folder (pix2pix): source + target channels stacked."""
    return load_paired(path, split, image_size=image_size, limit=limit)


@DATASETS.register("images", family="folder", order=2, match=Path.exists)
def _image_folder(
    path: Path, split: str, *, image_size: int | None, channels: int | None, limit: int | None
) -> ImageDataset:
    """Any folder of images (sub-folders are classes; real/ + fake/ is binary)."""
    ds = load_image_folder(path, image_size=image_size or 64, channels=channels or 3, split=split, limit=limit)
    return _limit_and_resize(ds, limit, None)


def load_dataset(
    name: str,
    split: str = "train",
    *,
    image_size: int | None = None,
    channels: int | None = None,
    limit: int | None = None,
) -> ImageDataset:
    """Load a dataset by name ("digits", "mnist", "fashion-mnist") or an image folder path.

    Args:
        name: built-in name, a faceset folder (`deepfake_lab.data.faceset`: uint8 [N, 4, S, S], RGB + face
            mask, "test" = the held-out end of each source) or a folder of images.
        split: "train" or "test" ("all" for folders and facesets).
        image_size: resize target for folders (built-ins keep their native size unless given).
        channels: 1 or 3 for folders (default 3); 5 for a faceset adds its eyes + mouth mask as channel 4.
        limit: keep a seeded random subset of `limit` items (every class stays represented).
    """
    if split not in ("train", "test", "all"):
        raise BadInputError(f"split must be train, test or all, got {split!r}")
    if name in DATASETS.names("builtin"):
        loader = DATASETS.get(name).factory
        if split == "all":
            parts = [loader("train"), loader("test")]
            ds = ImageDataset(
                name, torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]), parts[0].classes
            )
        else:
            ds = loader(split)
        return _limit_and_resize(ds, limit, image_size)
    path = Path(name)
    for entry in _ordered("folder"):
        if entry.tags["match"](path):
            return entry.factory(path, split, image_size=image_size, channels=channels, limit=limit)
    if "/" in name or "\\" in name:
        raise BadInputError(
            f"dataset folder {name} does not exist (facesets come from `deepfake-lab extract`, paired folders "
            "from `deepfake-lab pairs`; pass yours with --data)"
        )
    builtins = ", ".join(e.name for e in _ordered("builtin"))
    raise BadInputError(f"unknown dataset {name!r}: use one of {builtins} or an image folder")


def _ordered(family: str) -> list[Entry[ImageDataset]]:
    """The registered loaders of `family`, by their `order` tag."""
    return sorted((e for e in DATASETS if e.family == family), key=lambda e: e.tags["order"])


def _limit_and_resize(ds: ImageDataset, limit: int | None, image_size: int | None) -> ImageDataset:
    """A seeded random subset of `limit` items (built-ins are stored grouped by class), resized to `image_size`."""
    if limit is not None:
        if limit < 1:
            raise BadInputError(f"limit must be >= 1, got {limit}")
        if limit < len(ds):
            g = torch.Generator().manual_seed(0)
            ds = ds.subset(torch.randperm(len(ds), generator=g)[:limit].sort().values)
    if image_size is not None and image_size != ds.shape[1]:
        x = torch.nn.functional.interpolate(ds.images.float(), size=(image_size, image_size), mode="bilinear")
        ds = ImageDataset(ds.name, x.round().clamp(0, 255).to(torch.uint8), ds.labels, ds.classes, ds.methods)
    return ds
