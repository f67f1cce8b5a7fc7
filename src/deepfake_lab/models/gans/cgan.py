"""Conditional GANs (Mirza & Osindero 2014): G(z, y) and D(x, y) with a one-hot class condition y.

`cgan-mlp` concatenates y to z and to the flattened image; `cdcgan-32` concatenates y to z as 1×1
channels in G and as constant S×S maps to D's input. The number of classes comes from the data.
"""

from __future__ import annotations

from collections.abc import Sequence

from deepfake_lab.models.gans.base import GAN
from deepfake_lab.models.gans.dcgan import dcgan
from deepfake_lab.models.gans.vanilla import mlp_gan
from deepfake_lab.registry import register_model


@register_model("cgan-mlp", family="gan", task="gan", conditional=True)
def cgan_mlp(
    *,
    in_shape: Sequence[int] = (1, 28, 28),
    n_classes: int = 10,
    latent_dim: int = 64,
    g_hidden: Sequence[int] = (256, 512),
    d_hidden: Sequence[int] = (512, 256),
) -> GAN:
    """Conditional MLP GAN: G(z, y), D(x, y) with one-hot class y."""
    if n_classes < 2:
        raise ValueError("a conditional GAN needs labelled data with at least 2 classes")
    return mlp_gan(
        in_shape=in_shape, latent_dim=latent_dim, g_hidden=g_hidden, d_hidden=d_hidden, n_classes=n_classes
    )


@register_model("cdcgan-32", family="gan", task="gan", conv=True, conditional=True)
def cdcgan_32(
    *, in_shape: Sequence[int] = (1, 32, 32), n_classes: int = 10, latent_dim: int = 100, width: int = 32
) -> GAN:
    """Conditional DCGAN at 32 px: one-hot class as extra z channels (G) and input maps (D)."""
    if n_classes < 2:
        raise ValueError("a conditional GAN needs labelled data with at least 2 classes")
    return dcgan(in_shape=in_shape, image_size=32, latent_dim=latent_dim, width=width, n_classes=n_classes)
