"""An EfficientNet-B0-style detector (Tan & Le 2019): MBConv blocks with squeeze-and-excitation, SiLU.

The B0 stage table (expansion, channels, repeats, stride, kernel) is scaled by `width` (channels, rounded to
multiples of 8) and `depth` (repeats, rounded up), as in the compound scaling of the paper.
Size-agnostic (global pooling); `image_size` is the nominal input (B0: 224).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from deepfake_lab.models.detectors.base import DEFAULT_MEAN, DEFAULT_STD, PooledDetector
from deepfake_lab.registry import register_model

# (expand ratio, output channels, repeats, first stride, kernel) of EfficientNet-B0
B0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 16, 1, 1, 3),
    (6, 24, 2, 2, 3),
    (6, 40, 2, 2, 5),
    (6, 80, 3, 2, 3),
    (6, 112, 3, 1, 5),
    (6, 192, 4, 2, 5),
    (6, 320, 1, 1, 3),
)


def round_channels(c: float, divisor: int = 8) -> int:
    """Round a scaled channel count to a multiple of `divisor`, never dropping more than 10 %."""
    out = max(divisor, int(c + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * c else out


class SqueezeExcite(nn.Module):
    """x · σ(W2 SiLU(W1 GAP(x))) with a bottleneck of `c_squeeze` channels."""

    def __init__(self, c: int, c_squeeze: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c_squeeze, 1), nn.SiLU(), nn.Conv2d(c_squeeze, c, 1), nn.Sigmoid()
        )

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, C, H, W] -> [B, C, H, W]."""
        return x * self.gate(x)


class MBConv(nn.Module):
    """Inverted residual: 1×1 expand -> k×k depthwise (stride) -> SE -> 1×1 project; identity skip if shapes match.

    Args:
        c_in: input channels.
        c_out: output channels.
        expand: expansion ratio of the hidden width.
        kernel: depthwise kernel size.
        stride: depthwise stride.
        se_ratio: SE bottleneck as a fraction of c_in.
    """

    def __init__(self, c_in: int, c_out: int, *, expand: int, kernel: int, stride: int, se_ratio: float = 0.25):
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.SiLU()]
        layers += [
            nn.Conv2d(hidden, hidden, kernel, stride=stride, padding=kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.SiLU(),
            SqueezeExcite(hidden, max(1, int(c_in * se_ratio))),
            nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out),
        ]  # fmt: skip
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, c_in, H, W] -> [B, c_out, H/stride, W/stride]."""
        y = self.body(x)
        return x + y if self.residual else y


class EfficientNetDetector(PooledDetector):
    """EfficientNet-style binary detector.

    Forward: `PooledDetector.forward` (features: the pooled [B, head channels] activations before the logit).

    Args:
        image_size: nominal input side (B0: 224; the net itself is size-agnostic).
        width: channel multiplier of the B0 table (B0: 1.0).
        depth: repeat multiplier of the B0 table (B0: 1.0).
        head_channels: channels of the final 1×1 conv before pooling (B0: 1280), scaled by `width`.
        dropout: dropout before the logit (B0: 0.2).
        in_channels: input channels.
        mean: per-channel normalisation mean applied inside the model.
        std: per-channel normalisation std applied inside the model.
    """

    def __init__(
        self,
        *,
        image_size: int = 224,
        width: float = 1.0,
        depth: float = 1.0,
        head_channels: int = 1280,
        dropout: float = 0.2,
        in_channels: int = 3,
        mean: Sequence[float] = DEFAULT_MEAN,
        std: Sequence[float] = DEFAULT_STD,
    ) -> None:
        if width <= 0 or depth <= 0:
            raise ValueError(f"width and depth must be positive, got {width}, {depth}")
        super().__init__(image_size=image_size, in_channels=in_channels, mean=mean, std=std)
        c = round_channels(32 * width)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.SiLU()
        )
        blocks: list[nn.Module] = []
        for expand, ch, reps, stride, kernel in B0_STAGES:
            c_out = round_channels(ch * width)
            for i in range(math.ceil(reps * depth)):
                blocks.append(MBConv(c, c_out, expand=expand, kernel=kernel, stride=stride if i == 0 else 1))
                c = c_out
        head = round_channels(head_channels * width)
        blocks += [nn.Conv2d(c, head, 1, bias=False), nn.BatchNorm2d(head), nn.SiLU()]
        self.blocks = nn.Sequential(*blocks)
        self.set_head(head, dropout)


@register_model("efficientnet-b0", family="detector", task="detection", conv=True)
def efficientnet_b0(
    *,
    image_size: int = 224,
    width: float = 1.0,
    depth: float = 1.0,
    head_channels: int = 1280,
    dropout: float = 0.2,
    in_channels: int = 3,
    mean: Sequence[float] = DEFAULT_MEAN,
    std: Sequence[float] = DEFAULT_STD,
) -> EfficientNetDetector:
    """EfficientNet-B0-style detector (MBConv + SE); `width`/`depth` scale channels and repeats."""
    return EfficientNetDetector(
        image_size=image_size, width=width, depth=depth, head_channels=head_channels, dropout=dropout,
        in_channels=in_channels, mean=mean, std=std,
    )  # fmt: skip
