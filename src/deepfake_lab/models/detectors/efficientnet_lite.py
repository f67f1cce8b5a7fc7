"""An EfficientNet-Lite0 detector (Tan & Le 2019; the "Lite" variant for CPUs and accelerators: no
squeeze-and-excitation, ReLU6, fixed stem and head) whose parameter names match the ImageNet checkpoint of the
`efficientnet-lite0-imagenet` data item (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv`` ...), so those
weights load with ``strict=True`` into ``model.backbone`` (`train.pretrained`).

Heads as in `mobilenet.MobileNetV2Detector`: global average pooling -> dropout -> linear -> one logit (FAKE), and
an optional heatmap head (``mask_head=True``, a 1x1 convolution on the stride-16, 112-channel features of block
10) giving ``mask`` logits [B, 1, H/16, W/16]. Inputs are scaled to [-1, 1] inside (mean = std = 0.5), the
convention of the TF-Lite models the weights come from. Convolutions pad symmetrically (k // 2) where TensorFlow
padded "same" (one more row/column at the end for stride 2): the first fine-tuning steps absorb the half-pixel
shift.

Example:
    >>> import torch
    >>> from deepfake_lab.models.catalogue import create_model
    >>> out = create_model("efficientnet-lite0", image_size=64, mask_head=True)(torch.rand(2, 3, 64, 64))
    >>> out["probs"].shape, out["mask"].shape
    (torch.Size([2]), torch.Size([2, 1, 4, 4]))
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from deepfake_lab.models.detectors.base import check_input
from deepfake_lab.models.detectors.efficientnet import B0_STAGES
from deepfake_lab.models.detectors.mobilenet import heads_output
from deepfake_lab.registry import register_model

LITE_MASK_BLOCK = 10  # last block of the stride-16, 112-channel stage
_BN = {"eps": 1e-3, "momentum": 0.01}  # the checkpoint's batch-norm settings


class LiteBlock(nn.Module):
    """1×1 expand (if > 1) -> k×k depthwise (stride) -> 1×1 linear project, ReLU6, skip when shapes match."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(c_in, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, **_BN)
        self._depthwise_conv = nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, **_BN)
        self._project_conv = nn.Conv2d(hidden, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, **_BN)
        self.act = nn.ReLU6(inplace=True)
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, c_in, H, W] -> [B, c_out, H/stride, W/stride]."""
        h = self.act(self._bn0(self._expand_conv(x))) if self.expand else x
        h = self._bn2(self._project_conv(self.act(self._bn1(self._depthwise_conv(h)))))
        return x + h if self.skip else h


class Lite0Backbone(nn.Module):
    """Stem (3×3/2, 32) -> 16 `LiteBlock`s -> 1×1 head conv (1280), the checkpoint's names."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks: list[nn.Module] = []
        c = 32
        for expand, c_out, n, stride, kernel in B0_STAGES:  # Lite0 keeps B0's blocks
            for i in range(n):
                blocks.append(LiteBlock(c, c_out, kernel, stride if i == 0 else 1, expand))
                c = c_out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(c, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, **_BN)
        self.act = nn.ReLU6(inplace=True)


class EfficientNetLite0Detector(nn.Module):
    """EfficientNet-Lite0 backbone + one-logit head (+ optional blend-mask head).

    Args:
        image_size: nominal input side (size-agnostic).
        dropout: dropout before the linear head.
        mask_head: also output ``mask`` logits [B, 1, H/16, W/16] from the stride-16 features.
        mean: per-channel input mean (0.5: the pretrained weights expect [-1, 1]).
        std: per-channel input std.
    """

    def __init__(
        self,
        *,
        image_size: int = 128,
        dropout: float = 0.2,
        mask_head: bool = False,
        mean: Sequence[float] = (0.5, 0.5, 0.5),
        std: Sequence[float] = (0.5, 0.5, 0.5),
    ) -> None:
        super().__init__()
        from deepfake_lab.models.detectors.base import Normalize

        self.image_size, self.in_channels = int(image_size), 3
        self.norm = Normalize(mean=mean, std=std, channels=3)
        self.backbone = Lite0Backbone()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(1280, 1))
        self.mask = nn.Conv2d(B0_STAGES[4][1], 1, 1) if mask_head else None

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """x: [B, 3, H, W] in [0, 1] -> {"logits": [B], "probs": [B], "features": [B, 1280], ("mask")}."""
        check_input(x, 3)
        b = self.backbone
        h = b.act(b._bn0(b._conv_stem(self.norm(x))))
        mask = None
        for i, block in enumerate(b._blocks):
            h = block(h)
            if i == LITE_MASK_BLOCK and self.mask is not None:
                mask = self.mask(h)
        h = b.act(b._bn1(b._conv_head(h)))  # the last convolution run is the backbone's (Grad-CAM)
        return heads_output(self.pool, self.classifier, h, mask)


@register_model("efficientnet-lite0", family="detector", task="detection", conv=True)
def efficientnet_lite0(
    *,
    image_size: int = 128,
    dropout: float = 0.2,
    mask_head: bool = False,
    mean: Sequence[float] = (0.5, 0.5, 0.5),
    std: Sequence[float] = (0.5, 0.5, 0.5),
) -> EfficientNetLite0Detector:
    """EfficientNet-Lite0, checkpoint parameter names: ImageNet weights load from `efficientnet-lite0-imagenet`."""
    return EfficientNetLite0Detector(image_size=image_size, dropout=dropout, mask_head=mask_head, mean=mean, std=std)
