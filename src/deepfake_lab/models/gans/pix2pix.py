"""pix2pix (Isola et al., CVPR 2017): a U-Net generator and a PatchGAN discriminator for paired translation.

G maps a source image s (edges, a face-mesh sketch, a grey image) to a target x̂ = G(s); D judges pairs
(s, x) patch by patch (a map of logits, one per receptive field of ~34 px at 64 px input), and the task
adds an L1 term λ·‖G(s) - x‖₁ that carries the low frequencies while D sharpens the high ones.

Paired data arrive as one image with the source channels first and the target channels last
(`deepfake_lab.data.paired`); `in_shape` is that stacked shape and `out_channels` the target's channels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deepfake_lab.models.gans.dcgan import dcgan_init
from deepfake_lab.registry import register_model


class UNetGenerator(nn.Module):
    """source [B, C_in, S, S] in [-1, 1] -> image [B, C_out, S, S] in [-1, 1].

    Encoder: `depth` stride-2 4×4 convs (BatchNorm except the first and the innermost, LeakyReLU 0.2);
    decoder: mirrored transposed convs (BatchNorm, ReLU, dropout 0.5 in the `dropout_layers` innermost
    ones as pix2pix's noise) each concatenated with the encoder map of the same size (skip connections).

    Args:
        in_channels: C_in of the source.
        out_channels: C_out of the target.
        image_size: S, divisible by 2^depth.
        width: channels of the first stage; doubled per stage up to 8·width.
        depth: down-sampling stages (None: log2(S), down to 1×1 as in the paper).
        dropout_layers: innermost decoder stages with dropout.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        out_channels: int = 3,
        image_size: int = 64,
        width: int = 32,
        depth: int | None = None,
        dropout_layers: int = 2,
    ) -> None:
        super().__init__()
        depth = int(math.log2(image_size)) if depth is None else int(depth)
        if depth < 2 or image_size % (2**depth):
            raise ValueError(f"U-Net depth {depth} does not fit image size {image_size}")
        chans = [min(width * 2**i, width * 8) for i in range(depth)]
        self.down = nn.ModuleList()
        prev = in_channels
        for i, c in enumerate(chans):
            layers: list[nn.Module] = [nn.Conv2d(prev, c, 4, 2, 1, bias=False)]
            if 0 < i < depth - 1:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(0.2, True))
            self.down.append(nn.Sequential(*layers))
            prev = c
        self.up = nn.ModuleList()
        for i in range(depth - 1, 0, -1):  # innermost first; output has chans[i-1] channels
            inner = i == depth - 1
            cin = chans[i] if inner else chans[i] * 2
            layers = [nn.ConvTranspose2d(cin, chans[i - 1], 4, 2, 1, bias=False), nn.BatchNorm2d(chans[i - 1])]
            if depth - 1 - i < dropout_layers:
                layers.append(nn.Dropout(0.5))
            layers.append(nn.ReLU(True))
            self.up.append(nn.Sequential(*layers))
        self.out = nn.Sequential(nn.ConvTranspose2d(chans[0] * 2, out_channels, 4, 2, 1), nn.Tanh())
        dcgan_init(self)

    def forward(self, s: Tensor) -> Tensor:
        skips = []
        h = s
        for block in self.down:
            h = block(h)
            skips.append(h)
        skips.pop()  # the innermost map is h itself
        for block in self.up:
            h = torch.cat([block(h), skips.pop()], 1)
        return self.out(h)


class PatchDiscriminator(nn.Module):
    """(source [B, C_s, S, S], image [B, C_x, S, S]) -> patch logits [B, 1, S', S'].

    The paper's C64-C128-C256-C512 PatchGAN with `n_layers` stride-2 stages then a stride-1 stage and a
    1-channel conv; BatchNorm everywhere but the first stage. With `cond_channels` = 0 it judges images
    alone (CycleGAN).

    Args:
        cond_channels: C_s of the source it is conditioned on (0: unconditional).
        channels: C_x of the judged image.
        width: channels of the first stage.
        n_layers: stride-2 stages (3: 70×70 patches at 256 px; ~34 px at 64 px).
    """

    def __init__(self, *, cond_channels: int = 1, channels: int = 3, width: int = 32, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(cond_channels + channels, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        prev = width
        for i in range(1, n_layers + 1):
            c = width * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            layers += [nn.Conv2d(prev, c, 4, stride, 1, bias=False), nn.BatchNorm2d(c), nn.LeakyReLU(0.2, True)]
            prev = c
        layers.append(nn.Conv2d(prev, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        return self.net(x if cond is None else torch.cat([cond, x], 1))


def check_patch_layers(image_size: int, n_layers: int) -> None:
    """PatchGAN needs at least 3×3 features after its `n_layers` halvings (two 4×4 stride-1 convs follow)."""
    if image_size // 2**n_layers < 3:
        best = max(1, int(math.log2(max(1, image_size // 3))))
        raise ValueError(f"{image_size} px is too small for a PatchGAN with d_layers={n_layers}; use d_layers<={best}")


class Pix2Pix(nn.Module):
    """Container of a paired translation GAN: `translate(s)` = G(s); `discriminate(s, x)` = patch logits."""

    def __init__(
        self, *, generator: nn.Module, discriminator: nn.Module, source_channels: int, out_shape: Sequence[int]
    ) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator
        self.source_channels = int(source_channels)
        self.out_shape = tuple(int(v) for v in out_shape)

    def translate(self, s: Tensor) -> Tensor:
        """s [B, C_s, S, S] in [-1, 1] -> [B, C_out, S, S] in [-1, 1]."""
        return self.generator(s)

    def discriminate(self, s: Tensor, x: Tensor) -> Tensor:
        """Logits [B, 1, S', S'] that x is the real image for source s."""
        return self.discriminator(x, s)

    def forward(self, s: Tensor) -> Tensor:
        return self.translate(s)


@register_model("pix2pix", family="gan", task="pix2pix", conv=True)
def pix2pix(
    *,
    in_shape: Sequence[int] = (4, 64, 64),
    out_channels: int = 3,
    width: int = 32,
    depth: int | None = None,
    d_width: int = 32,
    d_layers: int = 3,
    dropout_layers: int = 2,
) -> Pix2Pix:
    """pix2pix: U-Net G + PatchGAN D on paired data stacked as (source channels, target channels)."""
    c, h, w = (int(v) for v in in_shape)
    cs = c - int(out_channels)
    if cs < 1 or h != w:
        raise ValueError(
            f"pix2pix needs square paired data with source + {out_channels} target channels, got {list(in_shape)} "
            "(make pairs with `deepfake-lab pairs`)"
        )
    check_patch_layers(h, d_layers)
    return Pix2Pix(
        generator=UNetGenerator(
            in_channels=cs, out_channels=out_channels, image_size=h, width=width, depth=depth,
            dropout_layers=dropout_layers,
        ),
        discriminator=PatchDiscriminator(cond_channels=cs, channels=out_channels, width=d_width, n_layers=d_layers),
        source_channels=cs,
        out_shape=(out_channels, h, w),
    )
