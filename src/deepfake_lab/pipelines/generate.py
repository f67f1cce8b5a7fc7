"""Generator tools: sample grids, latent interpolation (linear / spherical), latent vector arithmetic.

Latents are addressed by integer seeds: seed s gives z_s = N(0, I) drawn from `torch.Generator` seeded
with s, so `sample RUN -n 64 --seed 100` shows z_100 ... z_163 left to right, top to bottom, and those
numbers can be fed back to `interpolate --a 103 --b 140` or to `latent_arithmetic`. For a conditional
model a reference may carry a class: "103:7" is z_103 with class 7.

Example:
    >>> from deepfake_lab.models.catalogue import create_model
    >>> g = create_model("gan-mlp", in_shape=(1, 8, 8)).eval()
    >>> interpolate_latent(g, "1", "2", steps=5, mode="slerp").shape
    torch.Size([5, 1, 8, 8])
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from deepfake_lab.data.datasets import load_dataset
from deepfake_lab.data.splits import load_test_split
from deepfake_lab.errors import BadInputError, OptionError, Ref
from deepfake_lab.imaging import make_grid, save_generated_image, stack_grids
from deepfake_lab.provenance.label import Provenance
from deepfake_lab.train.checkpoint import load_exported
from deepfake_lab.train.logging import RunLogger

MODES = ("lerp", "slerp")


def load_generator(run: Path | str) -> tuple[nn.Module, dict[str, Any]]:
    """The exported GAN of a run dir (or export dir / .safetensors / card), in eval mode, with its card."""
    model, card = load_exported(Path(run))
    if card.get("family") != "gan" or not hasattr(model, "generate"):
        if hasattr(model, "translate"):
            raise BadInputError(f"{run} holds an image-to-image GAN ({card['model']}): use `deepfake-lab translate`")
        raise BadInputError(f"{run} holds a {card.get('family')} model ({card['model']}), not a GAN")
    if hasattr(model, "text_dim"):
        raise BadInputError(f"{run} holds a text-to-image GAN ({card['model']}): use `deepfake-lab text2img`")
    return model, card


def latents_for_seeds(seeds: list[int], latent_dim: int) -> Tensor:
    """z_s ~ N(0, I) for each seed s, independent of the global RNG: [len(seeds), latent_dim]."""
    return torch.stack(
        [torch.randn(latent_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds]
    )


def lerp_codes(z1: Tensor, z2: Tensor, steps: int) -> Tensor:
    """Codes α z1 + (1-α) z2 for α from 1 down to 0.

    Args:
        z1, z2: codes [*S] (one item each, any shape).
        steps: number of points, ≥ 2.

    Returns:
        [steps, *S]; row 0 is z1, the last row is z2.
    """
    if steps < 2:
        raise OptionError(Ref("steps"), f" must be at least 2, got {steps}")
    alpha = torch.linspace(1.0, 0.0, steps, dtype=z1.dtype).view(-1, *([1] * z1.dim()))
    return alpha * z1.unsqueeze(0) + (1 - alpha) * z2.unsqueeze(0)


def slerp_codes(z1: Tensor, z2: Tensor, steps: int) -> Tensor:
    """Spherical interpolation from z1 (row 0) to z2 (last row) along the great circle (White, 2016).

    Args:
        z1, z2: codes [D] (flattened internally for any shape [*S]).
        steps: points, ≥ 2.

    Returns:
        [steps, *S]. Falls back to linear interpolation when z1 and z2 are (anti)parallel.
    """
    if steps < 2:
        raise OptionError(Ref("steps"), f" must be at least 2, got {steps}")
    a, b = z1.flatten().double(), z2.flatten().double()
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1, 1))
    t = torch.linspace(0.0, 1.0, steps, dtype=torch.float64)[:, None]
    if float(torch.sin(omega)) < 1e-6:
        out = (1 - t) * a + t * b
    else:
        out = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
    return out.to(z1.dtype).view(steps, *z1.shape)


def interpolate_codes(z1: Tensor, z2: Tensor, steps: int, mode: str = "lerp") -> Tensor:
    """`steps` codes from z1 to z2, "lerp" (straight line) or "slerp" (great circle): [steps, *S]."""
    if mode == "lerp":
        return lerp_codes(z1, z2, steps)
    if mode == "slerp":
        return slerp_codes(z1, z2, steps)
    raise OptionError(Ref("mode"), f" must be one of {', '.join(MODES)}, got {mode!r}")


def parse_ref(ref: str, n_classes: int) -> tuple[int, int | None]:
    """ "SEED" or "SEED:CLASS" -> (seed, class or None); classes are checked against the model."""
    seed_s, _, cls_s = str(ref).partition(":")
    try:
        seed = int(seed_s)
        cls = int(cls_s) if cls_s else None
    except ValueError:
        raise BadInputError(f"latent reference {ref!r} must be SEED or SEED:CLASS (integers)") from None
    if cls is not None and not n_classes:
        raise BadInputError(f"{ref!r} names a class but this GAN is unconditional")
    if cls is not None and not 0 <= cls < n_classes:
        raise BadInputError(f"class {cls} out of range: this GAN has classes 0..{n_classes - 1}")
    return seed, cls


def _classes(model: nn.Module, n: int, cls: int | None) -> Tensor | None:
    k = int(getattr(model, "n_classes", 0))
    if not k:
        if cls is not None:
            raise OptionError(Ref("class"), " given, but this GAN is unconditional")
        return None
    if cls is None:
        return torch.arange(n) % k
    if not 0 <= cls < k:
        raise OptionError(Ref("class"), f" {cls} out of range: this GAN has classes 0..{k - 1}")
    return torch.full((n,), int(cls), dtype=torch.long)


def _unit(x: Tensor) -> Tensor:
    return ((x.float() + 1) / 2).clamp(0, 1)


@torch.no_grad()
def generate_images(model: nn.Module, z: Tensor, y: Tensor | None = None, *, batch_size: int = 256) -> Tensor:
    """G(z[, y]) in [0, 1], chunked: z [N, latent_dim], y [N] labels or [N, K] conditions -> [N, C, H, W]."""
    outs = []
    for i in range(0, len(z), batch_size):
        outs.append(
            _unit(model.generate(z[i : i + batch_size], None if y is None else y[i : i + batch_size]))
        )
    return torch.cat(outs)


def sample_images(model: nn.Module, n: int, *, seed: int = 0, cls: int | None = None) -> Tensor:
    """Images for seeds seed..seed+n-1; conditional models cycle through the classes unless `cls` is given.

    Returns:
        float [n, C, H, W] in [0, 1].
    """
    if n < 1 or n > 4096:
        raise BadInputError(f"-n must be in 1..4096, got {n}")
    z = latents_for_seeds(list(range(seed, seed + n)), model.latent_dim)
    return generate_images(model, z, _classes(model, n, cls))


def sample_run(
    run: Path | str, n: int, out: Path | str, *, seed: int = 0, cls: int | None = None, provenance: bool = True
) -> Path:
    """Write a grid of `n` samples of the run's generator to `out` (PNG).

    Conditional models without `cls`: one class per column (a row holds every class once).
    `provenance=False` (--no-provenance) skips the watermark and C2PA manifest (see `deepfake_lab.provenance`).
    """
    model, card = load_generator(run)
    images = sample_images(model, n, seed=seed, cls=cls)
    k = int(getattr(model, "n_classes", 0))
    nrow = k if (k and cls is None) else 8
    prov = Provenance.for_export("sample", run, card, {"n": n, "seed": seed, "class": cls}, provenance)
    return _save(make_grid(images, nrow=nrow), out, prov)


def interpolate_latent(model: nn.Module, a: str, b: str, steps: int = 8, mode: str = "lerp") -> Tensor:
    """Generated strip from reference `a` to `b` ("SEED" or "SEED:CLASS"); conditions are interpolated too.

    Returns:
        float [steps, C, H, W] in [0, 1].
    """
    k = int(getattr(model, "n_classes", 0))
    (sa, ca), (sb, cb) = parse_ref(a, k), parse_ref(b, k)
    z = latents_for_seeds([sa, sb], model.latent_dim)
    codes = interpolate_codes(z[0], z[1], steps, mode)
    y = None
    if k:
        onehot = torch.eye(k)
        ya, yb = onehot[ca if ca is not None else 0], onehot[cb if cb is not None else (ca or 0)]
        y = torch.linspace(1.0, 0.0, steps)[:, None] * ya + torch.linspace(0.0, 1.0, steps)[:, None] * yb
    return generate_images(model, codes, y)


def interpolate_gan_run(
    run: Path | str, a: str, b: str, steps: int, out: Path | str, mode: str = "lerp", *, provenance: bool = True
) -> Path:
    """Write the strip of `interpolate_latent` for a GAN run as a labelled PNG (`provenance=False`: plain)."""
    model, card = load_generator(run)
    prov = Provenance.for_export("interpolate", run, card, {"a": a, "b": b, "steps": steps, "mode": mode}, provenance)
    return _save(make_grid(interpolate_latent(model, a, b, steps, mode), nrow=steps), out, prov)


@torch.no_grad()
def latent_arithmetic(
    model: nn.Module,
    a: list[int],
    b: list[int],
    c: list[int],
    *,
    cls: int | None = None,
    n_variations: int = 4,
    noise: float = 0.25,
    seed: int = 0,
) -> dict[str, Tensor]:
    """DCGAN's vector arithmetic: z = mean z(A) - mean z(B) + mean z(C).

    Args:
        model: a GAN.
        a, b, c: seeds of the three groups (e.g. picked from a `sample` grid).
        cls: class for a conditional model (default 0).
        n_variations: extra results from z + noise·N(0, I), as in Radford et al.
        noise: scale of those perturbations.

    Returns:
        {"groups": [len(a)+len(b)+len(c), C, H, W] the members of A, B, C;
         "means": [3, C, H, W] G(mean z(A)), G(mean z(B)), G(mean z(C));
         "result": [1 + n_variations, C, H, W]} all in [0, 1].
    """
    if not (a and b and c):
        raise BadInputError("vector arithmetic needs at least one seed in each of A, B and C")
    d = model.latent_dim
    za, zb, zc = (latents_for_seeds(s, d) for s in (a, b, c))
    means = torch.stack([za.mean(0), zb.mean(0), zc.mean(0)])
    z = means[0] - means[1] + means[2]
    jitter = noise * torch.randn(n_variations, d, generator=torch.Generator().manual_seed(seed))
    result = torch.cat([z[None], z[None] + jitter])
    members = torch.cat([za, zb, zc])

    def y_for(n: int) -> Tensor | None:
        return _classes(model, n, cls if cls is not None else 0) if getattr(model, "n_classes", 0) else None

    return {
        "groups": generate_images(model, members, y_for(len(members))),
        "means": generate_images(model, means, y_for(3)),
        "result": generate_images(model, result, y_for(len(result))),
    }


def latent_arithmetic_run(
    run: Path | str,
    a: list[int],
    b: list[int],
    c: list[int],
    out: Path | str,
    *,
    cls: int | None = None,
    provenance: bool = True,
) -> Path:
    """Write rows: members of A | B | C, then G(mean A), G(mean B), G(mean C), then the results (a labelled
    PNG; `provenance=False` writes it plain)."""
    model, card = load_generator(run)
    prov = Provenance.for_export("latent-arith", run, card, {"a": a, "b": b, "c": c, "class": cls}, provenance)
    parts = latent_arithmetic(model, a, b, c, cls=cls)
    rows = [
        make_grid(parts["groups"], nrow=len(parts["groups"])),
        make_grid(parts["means"], nrow=3),
        make_grid(parts["result"], nrow=len(parts["result"])),
    ]
    return _save(stack_grids(rows), out, prov)


def _save(image: Tensor, out: Path | str, provenance: Provenance | None = None) -> Path:
    """Write a generated PNG; with `provenance` it is watermarked and C2PA-signed."""
    out = Path(out)
    if out.is_dir():
        raise BadInputError(f"output {out} is a folder")
    if out.suffix.lower() != ".png":
        raise BadInputError(f"output {out} must be a .png file")
    return save_generated_image(image, out, provenance)


def evaluate_generator_run(
    run: Path | str,
    *,
    n: int = 2000,
    batch_size: int = 50,
    seed: int = 0,
    console: Any = None,
) -> dict[str, Any]:
    """FID/KID of a GAN run's generator against the test split of its training data; appended to the run's
    metrics.jsonl as {"step", "fid", "kid", "kid_std", "fid_n_fake", "fid_n_real", "eval": "eval-gen"}.

    Args:
        run: the run dir (holding config.yaml, metrics.jsonl and export/).
        n: generated images (and at most that many real ones).
        batch_size: Inception batch size.
        seed: generated image i uses latent seed `seed + i`.
    """
    from deepfake_lab.metrics.fid_kid import InceptionFeatures, fid_from_features, kid_from_features, quantize

    run = Path(run)
    if not (run / "export").is_dir() or not (run / "config.yaml").is_file():
        raise BadInputError(f"{run} is not a trained run dir (needs config.yaml and export/)")
    model, card = load_generator(run)
    extractor = InceptionFeatures(batch_size=batch_size)
    c, h, _ = card["input"]["shape"]
    data_name = card.get("training", {}).get("data", "digits")
    real_ds = load_test_split(load_dataset, data_name, image_size=h, channels=c)
    n_real = min(n, len(real_ds))
    idx = torch.randperm(len(real_ds), generator=torch.Generator().manual_seed(seed))[:n_real]
    real = real_ds.images[idx]
    n_batches = math.ceil(n / 256)
    if console is not None:
        console.print(
            f"eval-gen: {n} generated vs {n_real} real {data_name} images ({h}x{h}) through InceptionV3"
        )
    fake = torch.cat(
        [quantize(sample_images(model, min(256, n - i * 256), seed=seed + i * 256)) for i in range(n_batches)]
    )
    f_fake, f_real = extractor(fake), extractor(real)
    kid, kid_std = kid_from_features(f_fake, f_real, seed=seed)
    metrics = {
        "fid": fid_from_features(f_fake, f_real),
        "kid": kid,
        "kid_std": kid_std,
        "fid_n_fake": int(len(fake)),
        "fid_n_real": int(n_real),
    }
    logger = RunLogger(run, tensorboard=False)
    try:
        logger.log(int(card.get("training", {}).get("steps", 0)), metrics, eval="eval-gen")
    finally:
        logger.close()
    return metrics
