"""PCA as the linear limit of an autoencoder: fitted with scikit-learn, applied as a torch module."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from deepfake_lab.registry import register_model


class PCAModel(nn.Module):
    """z = (x - μ) Cᵀ, x̂ = z C + μ, with the top `n_components` principal axes C.

    Args:
        in_shape: input shape (C, H, W), flattened.
        n_components: number of principal components k.
    """

    def __init__(self, *, in_shape: Sequence[int] = (1, 28, 28), n_components: int = 32) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        dim = math.prod(self.in_shape)
        if not 0 < n_components <= dim:
            raise ValueError(f"n_components must be in 1..{dim}, got {n_components}")
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("components", torch.zeros(int(n_components), dim))

    def fit(self, x: Tensor, seed: int = 0) -> PCAModel:
        """Fit on x: [N, C, H, W] with scikit-learn's PCA (exact SVD)."""
        from sklearn.decomposition import PCA  # here: importing every model family must not load sklearn

        pca = PCA(n_components=self.components.shape[0], svd_solver="full", random_state=seed)
        pca.fit(x.detach().flatten(1).double().cpu().numpy())
        self.mean.copy_(torch.from_numpy(np.asarray(pca.mean_, dtype=np.float32)))
        self.components.copy_(torch.from_numpy(np.asarray(pca.components_, dtype=np.float32)))
        return self

    def encode(self, x: Tensor) -> Tensor:
        """x: [B, C, H, W] -> z: [B, k]."""
        return (x.flatten(1) - self.mean) @ self.components.T

    def decode(self, z: Tensor) -> Tensor:
        """z: [B, k] -> x̂: [B, C, H, W]."""
        return (z @ self.components + self.mean).view(-1, *self.in_shape)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


@register_model("pca", family="autoencoder", task="pca")
def pca(*, in_shape: Sequence[int] = (1, 28, 28), n_components: int = 32) -> PCAModel:
    """PCA baseline (scikit-learn), the linear limit of an autoencoder."""
    return PCAModel(in_shape=in_shape, n_components=n_components)
