"""The original GAN of Goodfellow et al. (2014): fully connected G and D.

G maps z ~ N(0, I) (optionally concatenated with a one-hot condition) through ReLU hidden layers to a
tanh image; D maps the flattened image (and condition) through LeakyReLU hidden layers to one logit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deepfake_lab.models.gans.base import GAN, check_in_shape
from deepfake_lab.registry import register_model


class MLPGenerator(nn.Module):
    """z [B, latent_dim] (+ cond [B, n_classes]) -> image [B, C, H, W] in [-1, 1].

    Args:
        latent_dim: size of z.
        out_shape: (C, H, W) of the generated image.
        hidden: widths of the ReLU hidden layers.
        n_classes: size of the one-hot condition concatenated to z (0: none).
        batchnorm: BatchNorm1d after each hidden linear layer (stabilises the MLP generator).
    """

    def __init__(
        self,
        *,
        latent_dim: int = 64,
        out_shape: Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (256, 512),
        n_classes: int = 0,
        batchnorm: bool = True,
    ) -> None:
        super().__init__()
        self.out_shape = tuple(int(s) for s in out_shape)
        layers: list[nn.Module] = []
        prev = int(latent_dim) + int(n_classes)
        for h in hidden:
            layers += [nn.Linear(prev, int(h))]
            if batchnorm:
                layers += [nn.BatchNorm1d(int(h))]
            layers += [nn.ReLU()]
            prev = int(h)
        layers += [nn.Linear(prev, math.prod(self.out_shape)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        h = z if cond is None else torch.cat([z, cond], 1)
        return self.net(h).view(-1, *self.out_shape)


class MLPDiscriminator(nn.Module):
    """image [B, C, H, W] (+ cond [B, n_classes]) -> logit [B].

    Args:
        in_shape: (C, H, W) of the input image.
        hidden: widths of the LeakyReLU(0.2) hidden layers.
        n_classes: size of the one-hot condition concatenated to the flattened image (0: none).
    """

    def __init__(
        self,
        *,
        in_shape: Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (512, 256),
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = math.prod(int(s) for s in in_shape) + int(n_classes)
        for h in hidden:
            layers += [nn.Linear(prev, int(h)), nn.LeakyReLU(0.2)]
            prev = int(h)
        layers += [nn.Linear(prev, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        h = x.flatten(1)
        if cond is not None:
            h = torch.cat([h, cond], 1)
        return self.net(h).squeeze(1)


def mlp_gan(
    *,
    in_shape: Sequence[int],
    latent_dim: int,
    g_hidden: Sequence[int],
    d_hidden: Sequence[int],
    n_classes: int = 0,
) -> GAN:
    shape = check_in_shape(in_shape)
    return GAN(
        generator=MLPGenerator(latent_dim=latent_dim, out_shape=shape, hidden=g_hidden, n_classes=n_classes),
        discriminator=MLPDiscriminator(in_shape=shape, hidden=d_hidden, n_classes=n_classes),
        latent_dim=latent_dim,
        out_shape=shape,
        n_classes=n_classes,
    )


@register_model("gan-mlp", family="gan", task="gan", task_defaults={"g_loss": "non-saturating"})
def gan_mlp(
    *,
    in_shape: Sequence[int] = (1, 28, 28),
    latent_dim: int = 64,
    g_hidden: Sequence[int] = (256, 512),
    d_hidden: Sequence[int] = (512, 256),
) -> GAN:
    """Vanilla GAN (Goodfellow 2014): MLP G and D; task option g_loss=minimax|non-saturating."""
    return mlp_gan(in_shape=in_shape, latent_dim=latent_dim, g_hidden=g_hidden, d_hidden=d_hidden)
