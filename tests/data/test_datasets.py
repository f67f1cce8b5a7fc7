"""In-memory datasets: built-ins, image folders, splits, and the resumable sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from deepfake_lab.data.datasets import DATASETS, BatchSampler, load_dataset
from deepfake_lab.errors import BadInputError, MissingDataError


def test_digits_splits_are_disjoint_stratified_and_in_range():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert train.shape == (1, 8, 8) and len(train) + len(test) == 1797
    assert set(train.labels.tolist()) == set(range(10)) == set(test.labels.tolist())
    b = train.batch(torch.arange(5))
    assert b.x.dtype == torch.float32 and float(b.x.min()) >= 0 and float(b.x.max()) <= 1
    assert len(load_dataset("digits", "all")) == 1797


@pytest.mark.parametrize(("name", "n_train"), [("mnist", 8000), ("fashion-mnist", 60000)])
def test_real_corpus_datasets(name, n_train):
    try:
        ds = load_dataset(name, "train")
    except MissingDataError:
        pytest.skip(f"{name} not fetched (run `deepfake-lab data fetch`)")
    assert ds.shape == (1, 28, 28) and len(ds) == n_train
    assert len(ds.classes) == 10 and int(ds.labels.max()) == 9
    resized = load_dataset(name, "test", image_size=32, limit=10)
    assert resized.shape == (1, 32, 32) and len(resized) == 10


def test_image_folder_with_classes_and_a_corrupt_file(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "cats" / "broken.jpg").write_bytes(b"\xff\xd8garbage")
    ds = load_dataset(str(tmp_path), "all", image_size=16)
    assert ds.shape == (3, 16, 16) and len(ds) == 12
    assert ds.classes == ["cats", "dogs"] and sorted(set(ds.labels.tolist())) == [0, 1]
    assert ds.skipped == 1
    gray = load_dataset(str(tmp_path), "all", image_size=8, channels=1)
    assert gray.shape == (1, 8, 8)


def test_bad_dataset_requests():
    with pytest.raises(BadInputError, match="unknown dataset"):
        load_dataset("imagenet")
    with pytest.raises(BadInputError, match="does not exist.*deepfake-lab pairs"):
        load_dataset("runs/pairs/not-built-yet")
    with pytest.raises(BadInputError, match="split"):
        load_dataset("digits", "valid")
    with pytest.raises(BadInputError, match="limit"):
        load_dataset("digits", limit=0)


def test_sampler_covers_each_epoch_and_resumes_exactly():
    s = BatchSampler(10, 3, seed=0)
    first_epoch = torch.cat([s.next() for _ in range(3)])
    assert len(set(first_epoch.tolist())) == 9  # no repeats inside an epoch
    state = s.state_dict()
    ahead = [s.next().tolist() for _ in range(5)]
    s2 = BatchSampler(10, 3, seed=123)
    s2.load_state_dict(state)
    assert [s2.next().tolist() for _ in range(5)] == ahead


def test_limit_keeps_every_class():
    for name in ("digits", "mnist"):
        try:
            ds = load_dataset(name, "train", limit=200)
        except MissingDataError:
            continue
        assert len(ds) == 200 and len(set(ds.labels.tolist())) == 10


def test_dataset_loader_registry(tmp_path):
    assert DATASETS.names("builtin") == ["digits", "fashion-mnist", "mnist"]
    assert DATASETS.names("folder") == ["faceset", "images", "paired"]
    with pytest.raises(BadInputError, match=r"unknown dataset 'imagenet'; known: digits, .*paired"):
        DATASETS.get("imagenet")
    with pytest.raises(ValueError, match="'digits' is already registered"):
        DATASETS.register("digits", family="builtin", order=9)(lambda split: None)
    # folder kinds are tried in their order: a faceset folder that also holds images is read as a faceset
    (tmp_path / "faces.jsonl").write_text("")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "x.png")
    with pytest.raises(BadInputError, match="faces.jsonl lists no faces"):
        load_dataset(str(tmp_path))
    (tmp_path / "faces.jsonl").unlink()
    assert load_dataset(str(tmp_path), "all", image_size=8).shape == (3, 8, 8)
