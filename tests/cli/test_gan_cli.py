"""GAN runs end to end from the CLI: train, sample (with --class), interpolate (lerp/slerp), latent-arith."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from deepfake_lab.cli import main
from deepfake_lab.pipelines.generate import latents_for_seeds, slerp_codes


def _cli(*args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    return int(info.value.code or 0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("gan_runs")
    common = ["--data", "digits", "--steps", "3", "--runs-dir", root, "--no-progress", "--batch-size", "16"]
    assert _cli("train", "dcgan-32", "--name", "dc", "--set", "model_kwargs.width=8", *common) == 0
    assert _cli("train", "cgan-mlp", "--name", "cg", *common) == 0
    return root


def test_sample_writes_a_grid(runs, tmp_path) -> None:
    out = tmp_path / "grid.png"
    assert _cli("sample", runs / "dc", "-n", 16, "-o", out) == 0
    w, h = Image.open(out).size
    assert w > 4 * 32 and h > 2 * 32  # 8 columns x 2 rows of 32 px tiles


def test_sample_a_chosen_class(runs, tmp_path, capsys) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert _cli("sample", runs / "cg", "-n", 8, "--class", 3, "-o", a) == 0
    assert _cli("sample", runs / "cg", "-n", 8, "--class", 7, "-o", b) == 0
    assert Image.open(a).tobytes() != Image.open(b).tobytes()
    assert _cli("sample", runs / "cg", "-n", 8, "--class", 12, "-o", a) == 2
    assert _cli("sample", runs / "dc", "-n", 8, "--class", 1, "-o", a) == 2
    assert "unconditional" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["lerp", "slerp"])
def test_interpolate_gan_run(runs, tmp_path, mode: str) -> None:
    out = tmp_path / f"{mode}.png"
    assert _cli("interpolate", runs / "dc", "--a", 1, "--b", 2, "--steps", 6, "--mode", mode, "-o", out) == 0
    assert Image.open(out).size[0] > 6 * 32
    assert _cli("interpolate", runs / "cg", "--a", "1:3", "--b", "2:8", "--mode", mode, "-o", out) == 0
    assert _cli("interpolate", runs / "dc", "--a", "x", "--b", 2, "-o", out) == 2
    assert _cli("interpolate", runs / "dc", "--a", 1, "--b", 2, "--mode", "cubic", "-o", out) == 2


def test_latent_arithmetic(runs, tmp_path) -> None:
    out = tmp_path / "arith.png"
    assert _cli("latent-arith", runs / "dc", "--a", "1,2,3", "--b", "4,5", "--c", "6", "-o", out) == 0
    assert out.is_file()
    assert _cli("latent-arith", runs / "dc", "--a", "1", "--b", "", "--c", "6", "-o", out) == 2


def test_slerp_stays_on_the_sphere_and_hits_the_ends() -> None:
    z = latents_for_seeds([3, 4], 128)
    z = z / z.norm(dim=1, keepdim=True) * 11.0
    path = slerp_codes(z[0], z[1], 9)
    assert torch.allclose(path[0], z[0], atol=1e-5) and torch.allclose(path[-1], z[1], atol=1e-5)
    assert torch.allclose(path.norm(dim=1), torch.full((9,), 11.0), atol=1e-4)
    assert torch.equal(latents_for_seeds([3], 128)[0], latents_for_seeds([5, 3], 128)[1])  # seed -> same z


@pytest.mark.slow
def test_conditional_gan_generates_the_requested_digit(train_quick) -> None:
    """A cGAN trained on digits: a classifier fit on real digits recognises the requested class."""
    from sklearn.linear_model import LogisticRegression

    from deepfake_lab.data.datasets import load_dataset
    from deepfake_lab.pipelines.generate import sample_images

    trainer, _ = train_quick("cgan-mlp", steps=1000, lr=5e-4, task_kwargs={"betas": [0.5, 0.999]})
    ds = load_dataset("digits", "train")
    clf = LogisticRegression(max_iter=2000).fit(ds.images.flatten(1).numpy() / 255, ds.labels.numpy())
    x = sample_images(trainer.model.eval(), 200, seed=0)  # classes cycle 0..9
    acc = (clf.predict(x.flatten(1).numpy()) == (torch.arange(200) % 10).numpy()).mean()
    assert acc > 0.8, acc


def test_g_loss_option_sets_the_gan_task_loss(tmp_path, capsys) -> None:
    common = ["--data", "digits", "--steps", "2", "--runs-dir", tmp_path, "--no-progress", "--batch-size", "16"]
    assert _cli("train", "gan-mlp", "--name", "mm", "--g-loss", "minimax", *common) == 0
    assert "g_loss: minimax" in (tmp_path / "mm" / "config.yaml").read_text()
    assert _cli("train", "gan-mlp", "--name", "bad", "--g-loss", "wasserstein", *common) == 2
    assert _cli("train", "ae-dense", "--name", "ae", "--g-loss", "minimax", *common) == 2
    assert "--g-loss applies to the z -> image GANs" in capsys.readouterr().err
    assert _cli("train", "--resume", tmp_path / "mm", "--g-loss", "minimax") == 2
