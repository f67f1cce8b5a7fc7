"""Dataset layout readers on tiny fixture trees (empty files suffice) and the split discipline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepfake_lab.data.layouts import (
    VideoItem,
    assign_splits,
    check_split_discipline,
    detect_layout,
    read_celebdf,
    read_dfdc,
    read_faceforensics,
    read_layout,
    read_real_fake_folder,
    split_leaks,
)
from deepfake_lab.errors import BadInputError


def _touch(root: Path, *rels: str) -> None:
    for rel in rels:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.touch()


@pytest.fixture
def ffpp(tmp_path) -> Path:
    root = tmp_path / "ffpp"
    for comp in ("c23", "c40"):
        _touch(root, *[f"original_sequences/youtube/{comp}/videos/{v}.mp4" for v in ("000", "003", "071", "054")])
        for method in ("Deepfakes", "Face2Face"):
            _touch(root, *[f"manipulated_sequences/{method}/{comp}/videos/{v}.mp4" for v in ("000_003", "071_054")])
    _touch(root, "original_sequences/actors/c23/videos/01__walking.mp4")
    _touch(root, "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__walking__YVGY8LOK.mp4")
    (root / "splits").mkdir()
    (root / "splits" / "train.json").write_text(json.dumps([["000", "003"]]))
    (root / "splits" / "test.json").write_text(json.dumps([["071", "054"]]))
    return root


def test_faceforensics(ffpp):
    items = read_faceforensics(ffpp, compression="c23")
    assert detect_layout(ffpp) == "ffpp" and len(read_layout(ffpp)) == len(read_faceforensics(ffpp))
    by_name = {(it.method, it.path.stem): it for it in items}
    fake = by_name[("Deepfakes", "071_054")]
    assert (fake.label, fake.compression, fake.split, fake.source_id, fake.identities) == (
        1, "c23", "test", "071", ("071", "054"),
    )  # fmt: skip
    real = by_name[("youtube", "003")]
    assert (real.label, real.split, real.source_id) == (0, "train", "003")
    dfd = by_name[("DeepFakeDetection", "01_02__walking__YVGY8LOK")]
    assert dfd.source_id == "01__walking" and dfd.identities == ("01", "02") and dfd.split is None
    assert by_name[("actors", "01__walking")].source_id == "01__walking"
    assert {it.compression for it in read_faceforensics(ffpp)} == {"c23", "c40"}
    assert {it.method for it in read_faceforensics(ffpp, methods=["Face2Face"])} == {"youtube", "actors", "Face2Face"}
    assert not split_leaks(items, "identity")


def test_faceforensics_split_errors(ffpp):
    (ffpp / "splits" / "val.json").write_text('[["000", "999"]]')
    with pytest.raises(BadInputError, match="both train.json and val.json"):
        read_faceforensics(ffpp)
    (ffpp / "splits" / "val.json").write_text('[["000", "999"]')  # malformed JSON
    with pytest.raises(BadInputError, match="val.json is not valid JSON") as exc:
        read_faceforensics(ffpp)
    assert "\n" not in str(exc.value)
    (ffpp / "splits" / "val.json").write_text('{"000": 1}')
    with pytest.raises(BadInputError, match="list of \\[target, source\\] id pairs"):
        read_faceforensics(ffpp)
    (ffpp / "splits" / "val.json").write_text('[["999", "054"]]')  # 054 is also in test
    with pytest.raises(BadInputError, match="both test.json and val.json|both val.json and test.json"):
        read_faceforensics(ffpp)


@pytest.fixture
def celebdf(tmp_path) -> Path:
    root = tmp_path / "celebdf"
    _touch(root, "Celeb-real/id0_0000.mp4", "Celeb-real/id1_0001.mp4", "YouTube-real/00170.mp4")
    _touch(root, "Celeb-synthesis/id0_id16_0000.mp4", "Celeb-synthesis/id1_id0_0001.mp4")
    _touch(root, "Celeb-synthesis/id0_id3_0000.mp4")  # made from the test video id0_0000 -> excluded
    (root / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00170.mp4\n1 Celeb-real/id0_0000.mp4\n0 Celeb-synthesis/id0_id16_0000.mp4\n"
    )
    return root


def test_celebdf(celebdf):
    items = {it.path.stem: it for it in read_celebdf(celebdf)}
    assert detect_layout(celebdf) == "celebdf"
    assert (items["00170"].label, items["00170"].split) == (0, "test")  # the file's 1 means real
    assert (items["id0_id16_0000"].label, items["id0_id16_0000"].split) == (1, "test")
    assert items["id0_id16_0000"].source_id == "id0_0000" and items["id0_id16_0000"].identities == ("id0", "id16")
    assert items["id1_id0_0001"].split == "train" and items["id1_0001"].split == "train"
    assert items["id0_id3_0000"].split == "excluded"
    check_split_discipline(items.values(), by="source")
    # the official list is not identity-disjoint: id0 is on both sides
    assert "id0" in split_leaks(items.values(), by="identity")
    with pytest.raises(BadInputError, match="source id"):
        read_celebdf(celebdf, exclude_leaking=False)


def test_celebdf_list_errors(celebdf):
    listing = celebdf / "List_of_testing_videos.txt"
    listing.write_text("0 Celeb-real/id0_0000.mp4\n")  # 0 = fake in Celeb-DF's convention
    with pytest.raises(BadInputError, match="contradicts folder Celeb-real"):
        read_celebdf(celebdf)
    listing.write_text("Celeb-real/id0_0000.mp4\n")
    with pytest.raises(BadInputError, match=":1: expected"):
        read_celebdf(celebdf)


def test_dfdc(tmp_path):
    root = tmp_path / "dfdc"
    meta = {
        "aaa.mp4": {"label": "FAKE", "original": "bbb.mp4", "split": "train"},
        "bbb.mp4": {"label": "REAL", "original": None, "split": "train"},
    }
    for part in ("dfdc_train_part_0", "dfdc_train_part_1"):
        (root / part).mkdir(parents=True)
        (root / part / "metadata.json").write_text(json.dumps(meta))
    items = read_dfdc(root)
    assert detect_layout(root) == "dfdc" and len(items) == 4
    fake = next(it for it in items if it.path.name == "aaa.mp4")
    assert (fake.label, fake.source_id, fake.split) == (1, "bbb", "train")
    (root / "dfdc_train_part_1" / "metadata.json").write_text('{"aaa.mp4": {"label": "FAKE"')
    with pytest.raises(BadInputError, match="metadata.json is not valid JSON") as exc:
        read_dfdc(root)
    assert "\n" not in str(exc.value)
    (root / "dfdc_train_part_1" / "metadata.json").write_text('{"aaa.mp4": {"label": "MAYBE"}}')
    with pytest.raises(BadInputError, match='REAL" or "FAKE'):
        read_dfdc(root)


def test_generic_folders(tmp_path):
    root = tmp_path / "g"
    _touch(root, "real/a.mp4", "real/b.mov", "fake/faceswap/a.mp4", "fake/gan/x/c.mp4", "fake/readme.txt")
    items = read_real_fake_folder(root)
    assert detect_layout(root) == "folder"
    assert sorted((it.label, it.method) for it in items) == [(0, "real"), (0, "real"), (1, "faceswap"), (1, "gan/x")]
    split_root = tmp_path / "s"
    _touch(split_root, "train/real/a.mp4", "train/fake/m/a.mp4", "test/REAL/b.mp4", "test/Fake/m/b.mp4")
    assert sorted((it.split, it.label) for it in read_layout(split_root)) == [
        ("test", 0), ("test", 1), ("train", 0), ("train", 1),
    ]  # fmt: skip
    with pytest.raises(BadInputError, match="not a FaceForensics"):
        detect_layout(tmp_path / "g" / "real")


def test_split_discipline_and_assignment():
    def item(src: str, ids: tuple[str, ...], split: str | None, label: int = 1) -> VideoItem:
        return VideoItem(Path(f"{src}.mp4"), label, "m", None, split, src, ids)

    leaky = [item("a", ("p",), "train"), item("a", ("p",), "test")]
    with pytest.raises(BadInputError, match="1 source id"):
        check_split_discipline(leaky)
    # different source videos, same person: fine by source, a leak by identity
    shared = [item("a", ("p",), "train"), item("b", ("p", "q"), "test")]
    check_split_discipline(shared, by="source")
    with pytest.raises(BadInputError, match="identity"):
        check_split_discipline(shared, by="identity")
    # assign_splits keeps connected identities together and honours pinned splits
    pool = [item(f"v{i}", (f"p{i}", f"p{(i + 1) % 10}" if i % 3 == 0 else f"p{i}"), None) for i in range(40)]
    pool.append(item("pinned", ("p5",), "test"))
    out = assign_splits(pool, {"train": 0.7, "test": 0.3}, by="identity", seed=1)
    assert all(it.split in ("train", "test") for it in out)
    check_split_discipline(out, by="identity")
    assert next(it for it in out if it.source_id == "v5").split == "test"
