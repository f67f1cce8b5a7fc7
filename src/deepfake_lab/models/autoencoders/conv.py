"""Convolutional autoencoder as the lecture gives it: ReLU everywhere, sigmoid on the last layer."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from deepfake_lab.registry import register_model


class ConvAutoencoder(nn.Module):
    """Strided-conv encoder, transposed-conv decoder; inputs in [0, 1].

    Args:
        in_shape: input shape (C, H, W).
        channels: channels of each stride-2 encoder stage (mirrored in the decoder).
        latent_dim: if set, a dense bottleneck of this size after the last stage; else the code is the
            last feature map [B, channels[-1], H/2^n, W/2^n].
    """

    def __init__(
        self,
        *,
        in_shape: Sequence[int] = (1, 28, 28),
        channels: Sequence[int] = (32, 64),
        latent_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        c_in, h, w = self.in_shape
        chans = [int(c) for c in channels]
        enc: list[nn.Module] = []
        prev = c_in
        for c in chans:
            enc += [nn.Conv2d(prev, c, 3, stride=2, padding=1), nn.ReLU()]
            prev = c
            h, w = math.ceil(h / 2), math.ceil(w / 2)
        self.feature_shape = (prev, h, w)
        if latent_dim is not None:
            enc += [nn.Flatten(), nn.Linear(prev * h * w, int(latent_dim)), nn.ReLU()]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = []
        if latent_dim is not None:
            dec += [nn.Linear(int(latent_dim), prev * h * w), nn.ReLU(), nn.Unflatten(1, self.feature_shape)]
        rev = chans[::-1][1:] + [c_in]
        for i, c in enumerate(rev):
            last = i == len(rev) - 1
            dec += [nn.ConvTranspose2d(prev, c, 4, stride=2, padding=1), nn.Sigmoid() if last else nn.ReLU()]
            prev = c
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: Tensor) -> Tensor:
        """x: [B, C, H, W] -> z: [B, latent_dim] or [B, C', H', W']."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """z -> x̂: [B, C, H, W] in [0, 1]."""
        out = self.decoder(z)
        if out.shape[-2:] != self.in_shape[1:]:
            out = F.interpolate(out, size=self.in_shape[1:], mode="bilinear", align_corners=False)
        return out

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


@register_model("ae-conv", family="autoencoder", task="autoencoder", conv=True)
def ae_conv(
    *,
    in_shape: Sequence[int] = (1, 28, 28),
    channels: Sequence[int] = (32, 64),
    latent_dim: int | None = None,
) -> ConvAutoencoder:
    """Convolutional autoencoder (ReLU, sigmoid output)."""
    return ConvAutoencoder(in_shape=in_shape, channels=channels, latent_dim=latent_dim)


@register_model(
    "ae-conv-denoising",
    family="autoencoder",
    task="autoencoder",
    conv=True,
    task_defaults={"noise": "gaussian", "noise_level": 0.5},
)
def ae_conv_denoising(
    *,
    in_shape: Sequence[int] = (1, 28, 28),
    channels: Sequence[int] = (32, 64),
    latent_dim: int | None = None,
) -> ConvAutoencoder:
    """Denoising convolutional autoencoder (the lecture's Keras example: Gaussian noise factor 0.5)."""
    return ConvAutoencoder(in_shape=in_shape, channels=channels, latent_dim=latent_dim)
