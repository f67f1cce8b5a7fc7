"""A MobileNetV2 detector (Sandler et al. 2018) whose parameter names match torchvision's ImageNet checkpoint.

The backbone is `features.0 ... features.18` exactly as torchvision lays it out (inverted residuals, ReLU6),
so the ImageNet weights of the `mobilenet-v2-imagenet` data item load with ``strict=True`` into
``model.features`` (see `deepfake_lab.models.detectors.pretrained`). On top of it:

* a classification head: global average pooling -> dropout -> linear -> one logit (FAKE);
* an optional manipulation-heatmap head (``mask_head=True``): a 1x1 convolution on the stride-16 features
  (block 13, 96 channels) giving ``mask`` logits [B, 1, H/16, W/16], trained against the blend mask of
  pseudo-fakes (Face X-ray's second target). The contract keys stay ``logits``, ``probs``, ``features``;
  ``mask`` is an extra key only this head adds.

``depth`` keeps only the first `depth` feature blocks (19 = the whole network with its 1280-channel last
conv; 14 stops at the 96-channel stride-16 stage, for speed).
Size-agnostic (global pooling); `image_size` is the nominal input.

Example:
    >>> import torch
    >>> from deepfake_lab.models.catalogue import create_model
    >>> out = create_model("mobilenet-v2", image_size=64, mask_head=True)(torch.rand(2, 3, 64, 64))
    >>> out["probs"].shape, out["mask"].shape
    (torch.Size([2]), torch.Size([2, 1, 4, 4]))
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from deepfake_lab.models.detectors.base import check_input, detector_output
from deepfake_lab.registry import register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# (expand ratio t, output channels c, repeats n, first stride s) of MobileNetV2
V2_STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
MASK_BLOCK = 13  # last block of the stride-16, 96-channel stage: the heatmap head reads its output


class ConvBNReLU(nn.Sequential):
    """conv k×k (groups) -> BatchNorm -> ReLU6; indices 0/1/2 as in torchvision's `Conv2dNormActivation`."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """1×1 expand (if t > 1) -> 3×3 depthwise (stride) -> 1×1 linear project; skip when shapes match.

    Args:
        c_in: input channels.
        c_out: output channels.
        stride: depthwise stride (1 or 2).
        expand: expansion ratio t.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.use_res = stride == 1 and c_in == c_out
        layers: list[nn.Module] = [] if expand == 1 else [ConvBNReLU(c_in, hidden, 1)]
        layers += [ConvBNReLU(hidden, hidden, 3, stride, groups=hidden), nn.Conv2d(hidden, c_out, 1, bias=False)]
        layers.append(nn.BatchNorm2d(c_out))
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, c_in, H, W] -> [B, c_out, H/stride, W/stride]."""
        return x + self.conv(x) if self.use_res else self.conv(x)


def mobilenet_v2_features(depth: int = 19) -> nn.Sequential:
    """torchvision's `MobileNetV2.features` (width 1.0), cut after `depth` blocks (1..19)."""
    if not 2 <= depth <= 19:
        raise ValueError(f"depth must be in 2..19, got {depth}")
    blocks: list[nn.Module] = [ConvBNReLU(3, 32, 3, 2)]
    c = 32
    for t, c_out, n, s in V2_STAGES:
        for i in range(n):
            blocks.append(InvertedResidual(c, c_out, s if i == 0 else 1, t))
            c = c_out
    blocks.append(ConvBNReLU(c, 1280, 1))
    return nn.Sequential(*blocks[:depth])


def heads_output(pool: nn.Module, classifier: nn.Module, h: Tensor, mask: Tensor | None) -> dict[str, Tensor]:
    """The contract dict from last features h [B, C, h, w]: pooled -> classifier logit, plus ``mask`` if given."""
    f = pool(h).flatten(1)
    out = detector_output(classifier(f), f)
    if mask is not None:
        out["mask"] = mask
    return out


def _out_channels(features: nn.Sequential) -> int:
    last = features[-1]
    convs = [m for m in last.modules() if isinstance(m, nn.Conv2d)]
    return int(convs[-1].out_channels)


class MobileNetV2Detector(nn.Module):
    """MobileNetV2 backbone + one-logit head (+ optional blend-mask head).

    Args:
        image_size: nominal input side (size-agnostic).
        depth: feature blocks kept (19 = all).
        dropout: dropout before the linear head.
        mask_head: also output ``mask`` logits [B, 1, H/16, W/16] from the stride-16 features.
        mean: per-channel input mean (ImageNet by default: the pretrained weights expect it).
        std: per-channel input std.
    """

    def __init__(
        self,
        *,
        image_size: int = 128,
        depth: int = 19,
        dropout: float = 0.2,
        mask_head: bool = False,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        from deepfake_lab.models.detectors.base import Normalize

        if mask_head and depth <= MASK_BLOCK:
            raise ValueError(f"mask_head needs depth > {MASK_BLOCK}, got {depth}")
        self.image_size, self.in_channels = int(image_size), 3
        self.norm = Normalize(mean=mean, std=std, channels=3)
        self.features = mobilenet_v2_features(depth)
        c = _out_channels(self.features)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(c, 1))
        self.mask = nn.Conv2d(96, 1, 1) if mask_head else None

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """x: [B, 3, H, W] in [0, 1] -> {"logits": [B], "probs": [B], "features": [B, C], ("mask": [B,1,H/16,W/16])}."""
        check_input(x, 3)
        h = self.norm(x)
        mask = None
        for i, block in enumerate(self.features):
            h = block(h)
            if i == MASK_BLOCK and self.mask is not None:
                mask = self.mask(h)  # here, so that the last convolution run is the backbone's (Grad-CAM)
        return heads_output(self.pool, self.classifier, h, mask)


@register_model("mobilenet-v2", family="detector", task="detection", conv=True)
def mobilenet_v2(
    *,
    image_size: int = 128,
    depth: int = 19,
    dropout: float = 0.2,
    mask_head: bool = False,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> MobileNetV2Detector:
    """MobileNetV2 (width 1.0), torchvision parameter names: ImageNet weights load from `mobilenet-v2-imagenet`."""
    return MobileNetV2Detector(
        image_size=image_size, depth=depth, dropout=dropout, mask_head=mask_head, mean=mean, std=std
    )
