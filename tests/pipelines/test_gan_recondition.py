"""Shipped GAN generators and the face-aging mechanism (Antipov et al.): find z*, regenerate under another class."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
import torch
from PIL import Image

from deepfake_lab.cli import main
from deepfake_lab.data.datasets import load_dataset
from deepfake_lab.errors import BadInputError, DeepfakeLabError
from deepfake_lab.models.catalogue import create_model
from deepfake_lab.pipelines.generate import load_generator, sample_images
from deepfake_lab.pipelines.recondition import fit_latent_encoder, recondition

ASSETS = Path(str(resources.files("deepfake_lab") / "assets"))
SHIPPED = {"dcgan32-fashion-mnist": ("dcgan-32", "fashion-mnist", 0), "cdcgan32-mnist": ("cdcgan-32", "mnist", 10)}


def _cli(*args: object) -> int:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    return int(info.value.code or 0)


@pytest.fixture(scope="module")
def mnist32():
    try:
        return load_dataset("mnist", "train", image_size=32), load_dataset("mnist", "test", image_size=32)
    except DeepfakeLabError as exc:
        pytest.skip(f"MNIST not in the cache: {exc}")


@pytest.fixture(scope="module")
def digit_classifier(mnist32):
    """Logistic regression on 3,000 real MNIST digits at 32 px (~90 % held-out accuracy)."""
    from sklearn.linear_model import LogisticRegression

    train, test = mnist32
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(train), generator=g)[:3000]
    clf = LogisticRegression(max_iter=300, C=0.05).fit(train.images[idx].flatten(1).numpy() / 255, train.labels[idx])
    acc = (clf.predict(test.images.flatten(1).numpy() / 255) == test.labels.numpy()).mean()
    assert acc > 0.85, acc
    return clf


@pytest.fixture(scope="module")
def mnist_cgan():
    """The shipped MNIST cGAN and a small latent encoder fitted on its samples (200 steps of 32, seeded)."""
    model, _ = load_generator(ASSETS / "cdcgan32-mnist.safetensors")
    return model, fit_latent_encoder(model, steps=200, batch_size=32, width=16, seed=0)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_generators_load_and_sample(name: str) -> None:
    model_name, data, n_classes = SHIPPED[name]
    st = ASSETS / f"{name}.safetensors"
    assert st.stat().st_size <= 5 * 2**20
    card = json.loads((ASSETS / f"{name}.json").read_text())
    assert card["model"] == model_name and card["family"] == "gan"
    assert card["training"]["data"] == data and card["training"]["steps"] > 0 and "command" in card["training"]
    model, _ = load_generator(st)
    assert model.n_classes == n_classes
    x = sample_images(model, 20, seed=0)
    assert x.shape == (20, 1, 32, 32) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert float(x.std()) > 0.1  # images, not a constant


def test_sample_cli_accepts_asset_paths(tmp_path) -> None:
    out = tmp_path / "g.png"
    assert _cli("sample", ASSETS / "dcgan32-fashion-mnist.safetensors", "-n", 8, "-o", out) == 0
    assert out.is_file()
    assert _cli("sample", ASSETS / "cdcgan32-mnist.json", "-n", 10, "--class", 4, "-o", out) == 0


def test_conditional_asset_draws_the_requested_digit(digit_classifier) -> None:
    model, _ = load_generator(ASSETS / "cdcgan32-mnist.safetensors")
    x = sample_images(model, 200, seed=0)  # classes cycle 0..9
    acc = (digit_classifier.predict(x.flatten(1).numpy()) == (torch.arange(200) % 10).numpy()).mean()
    assert acc > 0.8, acc


def test_recondition_keeps_the_image_and_changes_the_class(mnist32, mnist_cgan, digit_classifier) -> None:
    """z* reconstructs real test digits under their own class; under another class the digit changes."""
    _, test = mnist32
    model, enc = mnist_cgan
    g = torch.Generator().manual_seed(1)
    idx = torch.randperm(len(test), generator=g)[:10]
    x, y = test.images[idx].float() / 255, test.labels[idx]
    targets = [int((int(c) + 5) % 10) for c in y]  # one target per image below
    out = recondition(model, x, to=list(range(10)), source=y.tolist(), encoder=enc, steps=40)
    recon, results = out["reconstruction"], out["results"]
    err = (recon - x).pow(2).flatten(1).mean(1)
    # a random sample of the same class is much further from the input than the reconstruction
    rand = sample_images(model, 10, seed=123)
    rand_err = (rand - x).pow(2).flatten(1).mean(1)
    assert float(err.mean()) < 0.5 * float(rand_err.mean()), (err.mean(), rand_err.mean())
    rec_acc = (digit_classifier.predict(recon.flatten(1).numpy()) == y.numpy()).mean()
    moved = torch.stack([results[i, t] for i, t in enumerate(targets)])
    new_acc = (digit_classifier.predict(moved.flatten(1).numpy()) == targets).mean()
    assert rec_acc >= 0.8 and new_acc >= 0.7, (rec_acc, new_acc)
    # z* is shared: the same latent under the source class reproduces the reconstruction
    same = torch.stack([results[i, int(c)] for i, c in enumerate(y)])
    assert torch.allclose(same, recon, atol=1e-5)


def test_recondition_infers_the_source_class(mnist32, mnist_cgan) -> None:
    _, test = mnist32
    model, enc = mnist_cgan
    idx = torch.randperm(len(test), generator=torch.Generator().manual_seed(2))[:4]
    x, y = test.images[idx].float() / 255, test.labels[idx]
    out = recondition(model, x, to=[0], encoder=enc, steps=25)
    assert (out["source"] == y).float().mean() >= 0.75, (out["source"], y)


def test_recondition_rejects_bad_use(tmp_path) -> None:
    uncond = create_model("dcgan-32", width=8)
    with pytest.raises(BadInputError, match="conditional"):
        recondition(uncond, torch.rand(1, 1, 32, 32), to=[1])
    cond = create_model("cdcgan-32", in_shape=(1, 32, 32), width=8).eval()
    with pytest.raises(BadInputError, match="out of range"):
        recondition(cond, torch.rand(1, 1, 32, 32), to=[10], encoder_steps=1)
    with pytest.raises(BadInputError, match="images must be"):
        recondition(cond, torch.rand(1, 3, 32, 32), to=[1], encoder_steps=1)


def test_recondition_cli(tmp_path) -> None:
    img = tmp_path / "digit.png"
    ds = load_dataset("digits", "test")
    Image.fromarray(ds.images[0, 0].numpy()).resize((32, 32)).save(img)
    out = tmp_path / "r.png"
    asset = ASSETS / "cdcgan32-mnist.safetensors"
    common = ["--steps", 5, "--encoder-steps", 5, "-o", out]
    assert _cli("recondition", asset, "--image", img, "--from", 0, "--to", 3, "--to", 8, *common) == 0
    w, h = Image.open(out).size
    assert w > h  # one row: input | reconstruction | two targets
    assert _cli("recondition", asset, "--image", img, "--to", 11, *common) == 2
    assert _cli("recondition", asset, "--image", tmp_path / "missing.png", "--to", 1, *common) == 2
    assert _cli("recondition", ASSETS / "dcgan32-fashion-mnist.safetensors", "--image", img, "--to", 1, *common) == 2
