"""Image-to-image generators at inference: pix2pix (source -> image) and CycleGAN (A -> B, B -> A).

Example:
    >>> out = translate_run("runs/p2p-edges", ["edges.png"], "faces.png")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from deepfake_lab.errors import BadInputError, OptionError, Ref
from deepfake_lab.imaging import make_grid, stack_grids
from deepfake_lab.train.checkpoint import load_exported


def load_translator(run: Path | str) -> tuple[nn.Module, dict[str, Any]]:
    """The exported pix2pix or CycleGAN of a run (or .safetensors / card), in eval mode, with its card."""
    model, card = load_exported(Path(run))
    if not hasattr(model, "translate"):
        raise BadInputError(f"{run} holds a {card['model']} model, not an image-to-image GAN (pix2pix, cyclegan)")
    return model, card


def _input_channels(model: nn.Module, direction: str) -> int:
    if hasattr(model, "source_channels"):
        return int(model.source_channels)
    return int(model.out_shape[0])


@torch.no_grad()
def translate_images(model: nn.Module, x: Tensor, direction: str = "ab") -> Tensor:
    """x float [N, C_in, S, S] in [0, 1] -> float [N, C_out, S, S] in [0, 1].

    Args:
        model: pix2pix (C_in = its source channels) or CycleGAN (`direction` "ab" or "ba").
    """
    s = x.float() * 2 - 1
    out = model.translate(s) if hasattr(model, "source_channels") else model.translate(s, direction)
    return ((out.float() + 1) / 2).clamp(0, 1)


def read_inputs(model: nn.Module, paths: Sequence[Path | str], direction: str = "ab") -> Tensor:
    """Image files as the model's input: float [N, C_in, S, S] in [0, 1] (C_in = 1: luminance)."""
    import cv2

    from deepfake_lab.video.image import read_image

    size = int(model.out_shape[-1])
    c = _input_channels(model, direction)
    out = []
    for p in paths:
        rgb = cv2.resize(read_image(p), (size, size), interpolation=cv2.INTER_AREA)
        arr = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[None] if c == 1 else rgb.transpose(2, 0, 1)
        out.append(torch.from_numpy(np.ascontiguousarray(arr)).float() / 255)
    if not out:
        raise BadInputError("give at least one --image")
    return torch.stack(out)


def translate_run(
    run: Path | str, images: Sequence[Path | str], out: Path | str, *, direction: str = "ab", provenance: bool = True
) -> Path:
    """Translate image files with a run's generator; write a PNG with one row per image: input | output.

    The PNG carries the invisible watermark and a signed C2PA manifest unless `provenance=False`.
    """
    from deepfake_lab.pipelines.generate import _save
    from deepfake_lab.provenance.label import Provenance

    if direction not in ("ab", "ba"):
        raise OptionError(Ref("direction"), f" must be ab or ba, got {direction!r}")
    model, card = load_translator(run)
    x = read_inputs(model, images, direction)
    y = translate_images(model, x, direction)
    def rgb(t: Tensor) -> Tensor:
        return t.expand(3, -1, -1) if t.shape[0] == 1 else t

    rows = [make_grid(torch.stack([rgb(x[i]), rgb(y[i])]), nrow=2) for i in range(len(x))]
    params = {"direction": direction, "images": [Path(i).name for i in images]}
    return _save(stack_grids(rows), out, Provenance.for_export("translate", run, card, params, provenance))
