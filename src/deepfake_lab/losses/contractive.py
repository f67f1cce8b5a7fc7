"""Contractive penalty Ω(x) = ‖J_f(x)‖²_F of the encoder f."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import jacrev, vmap


def jacobian_frobenius_sq_sigmoid(h: Tensor, weight: Tensor) -> Tensor:
    """Closed form for f(x) = sigmoid(Wx + b): ‖J‖²_F = Σ_j (h_j(1-h_j))² Σ_i W_ji².

    Args:
        h: code f(x) [B, J].
        weight: W [J, D].

    Returns:
        [B] per-sample squared Frobenius norms.
    """
    return ((h * (1 - h)) ** 2 * weight.pow(2).sum(1)).sum(1)


def jacobian_frobenius_sq_autograd(
    encode: Callable[[Tensor], Tensor], x: Tensor, chunk_size: int | None = None
) -> Tensor:
    """Exact ‖J_f(x)‖²_F per sample by reverse-mode autograd (differentiable w.r.t. parameters).

    Args:
        encode: f, mapping [B, ...] -> [B, J] (or any shape, flattened).
        x: inputs [B, ...].
        chunk_size: samples per vectorised chunk; bounds memory, which grows with B × J × |x| (a conv code of
            3136 units on 28×28 inputs needs ~80 MB per sample).

    Returns:
        [B] per-sample squared Frobenius norms.
    """

    def single(xi: Tensor) -> Tensor:
        return encode(xi.unsqueeze(0)).flatten()

    jac = vmap(jacrev(single), chunk_size=chunk_size)(x)  # [B, J, *x.shape[1:]]
    return jac.flatten(1).pow(2).sum(1)


def contractive_penalty(model: nn.Module, x: Tensor, z: Tensor | None = None) -> Tensor:
    """Mean over the batch of ‖J_f(x)‖²_F; closed form when the encoder is one sigmoid layer.

    Args:
        model: an autoencoder with `encode`; if it has `sigmoid_encoder_layer()` returning a Linear,
            the closed form is used.
        x: inputs [B, C, H, W].
        z: the codes f(x) if already computed (used by the closed form).
    """
    layer_fn = getattr(model, "sigmoid_encoder_layer", None)
    layer = layer_fn() if callable(layer_fn) else None
    if layer is not None:
        h = model.encode(x) if z is None else z
        return jacobian_frobenius_sq_sigmoid(h.float(), layer.weight.float()).mean()
    return jacobian_frobenius_sq_autograd(model.encode, x).mean()


@torch.no_grad()
def jacobian_frobenius(model: nn.Module, x: Tensor) -> Tensor:
    """Mean ‖J_f(x)‖_F (not squared) over a batch, by autograd whatever the encoder: scalar."""
    with torch.enable_grad():
        sq = jacobian_frobenius_sq_autograd(model.encode, x, chunk_size=4)
    return sq.sqrt().mean()
