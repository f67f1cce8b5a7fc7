"""`faceswap-train` (extract → train → export in one command), the learned paste-back mask, the swap guard."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from deepfake_lab.cli import main
from deepfake_lab.data.datasets import load_faceset
from deepfake_lab.errors import BadInputError
from deepfake_lab.faces.mask import border_fade, paste_mask
from deepfake_lab.models.catalogue import create_model
from deepfake_lab.pipelines.faceswap_train import FaceswapTrainOptions, faceswap_train, init_from_export
from deepfake_lab.pipelines.swap_guard import SwapGuard, fit_pose_stats, pose_distance
from support.corpus import sample


def _cli(args: list[str]) -> tuple[int, str]:
    """Run the CLI as the console entry point does; (exit code, stderr + stdout)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, err.getvalue() + out.getvalue()


@pytest.fixture(scope="module")
def trained_run(swap_facesets, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """A 2-step swap-lite (64 px, learned mask) run made by the one command from two existing facesets."""
    a, b = swap_facesets
    run = tmp_path_factory.mktemp("fst") / "pair"
    code, out = _cli([
        "faceswap-train", str(a), "--with", str(b), "-o", str(run), "--model", "swap-lite", "--steps", "2",
        "-b", "2", "--preview-every", "1", "--checkpoint-every", "1", "--threads", "1", "-q",
    ])  # fmt: skip
    assert code == 0, out
    assert "trained to step 2" in out and "export:" in out
    return run


def test_faceswap_train_exports_a_model_with_preview_mask_and_guard(trained_run: Path) -> None:
    run = trained_run
    assert (run / "samples" / "latest.png").is_file() and (run / "samples" / "step_000001.png").is_file()
    preview = cv2.imread(str(run / "samples" / "latest.png"))
    assert preview.shape[0] >= 2 * 64  # grid "a" (A, A→A, A→B) over grid "b" (B, B→B, B→A)
    card = json.loads((run / "export" / "model.json").read_text())
    assert card["model"] == "swap-lite" and card["model_kwargs"]["learn_mask"] is True
    assert card["input"]["shape"] == [3, 64, 64]
    assert card["training"]["task_kwargs"]["mask_loss"] == "bce"
    assert card["training"]["data_split"]["b"]["held_out"]["faces"] > 0
    guard = card["swap_guard"]
    assert set(guard["pose"]) == {"a", "b"} and guard["recon_l1"]["a"] > 0
    cfg = (run / "config.yaml").read_text()
    assert "channels: 5" in cfg  # trained with the eyes + mouth channel
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("mask_bce_a" in m for m in metrics)


def test_faceswap_train_resumes_and_refuses_foreign_folders(trained_run: Path, swap_facesets, tmp_path) -> None:  # noqa: F811
    a, b = swap_facesets
    code, out = _cli(["faceswap-train", str(a), "--with", str(b), "-o", str(trained_run), "--model", "swap-lite",
                      "--steps", "3", "-b", "2", "-q"])  # fmt: skip
    assert code == 0, out
    assert "resumed, trained to step 3" in out
    other = tmp_path / "notarun"
    other.mkdir()
    (other / "precious.txt").write_text("x")
    code, out = _cli(["faceswap-train", str(a), "--with", str(b), "-o", str(other), "--steps", "1"])
    assert code != 0 and "error:" in out and "not empty" in out
    assert (other / "precious.txt").read_text() == "x"
    code, out = _cli(["faceswap-train", str(a), "--with", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "r")])
    assert code != 0 and "no such file" in out


def test_swap_uses_the_trained_model_and_guard_passes_faces_through(trained_run: Path, tmp_path) -> None:
    image = sample("single_face.jpg")
    model = trained_run / "export" / "model.safetensors"
    out = tmp_path / "swapped.png"
    code, text = _cli(["swap", str(image), "-m", str(model), "--to", "a", "-o", str(out), "-q", "--no-provenance"])
    assert code == 0, text
    side = json.loads((tmp_path / "swapped.png.json").read_text())
    assert side["guard"]["enabled"] is True
    assert side["faces_replaced"] + side["faces_passed_through"] == 1
    # A card whose pose statistics admit nothing: the face is passed through untouched and says why.
    strict = tmp_path / "strict"
    strict.mkdir()
    (strict / "model.safetensors").write_bytes(model.read_bytes())
    card = json.loads(model.with_suffix(".json").read_text())
    for st in card["swap_guard"]["pose"].values():
        st["threshold"] = 1e-9
    (strict / "model.json").write_text(json.dumps(card))
    out2 = tmp_path / "kept.png"
    code, text = _cli(["swap", str(image), "-m", str(strict / "model.safetensors"), "--to", "a", "-o", str(out2),
                       "-q", "--no-provenance"])  # fmt: skip
    assert code == 0, text
    side = json.loads((tmp_path / "kept.png.json").read_text())
    assert side["faces_replaced"] == 0 and side["faces_passed_through"] == 1
    assert "every face was passed through" in text and "no face found" not in text  # the face was found
    face = side["passed_through"][0]["faces"][0]
    assert face["reason"] == "pose_out_of_range" and face["pose_distance"] > 1
    original = cv2.imread(str(image))
    assert np.array_equal(cv2.imread(str(out2)), original)  # untouched, not garbled
    # --swap-all swaps it anyway
    out3 = tmp_path / "forced.png"
    code, text = _cli(["swap", str(image), "-m", str(strict / "model.safetensors"), "--to", "a", "-o", str(out3),
                       "-q", "--no-provenance", "--swap-all"])  # fmt: skip
    assert code == 0, text
    assert json.loads((tmp_path / "forced.png.json").read_text())["faces_replaced"] == 1


