"""DCGAN (Radford, Metz & Chintala, ICLR 2016), following the lecture's architecture guidelines:

- no pooling: strided convolutions in D, fractionally-strided (transposed) convolutions in G;
- batchnorm in both nets (not on G's output layer nor D's input layer, as in the paper);
- no fully connected hidden layers: z is a 1×1 map projected to 4×4 by a transposed conv, D ends in a 4×4
  conv to one logit;
- ReLU in G except the tanh output; LeakyReLU(0.2) in D everywhere.

Weights are initialised from N(0, 0.02) (BatchNorm scales from N(1, 0.02)) as in the paper.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deepfake_lab.models.gans.base import GAN, check_in_shape
from deepfake_lab.registry import register_model


def _widths(image_size: int, width: int) -> list[int]:
    """Channel widths from the 4×4 stage up: [w·2^(n-1), ..., w] for n = log2(size) - 2 stages."""
    n = int(math.log2(image_size)) - 2
    if 2 ** (n + 2) != image_size or n < 1:
        raise ValueError(f"DCGAN image_size must be a power of two >= 8, got {image_size}")
    return [width * 2 ** (n - 1 - i) for i in range(n)]


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.'s init: conv weights N(0, 0.02); batchnorm γ ~ N(1, 0.02), β = 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """z [B, latent_dim] (+ cond [B, n_classes]) -> image [B, C, S, S] in [-1, 1].

    Args:
        latent_dim: size of z.
        image_size: S, a power of two (32, 64, ...).
        channels: C of the output image.
        width: channels of the last hidden stage; earlier stages double it (64 px: 512-256-128-64).
        n_classes: one-hot condition size, concatenated to z as extra 1×1 channels (0: none).
    """

    def __init__(
        self,
        *,
        latent_dim: int = 100,
        image_size: int = 64,
        channels: int = 3,
        width: int = 64,
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        w = _widths(image_size, width)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim + n_classes, w[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(w[0]),
            nn.ReLU(True),
        ]
        for a, b in zip(w[:-1], w[1:], strict=False):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(w[-1], channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        h = z if cond is None else torch.cat([z, cond], 1)
        return self.net(h[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """image [B, C, S, S] (+ cond [B, n_classes]) -> logit [B].

    Args:
        image_size: S, a power of two.
        channels: C of the input image.
        width: channels of the first stage; later stages double it (64 px: 64-128-256-512).
        n_classes: one-hot condition size, broadcast to S×S maps and concatenated to the input (0: none).
    """

    def __init__(
        self, *, image_size: int = 64, channels: int = 3, width: int = 64, n_classes: int = 0
    ) -> None:
        super().__init__()
        w = _widths(image_size, width)[::-1]
        layers: list[nn.Module] = [
            nn.Conv2d(channels + n_classes, w[0], 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
        ]
        for a, b in zip(w[:-1], w[1:], strict=False):
            layers += [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(w[-1], 1, 4, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        if cond is not None:
            maps = cond[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
            x = torch.cat([x, maps.to(x.dtype)], 1)
        return self.net(x).flatten()


def dcgan(
    *, in_shape: Sequence[int], image_size: int, latent_dim: int, width: int, n_classes: int = 0
) -> GAN:
    """A DCGAN pair for (C, image_size, image_size) images."""
    c, h, w = check_in_shape(in_shape, image_size)
    return GAN(
        generator=DCGANGenerator(
            latent_dim=latent_dim, image_size=image_size, channels=c, width=width, n_classes=n_classes
        ),
        discriminator=DCGANDiscriminator(image_size=image_size, channels=c, width=width, n_classes=n_classes),
        latent_dim=latent_dim,
        out_shape=(c, h, w),
        n_classes=n_classes,
    )


@register_model("dcgan-32", family="gan", task="gan", conv=True)
def dcgan_32(*, in_shape: Sequence[int] = (1, 32, 32), latent_dim: int = 100, width: int = 32) -> GAN:
    """DCGAN at 32 px (Radford 2016 guidelines; G 128-64-32 channels at width 32)."""
    return dcgan(in_shape=in_shape, image_size=32, latent_dim=latent_dim, width=width)


@register_model("dcgan-64", family="gan", task="gan", conv=True)
def dcgan_64(*, in_shape: Sequence[int] = (3, 64, 64), latent_dim: int = 100, width: int = 64) -> GAN:
    """DCGAN at 64 px, the paper's network (G 512-256-128-64 channels)."""
    return dcgan(in_shape=in_shape, image_size=64, latent_dim=latent_dim, width=width)
