"""An Xception-style detector scaled for CPU (Chollet 2017; the FaceForensics++ baseline of Rössler 2019).

Same anatomy as Xception — a strided stem, entry-flow blocks of two depthwise-separable convolutions with a
strided max-pool and a 1×1 strided shortcut, middle-flow residual blocks of three separable convolutions,
an exit block, global average pooling and one logit — but narrower (`width` 16 instead of 32 base channels)
and with 2 middle blocks instead of 8. Size-agnostic (global pooling); `image_size` is the nominal input.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from deepfake_lab.models.detectors.base import DEFAULT_MEAN, DEFAULT_STD, PooledDetector
from deepfake_lab.registry import register_model


class SeparableConv(nn.Sequential):
    """Depthwise k×k conv followed by a pointwise 1×1 conv (no bias; BN follows outside)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_in, kernel, padding=kernel // 2, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )


class XceptionBlock(nn.Module):
    """`reps` × (ReLU -> SeparableConv -> BN), then an optional stride-2 max-pool; residual shortcut.

    Args:
        c_in: input channels.
        c_out: output channels.
        reps: number of separable convolutions.
        stride: 2 adds a 3×3 stride-2 max-pool and a strided 1×1 conv shortcut.
        start_with_relu: the first block after the stem omits the leading ReLU.
    """

    def __init__(self, c_in: int, c_out: int, *, reps: int, stride: int = 1, start_with_relu: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(reps):
            if i > 0 or start_with_relu:
                layers.append(nn.ReLU(inplace=False))
            layers += [SeparableConv(c_in if i == 0 else c_out, c_out), nn.BatchNorm2d(c_out)]
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride, padding=1))
        self.body = nn.Sequential(*layers)
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, c_in, H, W] -> [B, c_out, H/stride, W/stride]."""
        return self.body(x) + self.skip(x)


class XceptionDetector(PooledDetector):
    """Xception-style binary detector.

    Forward: `PooledDetector.forward` (features: the pooled [B, 32·width] activations before the logit).

    Args:
        image_size: nominal input side (the net itself is size-agnostic).
        width: base channels (Xception: 32). Entry flow 2w, 4w, 8w; middle flow 16w; exit 24w -> 32w.
        middle_blocks: residual middle-flow blocks (Xception: 8).
        dropout: dropout before the logit.
        in_channels: input channels.
        mean: per-channel normalisation mean applied inside the model.
        std: per-channel normalisation std applied inside the model.
    """

    def __init__(
        self,
        *,
        image_size: int = 224,
        width: int = 16,
        middle_blocks: int = 2,
        dropout: float = 0.2,
        in_channels: int = 3,
        mean: Sequence[float] = DEFAULT_MEAN,
        std: Sequence[float] = DEFAULT_STD,
    ) -> None:
        if width < 1 or middle_blocks < 0:
            raise ValueError(f"bad Xception size: width={width}, middle_blocks={middle_blocks}")
        super().__init__(image_size=image_size, in_channels=in_channels, mean=mean, std=std)
        w = int(width)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, padding=1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(),
        )  # fmt: skip
        entry = [
            XceptionBlock(2 * w, 4 * w, reps=2, stride=2, start_with_relu=False),
            XceptionBlock(4 * w, 8 * w, reps=2, stride=2),
            XceptionBlock(8 * w, 16 * w, reps=2, stride=2),
        ]
        middle = [XceptionBlock(16 * w, 16 * w, reps=3) for _ in range(middle_blocks)]
        exit_ = [
            XceptionBlock(16 * w, 24 * w, reps=2, stride=2),
            SeparableConv(24 * w, 32 * w), nn.BatchNorm2d(32 * w), nn.ReLU(),
        ]  # fmt: skip
        self.blocks = nn.Sequential(*entry, *middle, *exit_)
        self.set_head(32 * w, dropout)


@register_model("xception", family="detector", task="detection", conv=True)
def xception(
    *,
    image_size: int = 224,
    width: int = 16,
    middle_blocks: int = 2,
    dropout: float = 0.2,
    in_channels: int = 3,
    mean: Sequence[float] = DEFAULT_MEAN,
    std: Sequence[float] = DEFAULT_STD,
) -> XceptionDetector:
    """Xception-style detector for CPU: depthwise-separable blocks, half width, 2 middle blocks."""
    return XceptionDetector(
        image_size=image_size, width=width, middle_blocks=middle_blocks, dropout=dropout,
        in_channels=in_channels, mean=mean, std=std,
    )  # fmt: skip