def test_init_from_copies_weights_and_adds_a_fresh_mask_channel(trained_run: Path, tmp_path) -> None:
    src = trained_run / "export" / "model.safetensors"
    net = create_model("swap-lite", image_size=64, learn_mask=True)
    assert init_from_export(net, src) > 10
    from deepfake_lab.train.checkpoint import load_exported

    ref, _ = load_exported(src)
    assert torch.equal(net.encoder.bottleneck.weight, ref.encoder.bottleneck.weight)
    with pytest.raises(BadInputError, match="do not match"):
        init_from_export(create_model("swap-lite", image_size=128, learn_mask=True), src)


def test_init_from_grows_a_model_with_one_more_decoder_stage(trained_run: Path) -> None:
    """A 128 px model whose encoder sees the crop pooled to 64 px starts from the 64 px run: the encoder and the
    three shared decoder stages are copied, the new stage and the output conv keep their fresh weights."""
    from deepfake_lab.models.swap.original import SwapAutoencoder
    from deepfake_lab.train.checkpoint import load_exported

    src = trained_run / "export" / "model.safetensors"
    ref, _ = load_exported(src)
    net = SwapAutoencoder(image_size=128, channels=(32, 64, 128, 256), latent_dim=256, up_channels=128,
                          decoder_channels=(128, 64, 32, 16), learn_mask=True, input_pool=2)  # fmt: skip
    fresh = {k: v.clone() for k, v in net.state_dict().items() if ".ups.3." in k or ".out." in k}
    n = init_from_export(net, src)
    state = net.state_dict()
    assert n == len(state) - len(fresh)
    for k, v in ref.state_dict().items():
        if ".out." not in k:
            assert torch.equal(state[k], v), k
    assert all(torch.equal(state[k], v) for k, v in fresh.items())
    assert net.decode(net.encode(torch.rand(1, 3, 128, 128)), "a").shape == (1, 4, 128, 128)
    with pytest.raises(BadInputError, match="do not match"):  # same stages, another size: still refused
        init_from_export(create_model("swap-lite", image_size=128, learn_mask=True), src)


def test_gan_weight_adds_a_patch_discriminator_that_is_trained_saved_and_not_exported(
    trained_run: Path, swap_facesets, tmp_path  # noqa: F811
) -> None:
    from safetensors import safe_open

    a, b = swap_facesets
    run = tmp_path / "gan"
    init = str(trained_run / "export" / "model.safetensors")
    opt = FaceswapTrainOptions(model="swap-lite", steps=2, batch_size=2, threads=1, gan_weight=0.1, init_from=init,
                               checkpoint_every=1)  # fmt: skip
    res = faceswap_train([a], [b], run, opt, progress=False)
    assert res.step == 2 and res.export is not None
    logs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    trained = [m for m in logs if "disc/loss" in m]
    assert trained and all(0 < m["disc/d_real"] < 1 and m["swap/gan_g"] > 0 for m in trained)
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert "disc" in state["nets"] and set(state["optimizers"]) == {"main", "disc"}
    with safe_open(str(res.export), "pt") as f:
        names = list(f.keys())
    assert names and not any("disc" in k or k.startswith("net.") for k in names)  # only the swap model ships
    card = json.loads(res.export.with_suffix(".json").read_text())
    assert card["training"]["task_kwargs"]["gan_weight"] == 0.1
    res2 = faceswap_train([a], [b], run, FaceswapTrainOptions(**{**opt.__dict__, "steps": 3}), progress=False)
    assert res2.resumed and res2.step == 3  # the discriminator and its optimizer resume too
    with pytest.raises(BadInputError):
        faceswap_train([a], [b], tmp_path / "bad", FaceswapTrainOptions(gan_weight=-1))


