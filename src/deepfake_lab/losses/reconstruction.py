"""Reconstruction losses: squared error, or cross-entropy for inputs read as bit probabilities."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

RECONSTRUCTION_LOSSES = ("mse", "bce")


def reconstruction_loss(x_hat: Tensor, x: Tensor, kind: str = "mse") -> Tensor:
    """Per-sample sum over pixels, mean over the batch (the lecture's ‖x - x̂‖² or H(x, x̂)).

    Args:
        x_hat: reconstruction [B, ...]; for "bce" it must lie in [0, 1].
        x: target [B, ...] in [0, 1].
        kind: "mse" or "bce".

    Returns:
        Scalar tensor.
    """
    x_hat, x = x_hat.float(), x.float()
    if kind == "mse":
        per = (x_hat - x).pow(2)
    elif kind == "bce":
        per = F.binary_cross_entropy(x_hat.clamp(1e-6, 1 - 1e-6), x, reduction="none")
    else:
        raise ValueError(f"unknown reconstruction loss {kind!r}; choose from {RECONSTRUCTION_LOSSES}")
    return per.flatten(1).sum(1).mean()


def mse_per_pixel(x_hat: Tensor, x: Tensor) -> Tensor:
    """Mean squared error per element, for comparisons across models: scalar."""
    return torch.mean((x_hat.float() - x.float()) ** 2)
