"""Re-conditioning a real image with a conditional GAN: the face-aging mechanism of Antipov et al. (2017).

Age-cGAN ages a face in three moves, reproduced here for any one-hot condition a dataset carries (the
class of MNIST / Fashion-MNIST, or an age bucket on a user's labelled faces):

1. latent vector approximation: an encoder E, trained on the generator's own samples (G(z, y), z), gives
   an initial z0 = E(x) for a real image x;
2. identity-preserving optimisation: z* = argmin_z  w_pix·‖G(z, y) - x‖² + w_feat·‖φ(G(z, y)) - φ(x)‖²
   + w_prior·‖z‖²/d, started from z0, where φ are E's conv features (the paper uses a face-recognition
   net's features; E is the feature extractor we have for every domain) and y is the source condition
   (given, or the condition under which x is reconstructed best);
3. regeneration: G(z*, y') under the target condition y'.

Example:
    >>> from deepfake_lab.pipelines.generate import load_generator
    >>> gan, _ = load_generator("src/deepfake_lab/assets/cdcgan32-mnist.safetensors")  # doctest: +SKIP
    >>> out = recondition(gan, x, to=[3, 8])  # doctest: +SKIP
    >>> out["results"].shape  # [N, 2, C, H, W]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepfake_lab.errors import BadInputError, OptionError, Ref
from deepfake_lab.imaging import make_grid, stack_grids
from deepfake_lab.models.gans.encoder import LatentEncoder

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _check_conditional(model: nn.Module) -> int:
    k = int(getattr(model, "n_classes", 0))
    if not hasattr(model, "generate") or k < 2:
        raise BadInputError("re-conditioning needs a conditional GAN (e.g. cdcgan-32 or cgan-mlp)")
    return k


def fit_latent_encoder(
    model: nn.Module,
    *,
    steps: int = 400,
    batch_size: int = 32,
    lr: float = 1e-3,
    width: int = 16,
    seed: int = 0,
    progress: Progress | None = None,
) -> LatentEncoder:
    """Train E to invert G on G's own samples: minimise ‖E(G(z, y)) - z‖² over z ~ N(0, I), random y.

    Args:
        model: a conditional GAN (kept frozen, in eval mode).
        steps: Adam steps; batch_size: samples per step.
        seed: the training draws its z, y from a generator seeded with it (results are repeatable).

    Returns:
        the encoder, in eval mode.
    """
    k = _check_conditional(model)
    if steps < 1 or batch_size < 2:
        raise BadInputError(f"encoder steps must be >= 1 and batch size >= 2, got {steps}, {batch_size}")
    c = int(model.out_shape[0])
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        enc = LatentEncoder(channels=c, latent_dim=model.latent_dim, width=width)
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    model.eval()
    enc.train()
    for i in range(steps):
        z = torch.randn(batch_size, model.latent_dim, generator=g)
        y = torch.randint(0, k, (batch_size,), generator=g)
        with torch.no_grad():
            x = model.generate(z, y)
        loss = F.mse_loss(enc(x), z)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress("encoder", i + 1, steps)
    return enc.eval()


def find_latent(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    encoder: LatentEncoder,
    *,
    steps: int = 200,
    lr: float = 0.05,
    pixel_weight: float = 1.0,
    feature_weight: float = 1.0,
    prior_weight: float = 1e-3,
    progress: Progress | None = None,
) -> tuple[Tensor, Tensor]:
    """z* of images x under conditions y: encoder initialisation, then the preserving optimisation.

    Args:
        model: a conditional GAN (frozen).
        x: targets [N, C, H, W] in [-1, 1].
        y: labels [N].
        encoder: from `fit_latent_encoder`.
        steps: Adam steps on z (0: the encoder's estimate z0 alone).

    Returns:
        (z* [N, latent_dim], per-image final loss [N]).
    """
    params = [*model.parameters(), *encoder.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:  # only z is optimised
        p.requires_grad_(False)
    try:
        return _optimise(model, x, y, encoder, steps, lr, pixel_weight, feature_weight, prior_weight, progress)
    finally:
        for p, f in zip(params, flags, strict=True):
            p.requires_grad_(f)


def _optimise(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    encoder: LatentEncoder,
    steps: int,
    lr: float,
    pixel_weight: float,
    feature_weight: float,
    prior_weight: float,
    progress: Progress | None,
) -> tuple[Tensor, Tensor]:
    with torch.no_grad():
        z = encoder(x).clone()
        feat_x = encoder.embed(x)
    z.requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)

    def per_image(z_: Tensor) -> Tensor:
        out = model.generate(z_, y)
        loss = pixel_weight * (out - x).pow(2).flatten(1).mean(1)
        if feature_weight:
            loss = loss + feature_weight * (encoder.embed(out) - feat_x).pow(2).mean(1)
        return loss + prior_weight * z_.pow(2).mean(1)

    for i in range(steps):
        loss = per_image(z)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        if progress is not None:
            progress("latent", i + 1, steps)
    with torch.no_grad():
        final = per_image(z)
    return z.detach(), final.detach()


def recondition(
    model: nn.Module,
    images: Tensor,
    to: Sequence[int],
    *,
    source: Sequence[int] | int | None = None,
    encoder: LatentEncoder | None = None,
    encoder_steps: int = 400,
    steps: int = 200,
    lr: float = 0.05,
    pixel_weight: float = 1.0,
    feature_weight: float = 1.0,
    prior_weight: float = 1e-3,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Find z* of each image and regenerate it under each target condition.

    Args:
        model: a conditional GAN (eval mode).
        images: float [N, C, H, W] in [0, 1], already at the generator's size.
        to: target class indices (each image is regenerated under every one).
        source: each image's class (one int for all, or N ints); None: inferred as the class whose
            optimised reconstruction error is lowest (costs one optimisation per class).
        encoder: a fitted encoder (None: one is fitted now with `encoder_steps` steps).

    Returns:
        {"z": [N, latent_dim], "source": int64 [N], "loss": [N] final preserving loss,
         "reconstruction": [N, C, H, W] G(z*, source), "results": [N, len(to), C, H, W]} in [0, 1].
    """
    k = _check_conditional(model)
    if images.dim() != 4 or tuple(images.shape[1:]) != tuple(model.out_shape):
        raise BadInputError(f"images must be [N, {', '.join(map(str, model.out_shape))}], got {list(images.shape)}")
    to = [int(t) for t in to]
    if not to:
        raise BadInputError("give at least one target class")
    for t in to:
        if not 0 <= t < k:
            raise BadInputError(f"target class {t} out of range: this GAN has classes 0..{k - 1}")
    n = len(images)
    model.eval()
    if encoder is None:
        encoder = fit_latent_encoder(model, steps=encoder_steps, seed=seed, progress=progress)
    x = images.float() * 2 - 1
    opts = dict(steps=steps, lr=lr, pixel_weight=pixel_weight, feature_weight=feature_weight, prior_weight=prior_weight)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if source is None:  # optimise under every class at once; keep the best-reconstructing one
            xs = x.repeat_interleave(k, 0)
            ys = torch.arange(k).repeat(n)
            z_all, loss_all = find_latent(model, xs, ys, encoder, progress=progress, **opts)
            best = loss_all.view(n, k).argmin(1)
            rows = torch.arange(n) * k + best
            z, loss, src = z_all[rows], loss_all[rows], best
        else:
            src = torch.as_tensor([source] * n if isinstance(source, int) else list(source), dtype=torch.long)
            if len(src) != n:
                raise BadInputError(f"{len(src)} source classes for {n} images")
            if int(src.min()) < 0 or int(src.max()) >= k:
                raise BadInputError(f"source class out of range: this GAN has classes 0..{k - 1}")
            z, loss = find_latent(model, x, src, encoder, progress=progress, **opts)
    with torch.no_grad():
        recon = model.generate(z, src)
        zt = z.repeat_interleave(len(to), 0)
        yt = torch.tensor(to).repeat(n)
        results = model.generate(zt, yt).view(n, len(to), *model.out_shape)

    def unit(t: Tensor) -> Tensor:
        return ((t.float() + 1) / 2).clamp(0, 1)

    return {"z": z, "source": src, "loss": loss, "reconstruction": unit(recon), "results": unit(results)}


def load_images_for(model: nn.Module, paths: Sequence[Path | str]) -> Tensor:
    """Read image files as the generator's input: float [N, C, H, W] in [0, 1] (grey = channel mean)."""
    from PIL import Image

    from deepfake_lab.video.image import read_image

    c, h, w = model.out_shape
    out = []
    for p in paths:
        rgb = read_image(p)
        im = Image.fromarray(rgb).resize((w, h), Image.BILINEAR)
        arr = np.asarray(im, dtype=np.float32) / 255.0
        t = torch.from_numpy(arr).permute(2, 0, 1)
        out.append(t.mean(0, keepdim=True) if c == 1 else t)
    if not out:
        raise BadInputError("give at least one --image or --index")
    return torch.stack(out)


def held_out_images(card: dict[str, Any], indices: Sequence[int]) -> tuple[Tensor, Tensor | None]:
    """Images (and labels) of the test split of the data the generator was trained on, by index."""
    from deepfake_lab.data.datasets import load_dataset
    from deepfake_lab.data.splits import load_test_split

    c, h, _ = card["input"]["shape"]
    name = card.get("training", {}).get("data", "")
    ds = load_test_split(load_dataset, name, image_size=h, channels=c)
    for i in indices:
        if not 0 <= int(i) < len(ds):
            raise OptionError(Ref("index"), f" {i} out of range: the {name} test split has {len(ds)} images")
    idx = torch.tensor([int(i) for i in indices], dtype=torch.long)
    b = ds.batch(idx)
    return b.x, b.y


def recondition_run(
    run: Path | str,
    to: Sequence[int],
    out: Path | str,
    *,
    images: Sequence[Path | str] = (),
    indices: Sequence[int] = (),
    source: int | None = None,
    encoder_steps: int = 400,
    steps: int = 200,
    seed: int = 0,
    progress: Progress | None = None,
    provenance: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """Re-condition image files and/or test-set images of a conditional GAN run; write a PNG.

    Rows of the PNG: one per image — input | G(z*, source) | G(z*, t) for each target t.
    With `indices` and no `source`, the test labels serve as source classes.
    The PNG carries the invisible watermark and a signed C2PA manifest unless `provenance=False`.
    """
    from deepfake_lab.pipelines.generate import _save, load_generator
    from deepfake_lab.provenance.label import Provenance

    model, card = load_generator(run)
    _check_conditional(model)
    parts, labels = [], []
    if images:
        parts.append(load_images_for(model, images))
        labels += [None] * len(images)
    if indices:
        xs, ys = held_out_images(card, indices)
        parts.append(xs)
        labels += [None if ys is None else int(v) for v in ys]
    if not parts:
        raise BadInputError("give at least one --image or --index")
    x = torch.cat(parts)
    src: Any = source
    if source is None and labels and all(v is not None for v in labels):
        src = labels
    res = recondition(
        model, x, to, source=src, encoder_steps=encoder_steps, steps=steps, seed=seed, progress=progress
    )
    rows = [
        make_grid(torch.cat([x[i : i + 1], res["reconstruction"][i : i + 1], res["results"][i]]), nrow=2 + len(to))
        for i in range(len(x))
    ]
    params = {"to": list(to), "source": src, "steps": steps, "encoder_steps": encoder_steps, "seed": seed}
    path = _save(stack_grids(rows), out, Provenance.for_export("recondition", run, card, params, provenance))
    return path, res
