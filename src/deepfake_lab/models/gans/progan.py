"""Progressive growing of GANs (Karras et al., ICLR 2018): 4×4 -> 8×8 -> 16×16 -> 32×32 (-> 64×64).

Both nets grow one resolution stage at a time. While a new stage fades in, its output is blended with the
previous stage's: G's image = (1 - α)·up(toRGB_{s-1}(h_{s-1})) + α·toRGB_s(h_s), and D's input path =
(1 - α)·fromRGB_{s-1}(down(x)) + α·block_s(fromRGB_s(x)), with α rising 0 -> 1. Also from the paper:
pixel norm after every G conv, equalised learning rate in every layer, and a minibatch-stddev channel
before D's last block (shared layers in `deepfake_lab.nn.layers`).

The current stage and α are buffers (saved with the weights), set by the task's schedule. G always returns
full-size images (the current resolution upsampled, nearest) and D average-pools its input down to the
current resolution, so the adversarial task, the sample tools and FID work unchanged at every stage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepfake_lab.models.gans.base import GAN, check_in_shape
from deepfake_lab.nn.layers import EqualizedConv2d, EqualizedLinear, PixelNorm, minibatch_stddev
from deepfake_lab.registry import register_model


def _stage_channels(n_stages: int, width: int, max_width: int) -> list[int]:
    """Channels per stage from 4×4 up: max_width at low resolutions, halving towards `width`."""
    return [min(max_width, width * 2 ** (n_stages - 1 - i)) for i in range(n_stages)]


class _Progress(nn.Module):
    """Holds the `stage` (0 = 4×4) and fade-in `alpha` buffers."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("stage", torch.zeros((), dtype=torch.long))
        self.register_buffer("alpha", torch.ones(()))

    def set_progress(self, stage: int, alpha: float) -> None:
        self.stage.fill_(int(stage))
        self.alpha.fill_(float(alpha))


class ProGANGenerator(_Progress):
    """z [B, latent_dim] -> image [B, C, S, S] in [-1, 1] (current resolution 4·2^stage, upsampled to S).

    Args:
        latent_dim: size of z.
        image_size: final S (a power of two ≥ 8).
        channels: C.
        width: channels of the last stage; earlier stages double it up to `max_width`.
        max_width: channel cap.
    """

    def __init__(
        self, *, latent_dim: int = 128, image_size: int = 32, channels: int = 1, width: int = 32, max_width: int = 128
    ) -> None:
        super().__init__()
        self.n_stages = int(math.log2(image_size)) - 1
        self.image_size = int(image_size)
        ch = _stage_channels(self.n_stages, width, max_width)
        act = nn.LeakyReLU(0.2)
        self.norm = PixelNorm()
        self.input = EqualizedLinear(latent_dim, ch[0] * 16, gain=math.sqrt(2) / 4)
        self.blocks = nn.ModuleList([nn.Sequential(EqualizedConv2d(ch[0], ch[0], 3, 1), act, PixelNorm())])
        for a, b in zip(ch[:-1], ch[1:], strict=True):
            self.blocks.append(
                nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    EqualizedConv2d(a, b, 3, 1), act, PixelNorm(),
                    EqualizedConv2d(b, b, 3, 1), act, PixelNorm(),
                )
            )
        self.to_rgb = nn.ModuleList([EqualizedConv2d(c, channels, 1, gain=1.0) for c in ch])
        self.ch0 = ch[0]

    def forward(self, z: Tensor, cond: Tensor | None = None) -> Tensor:
        s, alpha = int(self.stage), float(self.alpha)
        h = F.leaky_relu(self.input(self.norm(z)).view(-1, self.ch0, 4, 4), 0.2)
        h = self.blocks[0](self.norm(h))
        prev = h
        for i in range(1, s + 1):
            prev, h = h, self.blocks[i](h)
        out = self.to_rgb[s](h)
        if s > 0 and alpha < 1:
            skip = F.interpolate(self.to_rgb[s - 1](prev), scale_factor=2, mode="nearest")
            out = torch.lerp(skip, out, alpha)
        out = torch.tanh(out)
        if out.shape[-1] != self.image_size:
            out = F.interpolate(out, size=(self.image_size, self.image_size), mode="nearest")
        return out


