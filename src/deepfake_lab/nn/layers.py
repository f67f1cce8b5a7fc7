"""Small shared building blocks."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "none": nn.Identity,
}


def make_activation(name: str) -> nn.Module:
    """Activation module by name (`"none"` is the identity, giving a linear layer)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {', '.join(ACTIVATIONS)}") from None


# ---------------------------------------------------------------------------- progressive GAN (Karras et al. 2018)
class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit mean square: x / sqrt(mean_c x² + ε); [B, C, ...] -> same."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = float(eps)

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + self.eps)


class EqualizedConv2d(nn.Module):
    """Conv2d with the equalised learning rate: weights drawn from N(0, 1) and scaled at run time by
    gain / sqrt(fan_in), so Adam's per-parameter step acts alike on every layer.

    Args:
        in_channels, out_channels, kernel_size, padding: as in `nn.Conv2d` (stride 1).
        gain: √2 for (leaky) ReLU layers, 1 for the output layer.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0, gain: float = math.sqrt(2)
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = int(padding)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualizedLinear(nn.Module):
    """Linear layer with the equalised learning rate (see `EqualizedConv2d`); [B, in] -> [B, out]."""

    def __init__(self, in_features: int, out_features: int, gain: float = math.sqrt(2)) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


def minibatch_stddev(x: Tensor, group_size: int = 4) -> Tensor:
    """Append the minibatch standard deviation as one feature map (ProGAN): [B, C, H, W] -> [B, C + 1, H, W].

    Within groups of `group_size` samples, the std of every feature at every pixel is averaged to one number
    per group and broadcast as an extra channel, so D can see a lack of variety (mode collapse).
    """
    b, c, h, w = x.shape
    g = min(group_size, b)
    while b % g:
        g -= 1
    y = x.float().view(g, -1, c, h, w)
    y = (y - y.mean(0)).pow(2).mean(0).add(1e-8).sqrt().mean(dim=(1, 2, 3))  # [B/g]
    y = y.view(-1, 1, 1, 1).repeat(g, 1, h, w).to(x.dtype)
    return torch.cat([x, y], 1)
