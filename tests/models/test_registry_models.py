"""Every registered model builds, runs forward and backward (the tests follow the registry)."""

from __future__ import annotations

import inspect

import pytest
import torch

from deepfake_lab.errors import BadInputError
from deepfake_lab.models.catalogue import create_model, list_models, model_entry
from deepfake_lab.registry import MODELS, Registry

AE_MODELS = list_models("autoencoder")


def test_registry_rejects_duplicates_and_unknown_names():
    reg: Registry[object] = Registry("thing")
    reg.register("a", family="f")(lambda: 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", family="f")(lambda: 2)
    with pytest.raises(BadInputError, match="unknown thing 'b'"):
        reg.get("b")


def test_autoencoder_family_is_complete():
    expected = {
        "ae-dense",
        "ae-overcomplete",
        "ae-linear",
        "ae-sparse",
        "ae-denoising",
        "ae-contractive",
        "ae-conv",
        "ae-conv-denoising",
        "ae-stacked",
        "pca",
    }
    assert expected <= set(AE_MODELS)


def test_create_model_rejects_unknown_kwargs():
    with pytest.raises(BadInputError, match="no argument"):
        create_model("ae-dense", bogus=1)


@pytest.mark.parametrize("name", list_models())
def test_forward_backward(name):
    shape = (1, 8, 8)
    if "in_shape" not in inspect.signature(model_entry(name).factory).parameters:
        pytest.skip(f"{name} is tested with its family's own input contract")
    if model_entry(name).family == "gan":
        pytest.skip(f"{name} maps z -> x (G) and x -> logit (D); tested in test_gan.py")
    model = create_model(name, in_shape=shape)
    x = torch.rand(4, *shape)
    if name == "pca":
        model.fit(torch.rand(32, *shape))
    out = model(x)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:  # PCA: buffers only, fitted by scikit-learn
        assert name == "pca"
        return
    out.float().pow(2).mean().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params)


@pytest.mark.parametrize("name", AE_MODELS)
def test_encode_decode_roundtrip_shapes(name):
    model = create_model(name, in_shape=(1, 8, 8))
    if name == "pca":
        model.fit(torch.rand(32, 1, 8, 8))
    z = model.encode(torch.rand(3, 1, 8, 8))
    assert z.shape[0] == 3
    assert model.decode(z).shape == (3, 1, 8, 8)


def test_overcomplete_and_undercomplete_codes():
    assert create_model("ae-overcomplete", in_shape=(1, 8, 8)).latent_dim > 64
    assert create_model("ae-dense", in_shape=(1, 8, 8)).latent_dim < 64


def test_linear_autoencoder_has_no_nonlinearity():
    model = create_model("ae-linear", in_shape=(1, 8, 8), latent_dim=4)
    x1, x2 = torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8)
    # affine map: f(a x1 + (1-a) x2) = a f(x1) + (1-a) f(x2)
    with torch.no_grad():
        lhs = model(0.3 * x1 + 0.7 * x2)
        rhs = 0.3 * model(x1) + 0.7 * model(x2)
    torch.testing.assert_close(lhs, rhs, atol=1e-5, rtol=1e-5)


def test_conv_autoencoder_follows_the_lecture():
    model = create_model("ae-conv", in_shape=(1, 28, 28))
    acts = [type(m).__name__ for m in model.modules() if type(m).__name__ in ("ReLU", "Sigmoid", "Tanh")]
    assert acts[-1] == "Sigmoid" and set(acts[:-1]) == {"ReLU"}
    y = model(torch.rand(2, 1, 28, 28))
    assert y.min() >= 0 and y.max() <= 1


def test_models_registry_families_are_tagged():
    for entry in MODELS:
        assert entry.family
        assert entry.summary, f"{entry.name} needs a docstring summary"