class ProGANDiscriminator(_Progress):
    """image [B, C, S, S] -> logit [B], judged at the current resolution (input average-pooled down).

    Args: as `ProGANGenerator`; `group_size` is the minibatch-stddev group.
    """

    def __init__(
        self, *, image_size: int = 32, channels: int = 1, width: int = 32, max_width: int = 128, group_size: int = 4
    ) -> None:
        super().__init__()
        self.n_stages = int(math.log2(image_size)) - 1
        self.group_size = int(group_size)
        ch = _stage_channels(self.n_stages, width, max_width)
        act = nn.LeakyReLU(0.2)
        self.from_rgb = nn.ModuleList([nn.Sequential(EqualizedConv2d(channels, c, 1), act) for c in ch])
        # blocks[i] maps stage i's features down to stage i-1's (i ≥ 1)
        self.blocks = nn.ModuleList([nn.Identity()])
        for a, b in zip(ch[:-1], ch[1:], strict=True):
            self.blocks.append(
                nn.Sequential(EqualizedConv2d(b, b, 3, 1), act, EqualizedConv2d(b, a, 3, 1), act, nn.AvgPool2d(2))
            )
        self.final = nn.Sequential(EqualizedConv2d(ch[0] + 1, ch[0], 3, 1), act)
        self.fc = nn.Sequential(nn.Flatten(), EqualizedLinear(ch[0] * 16, ch[0]), act, EqualizedLinear(ch[0], 1, 1.0))

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        s, alpha = int(self.stage), float(self.alpha)
        res = 4 * 2**s
        if x.shape[-1] != res:
            x = F.adaptive_avg_pool2d(x, res)
        h = self.blocks[s](self.from_rgb[s](x)) if s > 0 else self.from_rgb[0](x)
        if s > 0 and alpha < 1:
            skip = self.from_rgb[s - 1](F.avg_pool2d(x, 2))
            h = torch.lerp(skip, h, alpha)
        for i in range(s - 1, 0, -1):
            h = self.blocks[i](h)
        h = self.final(minibatch_stddev(h, self.group_size))
        return self.fc(h).squeeze(1)


class ProGAN(GAN):
    """A `GAN` whose two nets grow: `set_progress(stage, alpha)`; `n_stages` = log2(S) - 1."""

    @property
    def n_stages(self) -> int:
        return int(self.generator.n_stages)

    def set_progress(self, stage: int, alpha: float) -> None:
        if not 0 <= stage < self.n_stages or not 0 <= alpha <= 1:
            raise ValueError(f"stage must be in [0, {self.n_stages}) and alpha in [0, 1], got {stage}, {alpha}")
        self.generator.set_progress(stage, alpha)
        self.discriminator.set_progress(stage, alpha)

    @property
    def resolution(self) -> int:
        return 4 * 2 ** int(self.generator.stage)


@register_model("progan-32", family="gan", task="progan", conv=True)
def progan_32(
    *,
    in_shape: Sequence[int] = (1, 32, 32),
    latent_dim: int = 128,
    width: int = 32,
    max_width: int = 128,
) -> ProGAN:
    """Progressive GAN 4->8->16->32 with fade-in, pixel norm, equalised LR and minibatch stddev."""
    c, h, _ = check_in_shape(in_shape)
    if h < 8 or 2 ** int(math.log2(h)) != h:
        raise ValueError(f"progan needs square power-of-two images >= 8 px, got {h}; add --set data.image_size=32")
    if h != in_shape[2]:
        raise ValueError("progan needs square images")
    return ProGAN(
        generator=ProGANGenerator(latent_dim=latent_dim, image_size=h, channels=c, width=width, max_width=max_width),
        discriminator=ProGANDiscriminator(image_size=h, channels=c, width=width, max_width=max_width),
        latent_dim=latent_dim,
        out_shape=(c, h, h),
    )
