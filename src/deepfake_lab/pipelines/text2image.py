"""Text-to-image generation with a GAN-CLS run: captions -> images, and GAN-INT strips between two captions.

Example:
    >>> text2img_run("runs/gan-cls", "a photo of a sneaker.", "sneakers.png", n=8)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from deepfake_lab.errors import BadInputError, OptionError, Ref
from deepfake_lab.imaging import make_grid, stack_grids
from deepfake_lab.models.gans.text2image import encode_texts
from deepfake_lab.pipelines.generate import latents_for_seeds
from deepfake_lab.train.checkpoint import load_exported


def load_text_gan(run: Path | str) -> tuple[nn.Module, dict[str, Any], str]:
    """(model in eval mode, card, text encoder name) of an exported GAN-CLS."""
    model, card = load_exported(Path(run))
    if not hasattr(model, "text_dim"):
        raise BadInputError(f"{run} holds a {card['model']} model, not a text-to-image GAN (gan-cls-32)")
    encoder = str(card.get("training", {}).get("task_kwargs", {}).get("encoder", "minilm"))
    return model, card, encoder


def _unit(x: Tensor) -> Tensor:
    return ((x.float() + 1) / 2).clamp(0, 1)


@torch.no_grad()
def text_to_images(model: nn.Module, text: str, n: int = 8, *, encoder: str = "minilm", seed: int = 0) -> Tensor:
    """n images [n, C, H, W] in [0, 1] for one caption (latent seeds seed..seed+n-1)."""
    if not text.strip():
        raise OptionError(Ref("text"), " is empty")
    if not 1 <= n <= 1024:
        raise BadInputError(f"-n must be in 1..1024, got {n}")
    emb = encode_texts([text], encoder).expand(n, -1)
    z = latents_for_seeds(list(range(seed, seed + n)), model.latent_dim)
    return _unit(model.generate(z, emb))


@torch.no_grad()
def interpolate_texts(
    model: nn.Module, a: str, b: str, steps: int = 8, *, encoder: str = "minilm", seed: int = 0
) -> Tensor:
    """GAN-INT strip: fixed z, embeddings (1-t)·φ(a) + t·φ(b) for t in [0, 1]: [steps, C, H, W] in [0, 1]."""
    if steps < 2:
        raise OptionError(Ref("steps"), f" must be at least 2, got {steps}")
    e = encode_texts([a, b], encoder)
    t = torch.linspace(0, 1, steps)[:, None]
    emb = (1 - t) * e[0] + t * e[1]
    z = latents_for_seeds([seed], model.latent_dim).expand(steps, -1)
    return _unit(model.generate(z, emb))


def text2img_run(
    run: Path | str,
    text: str,
    out: Path | str,
    *,
    n: int = 8,
    to: str | None = None,
    steps: int = 8,
    seed: int = 0,
    provenance: bool = True,
) -> Path:
    """Write n samples for `text`; with `to`, also GAN-INT strips from `text` to `to` (one per seed).

    The PNG carries the invisible watermark and a signed C2PA manifest unless `provenance=False`.
    """
    from deepfake_lab.pipelines.generate import _save
    from deepfake_lab.provenance.label import Provenance

    model, card, encoder = load_text_gan(run)
    rows = [make_grid(text_to_images(model, text, n, encoder=encoder, seed=seed), nrow=n)]
    if to is not None:
        for s in range(seed, seed + min(n, 4)):
            rows.append(make_grid(interpolate_texts(model, text, to, steps, encoder=encoder, seed=s), nrow=steps))
    params = {"text": text, "to": to, "n": n, "steps": steps, "seed": seed}
    return _save(stack_grids(rows), out, Provenance.for_export("text2img", run, card, params, provenance))
