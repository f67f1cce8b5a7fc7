"""MesoNet (Afchar et al., 2018, "MesoNet: a Compact Facial Video Forgery Detection Network").

Meso-4: four conv + BN + max-pool blocks (8, 8, 16, 16 channels; kernels 3, 5, 5, 5; pools 2, 2, 2, 4), then
dropout, a 16-unit dense layer with LeakyReLU(0.1), dropout and one logit. MesoInception-4 replaces the first
two blocks with Inception modules whose branches use dilated 3×3 convolutions (dilation 1, 2, 3).
The paper's input is 256×256; the flatten grid is `image_size // 32` per side (8×8 at 256) and an adaptive
average pool maps other input sizes onto that grid, so a model runs on any size but is meant for `image_size`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deepfake_lab.models.detectors.base import DEFAULT_MEAN, DEFAULT_STD, Normalize, check_input, detector_output
from deepfake_lab.registry import register_model


def _conv_block(c_in: int, c_out: int, kernel: int, pool: int) -> nn.Sequential:
    """Conv (same padding) -> ReLU -> BN -> max-pool, the order of the reference Keras model."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(c_out),
        nn.MaxPool2d(pool, pool),
    )


class InceptionLayer(nn.Module):
    """MesoInception module: 1×1 | 1×1→3×3 | 1×1→3×3 (dil. 2) | 1×1→3×3 (dil. 3), concatenated, BN, pool 2.

    Args:
        c_in: input channels.
        a, b, c, d: channels of the four branches (output has a + b + c + d channels).
    """

    def __init__(self, c_in: int, a: int, b: int, c: int, d: int) -> None:
        super().__init__()
        relu = nn.ReLU
        self.b1 = nn.Sequential(nn.Conv2d(c_in, a, 1), relu())
        self.b2 = nn.Sequential(nn.Conv2d(c_in, b, 1), relu(), nn.Conv2d(b, b, 3, padding=1), relu())
        self.b3 = nn.Sequential(nn.Conv2d(c_in, c, 1), relu(), nn.Conv2d(c, c, 3, padding=2, dilation=2), relu())
        self.b4 = nn.Sequential(nn.Conv2d(c_in, d, 1), relu(), nn.Conv2d(d, d, 3, padding=3, dilation=3), relu())
        self.post = nn.Sequential(nn.BatchNorm2d(a + b + c + d), nn.MaxPool2d(2, 2))

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, c_in, H, W] -> [B, a+b+c+d, H/2, W/2]."""
        return self.post(torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1))


class MesoNet(nn.Module):
    """Meso-4 / MesoInception-4 with the detector output contract.

    Args:
        inception: False for Meso-4, True for MesoInception-4.
        image_size: nominal input side (paper: 256); fixes the flatten grid image_size // 32.
        width: channel multiplier relative to the paper (1.0 = 8/8/16/16 channels).
        hidden: units of the dense layer before the logit (paper: 16); its activations are `features`.
        dropout: dropout probability before each dense layer (paper: 0.5).
        in_channels: input channels.
        mean: per-channel normalisation mean applied inside the model.
        std: per-channel normalisation std applied inside the model.
    """

    def __init__(
        self,
        *,
        inception: bool = False,
        image_size: int = 256,
        width: float = 1.0,
        hidden: int = 16,
        dropout: float = 0.5,
        in_channels: int = 3,
        mean: Sequence[float] = DEFAULT_MEAN,
        std: Sequence[float] = DEFAULT_STD,
    ) -> None:
        super().__init__()
        if image_size < 8 or width <= 0 or hidden < 1:
            raise ValueError(f"bad MesoNet size: image_size={image_size}, width={width}, hidden={hidden}")
        self.image_size, self.in_channels = int(image_size), int(in_channels)
        self.norm = Normalize(mean=mean, std=std, channels=in_channels)

        def ch(n: int) -> int:
            return max(1, round(n * width))

        if inception:
            l1 = InceptionLayer(in_channels, ch(1), ch(4), ch(4), ch(2))
            c1 = ch(1) + ch(4) + ch(4) + ch(2)
            l2 = InceptionLayer(c1, ch(2), ch(4), ch(4), ch(2))
            c2 = ch(2) + ch(4) + ch(4) + ch(2)
            stages = [l1, l2]
        else:
            stages = [_conv_block(in_channels, ch(8), 3, 2), _conv_block(ch(8), ch(8), 5, 2)]
            c2 = ch(8)
        stages += [_conv_block(c2, ch(16), 5, 2), _conv_block(ch(16), ch(16), 5, 4)]
        self.body = nn.Sequential(*stages)
        grid = max(1, self.image_size // 32)
        self.pool = nn.AdaptiveAvgPool2d(grid)
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(ch(16) * grid * grid, hidden))
        self.act = nn.LeakyReLU(0.1)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """x: [B, C, H, W] in [0, 1] -> {"logits": [B], "probs": [B], "features": [B, hidden]}."""
        check_input(x, self.in_channels)
        f = self.act(self.fc(self.pool(self.body(self.norm(x)))))
        return detector_output(self.head(f), f)


@register_model("meso4", family="detector", task="detection", conv=True)
def meso4(
    *,
    image_size: int = 256,
    width: float = 1.0,
    hidden: int = 16,
    dropout: float = 0.5,
    in_channels: int = 3,
    mean: Sequence[float] = DEFAULT_MEAN,
    std: Sequence[float] = DEFAULT_STD,
) -> MesoNet:
    """Meso-4 (Afchar 2018): four small conv blocks, 256 px input; ~28k parameters."""
    return MesoNet(
        inception=False, image_size=image_size, width=width, hidden=hidden, dropout=dropout,
        in_channels=in_channels, mean=mean, std=std,
    )  # fmt: skip


@register_model("meso-inception4", family="detector", task="detection", conv=True)
def meso_inception4(
    *,
    image_size: int = 256,
    width: float = 1.0,
    hidden: int = 16,
    dropout: float = 0.5,
    in_channels: int = 3,
    mean: Sequence[float] = DEFAULT_MEAN,
    std: Sequence[float] = DEFAULT_STD,
) -> MesoNet:
    """MesoInception-4 (Afchar 2018): dilated-Inception first blocks, 256 px input."""
    return MesoNet(
        inception=True, image_size=image_size, width=width, hidden=hidden, dropout=dropout,
        in_channels=in_channels, mean=mean, std=std,
    )  # fmt: skip
