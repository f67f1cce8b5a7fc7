"""Latent-space strips: autoencoders decode z = α z1 + (1 - α) z2 between two encoded images; GAN runs
interpolate between seeded latents (see `deepfake_lab.pipelines.generate`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor, nn

from deepfake_lab.data.datasets import load_dataset
from deepfake_lab.errors import BadInputError, OptionError, Ref
from deepfake_lab.imaging import make_grid, save_generated_image
from deepfake_lab.pipelines.generate import MODES, interpolate_codes, interpolate_gan_run
from deepfake_lab.train.checkpoint import load_exported


@torch.no_grad()
def interpolate(model: nn.Module, x_a: Tensor, x_b: Tensor, steps: int = 8, mode: str = "lerp") -> Tensor:
    """Decoded interpolation between two images.

    Args:
        model: an autoencoder with `encode`/`decode`.
        x_a, x_b: images [C, H, W] in [0, 1].
        steps: points along the strip (ends included).
        mode: "lerp" or "slerp" (`pipelines.generate.interpolate_codes`).

    Returns:
        float [steps, C, H, W] in [0, 1].
    """
    z = model.encode(torch.stack([x_a, x_b]))
    codes = interpolate_codes(z[0], z[1], steps, mode)
    return model.decode(codes).float().clamp(0, 1)


def load_input_image(ref: str, shape: tuple[int, int, int], data_name: str) -> Tensor:
    """An image for the model: an index into the run's test split, or an image file path. -> [C, H, W]."""
    if ref.isdigit():
        ds = load_dataset(data_name, "test")
        i = int(ref)
        if i >= len(ds):
            raise BadInputError(f"index {i} out of range: the {data_name} test split has {len(ds)} images")
        return ds.batch(torch.tensor([i])).x[0]
    path = Path(ref)
    if not path.is_file():
        raise BadInputError(f"{ref!r} is neither a test-set index nor an image file")
    c, h, w = shape
    try:
        with Image.open(path) as im:
            im = im.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
        raise BadInputError(f"cannot read image {path}") from None
    t = torch.from_numpy(arr)
    return t.unsqueeze(0) if c == 1 else t.permute(2, 0, 1)


def interpolate_run(
    run: Path, a: str, b: str, steps: int, out: Path, mode: str = "lerp", *, provenance: bool = True
) -> Path:
    """Load the exported model of `run`, interpolate between `a` and `b`, write a PNG strip.

    Autoencoders: `a`/`b` are test-set indices or image files, encoded then decoded along the path.
    GANs: `a`/`b` are latent seeds ("SEED" or "SEED:CLASS"), see `pipelines.generate`.
    `mode` is "lerp" (straight line) or "slerp" (great circle). The PNG carries the invisible watermark and
    a signed C2PA manifest unless `provenance=False` (--no-provenance).
    """
    model, card = load_exported(Path(run))
    if card.get("family") == "gan":
        return interpolate_gan_run(run, a, b, steps, out, mode, provenance=provenance)
    if mode not in MODES:
        raise OptionError(Ref("mode"), f" must be one of {', '.join(MODES)}, got {mode!r}")
    if not (hasattr(model, "encode") and hasattr(model, "decode")):
        raise BadInputError(f"model {card['model']!r} has no latent code to interpolate")
    shape = tuple(card["input"]["shape"])
    data_name = card.get("training", {}).get("data", "digits")
    strip = interpolate(
        model, load_input_image(a, shape, data_name), load_input_image(b, shape, data_name), steps, mode
    )
    if out.exists() and out.is_dir():
        raise BadInputError(f"output {out} is a folder")
    from deepfake_lab.provenance.label import Provenance

    prov = Provenance.for_export("interpolate", run, card, {"a": a, "b": b, "steps": steps, "mode": mode}, provenance)
    return save_generated_image(make_grid(strip, nrow=steps), out, prov)
