"""Stacked autoencoder: layers pretrained greedily one at a time, then a classifier on top."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from deepfake_lab.nn import make_activation
from deepfake_lab.registry import register_model


class StackedAutoencoder(nn.Module):
    """A stack of one-layer autoencoders plus a linear classifier head.

    Layer k encodes h_{k-1} -> h_k = s(W_k h_{k-1} + b_k) and has its own decoder h_k -> ĥ_{k-1},
    used only during its greedy pretraining.

    Args:
        in_shape: input shape (C, H, W), flattened.
        layers: widths of the stacked code layers.
        activation: activation of every code layer.
        n_classes: outputs of the classifier head.
    """

    def __init__(
        self,
        *,
        in_shape: Sequence[int] = (1, 28, 28),
        layers: Sequence[int] = (256, 64),
        activation: str = "sigmoid",
        n_classes: int = 10,
    ) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        widths = [math.prod(self.in_shape), *[int(w) for w in layers]]
        self.encoders = nn.ModuleList(
            nn.Sequential(nn.Linear(a, b), make_activation(activation))
            for a, b in zip(widths[:-1], widths[1:], strict=False)
        )
        # Layer 0 reconstructs pixels in [0, 1]; deeper layers reconstruct codes in the activation's range.
        self.decoders = nn.ModuleList(
            nn.Sequential(nn.Linear(b, a), nn.Sigmoid() if i == 0 else make_activation(activation))
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=False))
        )
        self.head = nn.Linear(widths[-1], int(n_classes))

    @property
    def depth(self) -> int:
        return len(self.encoders)

    def encode(self, x: Tensor, depth: int | None = None) -> Tensor:
        """x: [B, C, H, W] -> h_depth: [B, layers[depth-1]] (all layers by default)."""
        h = x.flatten(1)
        for enc in self.encoders[: self.depth if depth is None else depth]:
            h = enc(h)
        return h

    def decode(self, z: Tensor) -> Tensor:
        """Top code [B, layers[-1]] -> x̂ [B, C, H, W] through every layer's decoder."""
        h = z
        for dec in reversed(self.decoders):
            h = dec(h)
        return h.view(-1, *self.in_shape)

    def classify(self, x: Tensor) -> Tensor:
        """x: [B, C, H, W] -> logits [B, n_classes]."""
        return self.head(self.encode(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


@register_model("ae-stacked", family="autoencoder", task="stacked-autoencoder")
def ae_stacked(
    *,
    in_shape: Sequence[int] = (1, 28, 28),
    layers: Sequence[int] = (256, 64),
    activation: str = "sigmoid",
    n_classes: int = 10,
) -> StackedAutoencoder:
    """Stacked autoencoder with a classifier head (greedy layer-wise pretraining, then fine-tuning)."""
    return StackedAutoencoder(in_shape=in_shape, layers=layers, activation=activation, n_classes=n_classes)
