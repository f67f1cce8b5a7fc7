"""The generator/discriminator pair every GAN factory returns.

A `GAN` is a plain container: the task trains `generator` and `discriminator` with two optimizers, the
export holds both (the discriminator is a ready-made real/fake scorer), and the latent tools only need
`latent_dim`, `n_classes` and `generate`.

Images live in [-1, 1] inside the GAN (tanh output); tasks and pipelines convert from/to [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def one_hot(
    y: Tensor | None, n_classes: int, batch: int, device: torch.device, dtype: torch.dtype
) -> Tensor | None:
    """Condition vectors for labels (or already-soft conditions).

    Args:
        y: int64 labels [B], float conditions [B, n_classes] (e.g. interpolated one-hots), or None.
        n_classes: 0 for an unconditional model (returns None).
        batch: B, used to check the label count.

    Returns:
        float [B, n_classes] or None.
    """
    if n_classes == 0:
        return None
    if y is None:
        raise ValueError("this GAN is conditional: pass class labels y")
    if y.dim() == 2:
        c = y
    else:
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= n_classes):
            raise ValueError(f"class labels must be in [0, {n_classes}), got {y.tolist()[:8]}")
        c = F.one_hot(y.long(), n_classes)
    if c.shape[0] != batch:
        raise ValueError(f"{c.shape[0]} labels for a batch of {batch}")
    return c.to(device=device, dtype=dtype)


class GAN(nn.Module):
    """Generator G(z[, y]) -> images in [-1, 1] and discriminator D(x[, y]) -> logits.

    Args:
        generator: maps (z [B, latent_dim], cond [B, n_classes] or None) to [B, C, H, W] in [-1, 1].
        discriminator: maps (x [B, C, H, W], cond or None) to logits [B].
        latent_dim: size of z.
        out_shape: (C, H, W) of generated images.
        n_classes: number of one-hot conditions (0: unconditional).
    """

    def __init__(
        self,
        *,
        generator: nn.Module,
        discriminator: nn.Module,
        latent_dim: int,
        out_shape: Sequence[int],
        n_classes: int = 0,
    ) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.out_shape = tuple(int(s) for s in out_shape)
        self.n_classes = int(n_classes)

    @property
    def conditional(self) -> bool:
        return self.n_classes > 0

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """z [B, latent_dim]; y: labels [B] or conditions [B, n_classes] -> images [B, C, H, W] in [-1, 1]."""
        return self.generator(z, one_hot(y, self.n_classes, z.shape[0], z.device, z.dtype))

    def discriminate(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """x: [B, C, H, W] in [-1, 1] -> logits [B]."""
        return self.discriminator(x, one_hot(y, self.n_classes, x.shape[0], x.device, x.dtype))

    def sample_z(
        self, n: int, *, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
    ) -> Tensor:
        """Standard normal latents [n, latent_dim]."""
        return torch.randn(n, self.latent_dim, generator=generator).to(device)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.generate(z, y)


def check_in_shape(in_shape: Sequence[int], image_size: int | None = None) -> tuple[int, int, int]:
    """(C, H, W) as ints; with `image_size`, H and W must equal it (a user-readable ValueError otherwise)."""
    c, h, w = (int(s) for s in in_shape)
    if image_size is not None and (h, w) != (image_size, image_size):
        raise ValueError(
            f"this model makes {image_size}x{image_size} images but the data is {h}x{w}; "
            f"add --set data.image_size={image_size}"
        )
    return c, h, w
