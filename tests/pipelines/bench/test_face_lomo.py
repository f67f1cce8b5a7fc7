"""`face_lomo`: leaving one method out of the face benchmark's training recipe, and the LOMO table."""

from __future__ import annotations

import pytest

from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines.bench.face_lomo import (
    FACE_METHODS,
    link_training_folder,
    lomo_table,
    lomo_task_kwargs,
    write_blend_files,
)

RECIPE = {"self_blend_p": 0.6, "xray_p": 0.4, "paired": True, "jpeg_p": 0.3}


def test_leaving_a_blend_out_moves_its_share_to_the_other_blend() -> None:
    no_sbi = lomo_task_kwargs(RECIPE, "self-blend")
    assert no_sbi["self_blend_p"] == 0.0 and no_sbi["xray_p"] == pytest.approx(1.0)
    no_xray = lomo_task_kwargs(RECIPE, "xray-blend")
    assert no_xray["xray_p"] == 0.0 and no_xray["self_blend_p"] == pytest.approx(1.0)
    # graphics swaps are files, not a task option; the rest of the recipe is untouched and not mutated
    assert lomo_task_kwargs(RECIPE, "graphics-swap") == RECIPE == lomo_task_kwargs(RECIPE, None)
    assert no_sbi["jpeg_p"] == 0.3 and RECIPE["self_blend_p"] == 0.6
    with pytest.raises(BadInputError, match="unknown method"):
        lomo_task_kwargs(RECIPE, "gan-dcgan")
    with pytest.raises(BadInputError, match="no blends"):
        lomo_task_kwargs({"self_blend_p": 0.0, "xray_p": 0.0}, "xray-blend")


def _folder(root):
    for sub, n in (("real", 3), ("fake/graphics-swap", 2), ("fake/ae-swap", 1)):
        (root / sub).mkdir(parents=True)
        for i in range(n):
            (root / sub / f"{i}.png").write_bytes(bytes([i]) * 10)


def test_link_training_folder_leaves_out_one_fake_folder_and_refuses_foreign_folders(tmp_path) -> None:
    src = tmp_path / "train"
    _folder(src)
    counts = link_training_folder(src, tmp_path / "no-gs", "graphics-swap")
    assert counts == {"real": 3, "fake/ae-swap": 1}
    assert not (tmp_path / "no-gs" / "fake" / "graphics-swap").exists()
    assert (tmp_path / "no-gs" / "real" / "2.png").read_bytes() == bytes([2]) * 10
    # a blend left out keeps every file (blends are made on the fly); re-linking replaces its own folder
    assert link_training_folder(src, tmp_path / "no-gs", "self-blend") == {"real": 3, "fake/ae-swap": 1,
                                                                            "fake/graphics-swap": 2}  # fmt: skip
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("user data")
    with pytest.raises(BadInputError, match="not touching"):
        link_training_folder(src, tmp_path / "mine", None)
    assert (tmp_path / "mine" / "keep.txt").read_text() == "user data"
    with pytest.raises(BadInputError, match="no real"):
        link_training_folder(tmp_path / "mine", tmp_path / "x", None)


def _report(aucs: dict[str, float], levels=("c0", "c23", "c40")) -> dict:
    return {"test": {c: {"per_method_auc": {m: a - 0.1 * k for m, a in aucs.items()}} for k, c in enumerate(levels)}}


def test_lomo_table_takes_each_left_out_models_auc_on_its_own_method() -> None:
    reports = {
        "graphics-swap": _report({"graphics-swap": 0.6, "self-blend": 0.9, "xray-blend": 0.9}),
        "self-blend": _report({"graphics-swap": 0.9, "self-blend": 0.7, "xray-blend": 0.9}),
        "xray-blend": _report({"graphics-swap": 0.9, "self-blend": 0.9, "xray-blend": 0.8}),
    }
    ref = _report(dict.fromkeys(FACE_METHODS, 0.95))
    t = lomo_table(reports, ref)
    assert t["levels"] == ["c0", "c23", "c40"]
    assert t["unseen"]["graphics-swap"]["c0"] == pytest.approx(0.6)
    assert t["unseen"]["xray-blend"]["c40"] == pytest.approx(0.6)
    assert t["mean_unseen"]["c0"] == pytest.approx(0.7) and t["mean_seen"]["c23"] == pytest.approx(0.85)
    assert t["drop"]["c0"] == pytest.approx(0.25)
    # without a reference: only the unseen figures; a level missing from one report is left out
    short = dict(reports, **{"xray-blend": _report({"xray-blend": 0.8}, levels=("c0", "c23"))})
    t2 = lomo_table(short)
    assert t2["levels"] == ["c0", "c23"] and "drop" not in t2
    with pytest.raises(BadInputError):
        lomo_table({})


def test_write_blend_files_makes_seeded_blends_of_the_reals(tmp_path) -> None:
    import cv2
    import numpy as np

    from deepfake_lab.faces.pseudo_fake import template_landmarks

    real = tmp_path / "real"
    real.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):  # faces: a bright template-shaped blob on textured backgrounds of different colours
        img = np.clip(rng.normal(60 + 40 * k, 20, (64, 64, 3)), 0, 255).astype(np.uint8)
        cv2.fillConvexPoly(img, cv2.convexHull(template_landmarks(64, 0.1).astype(np.int32)), (200, 170, 150))
        cv2.imwrite(str(real / f"r{k}.png"), img)
    assert write_blend_files(real, tmp_path / "a", 4, self_blend_share=0.5, margin=0.1, seed=1) == 4
    write_blend_files(real, tmp_path / "b", 4, self_blend_share=0.5, margin=0.1, seed=1)
    files = sorted((tmp_path / "a").iterdir())
    assert len(files) == 4 and [f.name for f in files] == sorted(f.name for f in (tmp_path / "b").iterdir())
    originals = {f.stem: cv2.imread(str(f)) for f in real.iterdir()}
    for f in files:
        img = cv2.imread(str(f))
        assert (tmp_path / "b" / f.name).read_bytes() == f.read_bytes()  # seeded
        src = originals[f.stem.split("_", 2)[2]]
        assert img.shape == src.shape and not np.array_equal(img, src)  # a blend, not a copy
    with pytest.raises(BadInputError, match="at least 2"):
        write_blend_files(tmp_path / "a" / "..", tmp_path / "c", 1, self_blend_share=1.0, margin=0.1)