def test_faceswap_train_options_are_checked(tmp_path) -> None:
    for bad in (FaceswapTrainOptions(model="ae-dense"), FaceswapTrainOptions(steps=0),
                FaceswapTrainOptions(image_size=60), FaceswapTrainOptions(precision="fp16")):  # fmt: skip
        with pytest.raises(BadInputError):
            faceswap_train([tmp_path], [tmp_path], tmp_path / "run", bad)


@pytest.mark.slow
def test_faceswap_train_extracts_videos(tmp_path) -> None:
    woman, man = sample("WolfgangLanger_Pexels.mp4"), sample("single_face.mp4")
    res = faceswap_train(
        [woman], [man], tmp_path / "run",
        FaceswapTrainOptions(model="swap-lite", steps=1, batch_size=2, every=60, threads=1), progress=False,
    )  # fmt: skip
    assert res.faces_a == tmp_path / "run" / "faces_a" and (res.faces_a / "faces.jsonl").is_file()
    assert res.export is not None and res.export.is_file() and res.step == 1


# ------------------------------------------------------------------ faceset parts channel


def test_faceset_parts_channel(swap_facesets) -> None:  # noqa: F811
    a, _ = swap_facesets
    fs = load_faceset(a, "train", image_size=64, parts=True)
    assert fs.images.shape[1] == 5
    hull, parts = fs.images[:, 3].float() / 255, fs.images[:, 4].float() / 255
    assert float(parts.mean()) > 0.01  # eyes and mouth are there
    assert float((parts * (1 - hull)).sum()) < 0.2 * float(parts.sum())  # and inside the face (brows near its edge)
    assert load_faceset(a, "train", image_size=64).images.shape[1] == 4  # default unchanged


# ------------------------------------------------------------------ paste-back mask


def test_paste_mask_fades_before_the_crop_edge_and_follows_the_learned_mask() -> None:
    s = 128
    hull = np.ones((s, s), np.float32)  # a hull that runs off the crop (the old box seam)
    m = paste_mask(hull, None, erode=3, feather=8)
    assert m[0].max() == 0 and m[:, 0].max() == 0 and m[-1].max() == 0 and m[:, -1].max() == 0
    assert m[s // 2, s // 2] == pytest.approx(1.0)
    fade = border_fade(s, 8)
    assert fade[0, 0] == 0 and fade[s // 2, s // 2] == 1
    # A learned mask is used where it lies inside the (slightly grown) hull, eroded and feathered.
    hull2 = np.zeros((s, s), np.float32)
    hull2[20:108, 20:108] = 1
    learned = np.zeros((s, s), np.float32)
    learned[40:90, 30:100] = 0.9
    learned[0:10, 0:10] = 1.0  # a wrong blob far outside the face is ignored
    m2 = paste_mask(hull2, learned, erode=4, feather=6, hull_grow=3)
    assert m2[:12, :12].max() == 0
    assert m2[65, 65] == pytest.approx(1.0, abs=1e-3) and m2[30, 65] == 0  # outside the learned mask
    assert m2[43, 65] < m2[55, 65]  # eroded + feathered edge inside the learned mask


# ------------------------------------------------------------------ guard


def test_pose_guard_flags_unseen_poses_only() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.8, 136)
    train = base + rng.normal(0, 0.01, (300, 136))
    st = fit_pose_stats(train)
    d_train = pose_distance(st, train)
    assert np.mean(d_train <= st["threshold"]) > 0.99
    tilted = base.reshape(68, 2).copy()
    tilted[:, 1] = 0.5 + (tilted[:, 1] - 0.5) * 0.7  # head tilted: the face compressed vertically
    block = {"pose": {"a": st, "b": st}, "recon_l1": {"a": 0.1, "b": 0.1}, "mask_iou_min": 0.5}
    checks = SwapGuard(block, "b").check(np.stack([train[0], tilted.reshape(-1)]), np.array([0.05, 0.05]))
    assert checks[0].swap and not checks[1].swap and checks[1].reason == "pose_out_of_range"
    checks = SwapGuard(block, "b").check(train[:2], np.array([0.05, 0.5]), np.array([0.9, 0.9]))
    assert checks[0].swap and checks[1].reason == "low_confidence_render"
    checks = SwapGuard(block, "b").check(train[:1], np.array([0.05]), np.array([0.2]))
    assert checks[0].reason == "mask_disagrees"
    assert all(c.swap for c in SwapGuard(None, "b").check(np.stack([tilted.reshape(-1)])))  # no stats: no check
