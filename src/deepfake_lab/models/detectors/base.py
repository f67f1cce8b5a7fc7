"""The one detector output contract and the in-model input normalisation every detector shares.

Every detector maps images x: float [B, 3, H, W] in [0, 1] to

    {"logits": [B], "probs": [B] (sigmoid of logits = probability that the image is FAKE), "features": [B, F]}

so that training, benchmarks and scans never special-case a detector (DeepfakeBench's base-detector idea).

Example:
    >>> import torch
    >>> from deepfake_lab.models.catalogue import create_model
    >>> out = create_model("meso4", image_size=64)(torch.rand(2, 3, 64, 64))
    >>> sorted(out), out["probs"].shape
    (['features', 'logits', 'probs'], torch.Size([2]))
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

DEFAULT_MEAN = (0.5,)  # one value: broadcast to every channel (grayscale or RGB)
DEFAULT_STD = (0.5,)


def detector_output(logits: Tensor, features: Tensor) -> dict[str, Tensor]:
    """Pack the contract: logits [B, 1] or [B] -> {"logits": [B], "probs": [B], "features": [B, F]}."""
    logits = logits.reshape(-1)
    return {"logits": logits, "probs": torch.sigmoid(logits), "features": features.flatten(1)}


class Normalize(nn.Module):
    """(x - mean) / std per channel, with mean/std as (non-persistent) buffers rebuilt from kwargs.

    Args:
        mean: per-channel mean (one value is broadcast to every channel).
        std: per-channel standard deviation (positive).
        channels: number of input channels.
    """

    def __init__(self, *, mean: Sequence[float], std: Sequence[float], channels: int = 3) -> None:
        super().__init__()
        m, s = [float(v) for v in mean], [float(v) for v in std]
        if len(m) == 1:
            m = m * channels
        if len(s) == 1:
            s = s * channels
        if len(m) != channels or len(s) != channels:
            raise ValueError(f"mean/std need 1 or {channels} values, got {len(m)} and {len(s)}")
        if min(s) <= 0:
            raise ValueError(f"std must be positive, got {s}")
        self.register_buffer("mean", torch.tensor(m).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(s).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, C, H, W] in [0, 1] -> normalised [B, C, H, W] (dtype of x)."""
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)


def check_input(x: Tensor, channels: int) -> None:
    """Raise ValueError unless x is [B, channels, H, W]."""
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"detector expects [B, {channels}, H, W] in [0, 1], got {tuple(x.shape)}")


class PooledDetector(nn.Module):
    """A CNN detector built as norm -> stem -> blocks -> global average pool -> dropout + linear logit.

    Subclasses call `super().__init__(...)` (sets `image_size`, `in_channels` and the in-model `norm`), build
    `stem` and `blocks`, then `set_head(num_features, dropout)`; the forward pass is this class's, with the one
    output contract: x [B, C, H, W] in [0, 1] -> {"logits": [B], "probs": [B], "features": [B, num_features]}.
    """

    stem: nn.Module
    blocks: nn.Module

    def __init__(self, *, image_size: int, in_channels: int, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.image_size, self.in_channels = int(image_size), int(in_channels)
        self.norm = Normalize(mean=mean, std=std, channels=in_channels)

    def set_head(self, num_features: int, dropout: float) -> None:
        """Add the pooling and the logit layer on top of `num_features` channels."""
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(num_features, 1))
        self.num_features = int(num_features)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """x: [B, C, H, W] in [0, 1] -> {"logits": [B], "probs": [B], "features": [B, num_features]}."""
        check_input(x, self.in_channels)
        f = self.pool(self.blocks(self.stem(self.norm(x))))
        return detector_output(self.head(f), f)
