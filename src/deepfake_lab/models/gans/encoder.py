"""Latent encoder E: x -> z for a trained generator (Antipov et al. 2017, "latent vector approximation").

Age-cGAN finds the latent z* of a real image in two stages: an encoder trained on the generator's own
samples (pairs (G(z, y), z)) gives an initial z0 = E(x); an optimisation of a feature/identity-preserving
loss then refines it. This module is the encoder; `deepfake_lab.pipelines.recondition` does the rest.
"""

from __future__ import annotations

from torch import Tensor, nn


class LatentEncoder(nn.Module):
    """image [B, C, H, W] in [-1, 1] -> latent [B, latent_dim] (and intermediate features).

    Args:
        channels: C of the images.
        latent_dim: size of the generator's z.
        width: channels of the first conv stage (doubled twice).
    """

    def __init__(self, *, channels: int = 1, latent_dim: int = 100, width: int = 32) -> None:
        super().__init__()
        w = int(width)
        self.features = nn.Sequential(
            nn.Conv2d(channels, w, 3, 1, 1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(w, 2 * w, 4, 2, 1),
            nn.BatchNorm2d(2 * w),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1),
            nn.BatchNorm2d(4 * w),
            nn.LeakyReLU(0.2, True),
            nn.AdaptiveAvgPool2d(4),
        )
        self.head = nn.Linear(4 * w * 16, int(latent_dim))

    def embed(self, x: Tensor) -> Tensor:
        """Feature vector [B, 4·width·16] used by the feature-preserving loss."""
        return self.features(x).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.embed(x))
