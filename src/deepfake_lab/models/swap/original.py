"""The autoencoder face swap of the lecture: one shared encoder, one decoder per identity.

Training reconstructs faces of A with decoder A and faces of B with decoder B through the same encoder, so
the code holds what both identities share (pose, expression, lighting); swapping encodes a face of A and
decodes it with B's decoder. Layout as faceswap's "Original" model: four stride-2 5×5 convs, a dense
bottleneck, a dense layer back to a 4×4 map and a pixel-shuffle upscale; each decoder upsamples with
pixel-shuffle blocks to the input size and ends with a 5×5 conv + sigmoid (RGB, optionally + a mask channel).

Example:
    >>> from deepfake_lab.models.catalogue import create_model
    >>> m = create_model("swap-lite", image_size=64)
    >>> x = torch.rand(2, 3, 64, 64)
    >>> m(x, "b").shape
    torch.Size([2, 3, 64, 64])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepfake_lab.registry import register_model

IDENTITIES = ("a", "b")


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    """5×5 stride-2 conv + LeakyReLU(0.1): halves H and W."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 5, stride=2, padding=2), nn.LeakyReLU(0.1))


class Upscale(nn.Sequential):
    """3×3 conv to 4·c_out channels + LeakyReLU(0.1) + pixel shuffle: [B, c_in, H, W] -> [B, c_out, 2H, 2W]."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.Conv2d(c_in, 4 * c_out, 3, padding=1), nn.LeakyReLU(0.1), nn.PixelShuffle(2))


class SwapEncoder(nn.Module):
    """x [B, 3, S, S] -> feature map [B, up_channels, 8·S/64, 8·S/64]: convs, dense bottleneck, upscale.

    Args:
        image_size: S (a multiple of 64 is not needed, but S must be divisible by 16).
        channels: channels of the four stride-2 convs.
        latent_dim: width of the dense bottleneck.
        up_channels: channels after the encoder's pixel-shuffle upscale.
    """

    def __init__(self, *, image_size: int, channels: Sequence[int], latent_dim: int, up_channels: int) -> None:
        super().__init__()
        chans = [int(c) for c in channels]
        layers: list[nn.Module] = []
        prev = 3
        for c in chans:
            layers.append(_conv(prev, c))
            prev = c
        self.convs = nn.Sequential(*layers)
        self.side = image_size // 2 ** len(chans)  # 4 at 64 px
        self.bottleneck = nn.Linear(prev * self.side * self.side, latent_dim)
        self.expand = nn.Linear(latent_dim, self.side * self.side * prev)
        self.map_channels = prev
        self.up = Upscale(prev, up_channels)

    def forward(self, x: Tensor) -> Tensor:
        h = self.convs(x).flatten(1)
        h = self.expand(self.bottleneck(h))
        h = h.view(-1, self.map_channels, self.side, self.side)
        return self.up(h)


class SwapDecoder(nn.Module):
    """Feature map [B, c_in, H, W] -> image [B, 3 (+1 mask), H·2^n, W·2^n] in [0, 1] (n = len(channels)).

    Args:
        in_channels: channels of the encoder's output map.
        channels: channels of the pixel-shuffle upscale blocks (3 for S/8 -> S).
        out_channels: 3 (RGB) or 4 (RGB + learned mask).
    """

    def __init__(self, *, in_channels: int, channels: Sequence[int], out_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_channels
        for c in channels:
            layers.append(Upscale(prev, int(c)))
            prev = int(c)
        self.ups = nn.Sequential(*layers)
        self.out = nn.Conv2d(prev, out_channels, 5, padding=2)

    def forward(self, h: Tensor) -> Tensor:
        return torch.sigmoid(self.out(self.ups(h)))


class SwapAutoencoder(nn.Module):
    """Shared encoder, decoders "a" and "b".

    Args:
        image_size: side S of the aligned face crops (64, 128 or 256; divisible by 16 · input_pool).
        channels: encoder conv channels (4 stride-2 stages).
        latent_dim: dense bottleneck width.
        up_channels: channels of the encoder's upscaled map.
        decoder_channels: channels of the decoders' upscale blocks (3 + log2(input_pool) blocks: S/8/P -> S).
        input_pool: P; the encoder sees the crop average-pooled P×P (1 or 2). It only has to code pose,
            expression and lighting, which a half-size crop holds; the decoders still draw at full size.
        learn_mask: decoders output a 4th (mask) channel.
        crop_margin: the alignment margin of the crops the model is trained on (`faces.align_face`); kept
            so that conversion aligns faces the same way. Not used by `forward`.
    """

    def __init__(
        self,
        *,
        image_size: int = 64,
        channels: Sequence[int] = (128, 256, 512, 1024),
        latent_dim: int = 1024,
        up_channels: int = 512,
        decoder_channels: Sequence[int] = (256, 128, 64),
        learn_mask: bool = False,
        crop_margin: float = 0.1,
        input_pool: int = 1,
    ) -> None:
        super().__init__()
        if input_pool not in (1, 2):
            raise ValueError(f"input_pool must be 1 or 2, got {input_pool}")
        if image_size % (16 * input_pool) or image_size < 32 * input_pool:
            m = 16 * input_pool
            raise ValueError(f"image_size must be a multiple of {m} and >= {2 * m}, got {image_size}")
        n_up = 3 + input_pool.bit_length() - 1
        if len(channels) != 4 or len(decoder_channels) != n_up:
            raise ValueError(f"channels needs 4 entries and decoder_channels {n_up} (S/P -> S/P/16 -> S)")
        self.image_size = int(image_size)
        self.learn_mask = bool(learn_mask)
        self.crop_margin = float(crop_margin)
        self.input_pool = int(input_pool)
        self.encoder = SwapEncoder(
            image_size=image_size // input_pool, channels=channels, latent_dim=latent_dim, up_channels=up_channels
        )
        out_c = 4 if learn_mask else 3
        self.decoders = nn.ModuleDict(
            {k: SwapDecoder(in_channels=up_channels, channels=decoder_channels, out_channels=out_c) for k in IDENTITIES}
        )

    def encode(self, x: Tensor) -> Tensor:
        """x: [B, 3, S, S] in [0, 1] -> shared code map [B, up_channels, S/8/P, S/8/P]."""
        return self.encoder(F.avg_pool2d(x, self.input_pool) if self.input_pool > 1 else x)

    def decode(self, h: Tensor, identity: str) -> Tensor:
        """Code map -> [B, 3 or 4, S, S] in [0, 1] with the decoder of `identity` ("a" or "b")."""
        return self.decoders[identity](h)

    def forward(self, x: Tensor, identity: str = "b") -> Tensor:
        """Encode x and decode as `identity`: the swap when x shows the other identity. RGB only [B, 3, S, S]."""
        return self.decode(self.encode(x), identity)[:, :3]


@register_model("swap-original", family="swap", task="swap", conv=True)
def swap_original(
    *,
    image_size: int = 64,
    latent_dim: int = 1024,
    learn_mask: bool = False,
    crop_margin: float = 0.1,
) -> SwapAutoencoder:
    """faceswap "Original" face swap (82 M params at 64 px): encoder 128-1024, dense 1024, decoders 256-64."""
    return SwapAutoencoder(
        image_size=image_size,
        channels=(128, 256, 512, 1024),
        latent_dim=latent_dim,
        up_channels=512,
        decoder_channels=(256, 128, 64),
        learn_mask=learn_mask,
        crop_margin=crop_margin,
    )


@register_model("swap-lite", family="swap", task="swap", conv=True)
def swap_lite(
    *,
    image_size: int = 64,
    latent_dim: int = 256,
    width: int = 32,
    learn_mask: bool = False,
    crop_margin: float = 0.1,
) -> SwapAutoencoder:
    """CPU-lite face swap: the Original layout at `width`/128 of its channels (≈4 M params at width 32)."""
    return _lite_layout(int(width), image_size, latent_dim, learn_mask, crop_margin)


def _lite_layout(
    w: int, image_size: int, latent_dim: int, learn_mask: bool, crop_margin: float, input_pool: int = 1
) -> SwapAutoencoder:
    """The swap-lite channel plan at width `w`; with `input_pool` 2 one more decoder stage of w/2 channels."""
    extra = (max(w // 2, 4),) if input_pool == 2 else ()
    return SwapAutoencoder(
        image_size=image_size,
        channels=(w, 2 * w, 4 * w, 8 * w),
        latent_dim=latent_dim,
        up_channels=4 * w,
        decoder_channels=(4 * w, 2 * w, w, *extra),
        learn_mask=learn_mask,
        crop_margin=crop_margin,
        input_pool=input_pool,
    )


@register_model("swap-128", family="swap", task="swap", conv=True, task_defaults={"mask_loss": "bce"})
def swap_128(
    *,
    image_size: int = 128,
    latent_dim: int = 192,
    width: int = 32,
    learn_mask: bool = True,
    crop_margin: float = 0.1,
) -> SwapAutoencoder:
    """128 px CPU face swap with a learned face mask: the swap-lite layout at 128 px, dense bottleneck 192
    (10.5 M params at width 32: 21 MB as fp16 safetensors).

    The decoders upsample with pixel shuffle (depth-to-space) and output RGB + a mask channel trained against
    the landmark face hull; conversion pastes back with that mask.
    """
    return swap_lite(
        image_size=image_size, latent_dim=latent_dim, width=width, learn_mask=learn_mask, crop_margin=crop_margin
    )


@register_model("swap-256", family="swap", task="swap", conv=True, task_defaults={"mask_loss": "bce"})
def swap_256(
    *,
    image_size: int = 256,
    latent_dim: int = 192,
    width: int = 32,
    learn_mask: bool = True,
    crop_margin: float = 0.1,
) -> SwapAutoencoder:
    """256 px CPU face swap: swap-128 with a fourth decoder stage (`width`/2 channels) that draws at 256 px; the
    encoder sees the crop average-pooled to 128 px (10.5 M params at width 32: 21 MB as fp16 safetensors).

    Why: a 128 px output pasted over a face of ~200 px or more cannot hold its fine detail however well it is
    trained (benchmarks/swap_quality.py's `sharpness_ceiling`: the sample faces themselves, aligned at 128 px and
    pasted back, keep 6 % / 21 % of their inner-face sharpness; at 256 px 66 % / 89 %). Its 128 px part can start
    from a trained swap-128 (`faceswap-train --init-from`).
    """
    return _lite_layout(int(width), image_size, latent_dim, learn_mask, crop_margin, input_pool=2)
