"""In-memory image datasets: uint8 tensors [N, C, H, W], converted to float [0, 1] per batch.

Small corpora (digits, MNIST, Fashion-MNIST, facesets of a few thousand crops) fit in memory as uint8,
which is far faster on 2 cores than decoding files per item.

Example:
    >>> ds = load_dataset("digits", split="train")
    >>> ds.images.shape[1:]
    torch.Size([1, 8, 8])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from deepfake_lab.errors import BadInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
BUILTIN_DATASETS = ("digits", "mnist", "fashion-mnist")


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


def _load_digits(split: str) -> ImageDataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    imgs = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
    idx = _split_indices(d.target, split)
    return _from_arrays("digits", imgs[idx], d.target[idx], [str(i) for i in range(10)])


def _load_mnist(split: str) -> ImageDataset:
    from deepfake_lab.data.sources import load_mnist

    imgs, labels = load_mnist()
    idx = _split_indices(labels, split)
    return _from_arrays("mnist", imgs[idx], labels[idx], [str(i) for i in range(10)])


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
    loaders = {"digits": _load_digits, "mnist": _load_mnist, "fashion-mnist": _load_fashion}
    if name in loaders and split == "all":
        parts = [loaders[name]("train"), loaders[name]("test")]
        ds = ImageDataset(
            name, torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]), parts[0].classes
        )
    elif name in loaders:
        ds = loaders[name](split)
    elif (Path(name) / "faces.jsonl").is_file():  # an `extract` faceset: RGB + face mask, held-out split
        from deepfake_lab.data.faceset import load_faceset

        return load_faceset(name, split, image_size=image_size or 64, limit=limit, parts=channels == 5)
    elif (Path(name) / "pairs.json").is_file():  # a paired folder (pix2pix): source + target channels stacked
        from deepfake_lab.data.paired import load_paired

        return load_paired(name, split, image_size=image_size, limit=limit)
    elif Path(name).exists():
        ds = load_image_folder(
            Path(name), image_size=image_size or 64, channels=channels or 3, split=split, limit=limit
        )
        image_size = None
    elif "/" in name or "\\" in name:
        raise BadInputError(
            f"dataset folder {name} does not exist (facesets come from `deepfake-lab extract`, paired folders "
            "from `deepfake-lab pairs`; pass yours with --data)"
        )
    else:
        raise BadInputError(f"unknown dataset {name!r}: use one of {', '.join(BUILTIN_DATASETS)} or an image folder")
    if limit is not None:
        if limit < 1:
            raise BadInputError(f"limit must be >= 1, got {limit}")
        if limit < len(ds):  # a seeded random subset (built-ins are stored grouped by class)
            g = torch.Generator().manual_seed(0)
            ds = ds.subset(torch.randperm(len(ds), generator=g)[:limit].sort().values)
    if image_size is not None and image_size != ds.shape[1]:
        x = torch.nn.functional.interpolate(ds.images.float(), size=(image_size, image_size), mode="bilinear")
        ds = ImageDataset(ds.name, x.round().clamp(0, 255).to(torch.uint8), ds.labels, ds.classes, ds.methods)
    return ds
