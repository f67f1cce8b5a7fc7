"""Losses and penalties against closed forms and autograd."""

from __future__ import annotations

import math

import pytest
import torch

from deepfake_lab.losses import contractive_penalty, kl_sparsity, reconstruction_loss
from deepfake_lab.losses.contractive import jacobian_frobenius_sq_autograd, jacobian_frobenius_sq_sigmoid
from deepfake_lab.models.catalogue import create_model
from deepfake_lab.train.tasks.autoencoder import corrupt


def test_kl_sparsity_zero_at_rho_and_matches_formula():
    z = torch.full((16, 5), 0.05)
    assert float(kl_sparsity(z, 0.05)) == pytest.approx(0.0, abs=1e-6)
    z = torch.full((16, 3), 0.2)
    rho = 0.05
    expected = 3 * (rho * math.log(rho / 0.2) + (1 - rho) * math.log((1 - rho) / 0.8))
    assert float(kl_sparsity(z, rho)) == pytest.approx(expected, rel=1e-5)
    # monotone away from rho
    assert kl_sparsity(torch.full((4, 1), 0.3), rho) > kl_sparsity(torch.full((4, 1), 0.1), rho)


def test_sigmoid_closed_form_jacobian_matches_autograd():
    torch.manual_seed(0)
    model = create_model("ae-contractive", in_shape=(1, 4, 4), latent_dim=6)
    x = torch.rand(5, 1, 4, 4)
    layer = model.sigmoid_encoder_layer()
    assert layer is not None
    closed = jacobian_frobenius_sq_sigmoid(model.encode(x), layer.weight)
    auto = jacobian_frobenius_sq_autograd(model.encode, x)
    torch.testing.assert_close(closed, auto, rtol=1e-5, atol=1e-6)


def test_contractive_penalty_uses_autograd_for_deep_encoders_and_is_differentiable():
    model = create_model("ae-dense", in_shape=(1, 4, 4), hidden=(8,), latent_dim=3)
    assert model.sigmoid_encoder_layer() is None
    x = torch.rand(4, 1, 4, 4)
    pen = contractive_penalty(model, x)
    pen.backward()
    assert model.encoder[1].weight.grad is not None


def test_reconstruction_losses():
    x = torch.rand(3, 1, 4, 4)
    assert float(reconstruction_loss(x, x, "mse")) == 0.0
    assert float(reconstruction_loss(torch.zeros_like(x), x, "mse")) == pytest.approx(float((x**2).sum() / 3), rel=1e-5)
    assert reconstruction_loss(x, x, "bce") < reconstruction_loss(1 - x, x, "bce")
    with pytest.raises(ValueError):
        reconstruction_loss(x, x, "l7")


def test_masking_noise_zeroes_about_nu():
    x = torch.ones(200, 1, 10, 10)
    torch.manual_seed(0)
    frac = float((corrupt(x, "mask", 0.3) == 0).float().mean())
    assert abs(frac - 0.3) < 0.01
    g = corrupt(torch.full((100, 1, 10, 10), 0.5), "gaussian", 0.1)
    assert 0.08 < float(g.std()) < 0.12 and g.min() >= 0 and g.max() <= 1
