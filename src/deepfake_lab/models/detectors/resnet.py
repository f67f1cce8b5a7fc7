"""A ResNet-18-style detector (He et al. 2016): four stages of two BasicBlocks, global pooling, one logit.

`small_stem=True` swaps the 7×7/2 conv + max-pool stem for a 3×3/1 conv (for inputs of 32–64 px).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from deepfake_lab.models.detectors.base import DEFAULT_MEAN, DEFAULT_STD, PooledDetector
from deepfake_lab.registry import register_model


class BasicBlock(nn.Module):
    """conv3×3 -> BN -> ReLU -> conv3×3 -> BN, plus identity (or strided 1×1 projection), then ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
        )  # fmt: skip
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, c_in, H, W] -> [B, c_out, H/stride, W/stride]."""
        return self.act(self.body(x) + self.skip(x))


class ResNetDetector(PooledDetector):
    """ResNet-style binary detector.

    Forward: `PooledDetector.forward` (features: the pooled [B, 8·width] activations before the logit).

    Args:
        image_size: nominal input side (the net itself is size-agnostic).
        width: channels of the first stage (ResNet-18: 64); stages use w, 2w, 4w, 8w.
        layers: BasicBlocks per stage (ResNet-18: 2, 2, 2, 2).
        small_stem: 3×3 stride-1 stem without max-pool, for small inputs.
        dropout: dropout before the logit.
        in_channels: input channels.
        mean: per-channel normalisation mean applied inside the model.
        std: per-channel normalisation std applied inside the model.
    """

    def __init__(
        self,
        *,
        image_size: int = 128,
        width: int = 64,
        layers: Sequence[int] = (2, 2, 2, 2),
        small_stem: bool = False,
        dropout: float = 0.0,
        in_channels: int = 3,
        mean: Sequence[float] = DEFAULT_MEAN,
        std: Sequence[float] = DEFAULT_STD,
    ) -> None:
        if width < 1 or not layers or min(layers) < 1:
            raise ValueError(f"bad ResNet size: width={width}, layers={list(layers)}")
        super().__init__(image_size=image_size, in_channels=in_channels, mean=mean, std=std)
        w = int(width)
        if small_stem:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, w, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
                nn.MaxPool2d(3, 2, padding=1),
            )  # fmt: skip
        blocks: list[nn.Module] = []
        c = w
        for i, n in enumerate(layers):
            c_out = w * 2**i
            for j in range(int(n)):
                blocks.append(BasicBlock(c, c_out, stride=2 if (j == 0 and i > 0) else 1))
                c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.set_head(c, dropout)


@register_model("resnet18", family="detector", task="detection", conv=True)
def resnet18(
    *,
    image_size: int = 128,
    width: int = 64,
    small_stem: bool = False,
    dropout: float = 0.0,
    in_channels: int = 3,
    mean: Sequence[float] = DEFAULT_MEAN,
    std: Sequence[float] = DEFAULT_STD,
) -> ResNetDetector:
    """ResNet-18-style detector (4 stages × 2 BasicBlocks); `width` scales every stage."""
    return ResNetDetector(
        image_size=image_size, width=width, layers=(2, 2, 2, 2), small_stem=small_stem, dropout=dropout,
        in_channels=in_channels, mean=mean, std=std,
    )  # fmt: skip
