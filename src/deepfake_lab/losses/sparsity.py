"""Sparsity penalty of the sparse autoencoder: Σ_j KL(ρ ‖ ρ̂_j)."""

from __future__ import annotations

import torch
from torch import Tensor


def kl_sparsity(z: Tensor, rho: float, eps: float = 1e-6) -> Tensor:
    """Σ_j KL(ρ‖ρ̂_j) with ρ̂_j the batch mean of code unit j.

    Args:
        z: code activations in (0, 1) (sigmoid units), [B, J] or [B, C, H, W] (flattened per sample).
        rho: target mean activation ρ in (0, 1).

    Returns:
        Scalar: ρ log(ρ/ρ̂) + (1-ρ) log((1-ρ)/(1-ρ̂)) summed over units; 0 iff every ρ̂_j = ρ.
    """
    if not 0.0 < rho < 1.0:
        raise ValueError(f"sparsity rho must lie in (0, 1), got {rho}")
    rho_hat = z.float().flatten(1).mean(0).clamp(eps, 1 - eps)
    r = torch.tensor(rho, dtype=rho_hat.dtype)
    return (r * torch.log(r / rho_hat) + (1 - r) * torch.log((1 - r) / (1 - rho_hat))).sum()
