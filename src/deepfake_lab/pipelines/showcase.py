"""The autoencoder showcase: train every autoencoder briefly on real digits and write one HTML page.

It is the README's main job until the scan demo lands: each model's reconstructions, a latent
interpolation strip, and the figures that show the lecture's claims side by side.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console

from deepfake_lab.config import DataConfig, OptimConfig, RunConfig, TrainConfig
from deepfake_lab.errors import BadInputError, OptionError, Ref
from deepfake_lab.html import render
from deepfake_lab.imaging import make_grid, save_generated_image, to_uint8_hwc
from deepfake_lab.losses import jacobian_frobenius, mse_per_pixel
from deepfake_lab.pipelines.latent import interpolate
from deepfake_lab.train.tasks.autoencoder import corrupt
from deepfake_lab.train.trainer import Trainer


@dataclass
class ShowcaseEntry:
    model: str
    what: str
    model_kwargs: dict
    task_kwargs: dict
    steps: int
    lr: float = 1e-3


ENTRIES = [
    ShowcaseEntry("pca", "PCA, k=16 (scikit-learn)", {"n_components": 16}, {}, 0),
    ShowcaseEntry("ae-linear", "linear AE, 16 units (no activations)", {"latent_dim": 16}, {}, 2000, 1e-2),
    ShowcaseEntry("ae-dense", "undercomplete dense AE, 16-d code", {"latent_dim": 16}, {}, 1500),
    ShowcaseEntry("ae-overcomplete", "overcomplete dense AE, 256-d code", {"latent_dim": 256}, {}, 1500),
    ShowcaseEntry(
        "ae-sparse", "sparse AE, ρ=0.05, β=3", {"latent_dim": 64}, {"sparsity_beta": 3.0, "sparsity_rho": 0.05}, 1500
    ),
    ShowcaseEntry(
        "ae-denoising", "denoising AE, masking ν=0.3", {"latent_dim": 32}, {"noise": "mask", "noise_level": 0.3}, 1500
    ),
    ShowcaseEntry("ae-contractive", "contractive AE, λ=0.05", {"latent_dim": 64}, {"contractive_lambda": 0.05}, 1500),
    ShowcaseEntry("ae-conv", "convolutional AE (ReLU, sigmoid out)", {}, {}, 800),
    ShowcaseEntry(
        "ae-stacked",
        "stacked AE, greedy pretraining + classifier on 100 labels",
        {"layers": [256, 64]},
        {"pretrain_steps": 1000, "n_labels": 100},
        2300,
        3e-3,
    ),
]


def _png_data_uri(image: torch.Tensor) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(to_uint8_hwc(image)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def run_showcase(
    out_dir: Path, *, data: str = "digits", scale: float = 1.0, console: Console | None = None, provenance: bool = True
) -> Path:
    """Train each autoencoder of `ENTRIES` on `data` and write `out_dir/index.html`; returns its path.

    Args:
        out_dir: output folder (runs go under out_dir/runs); must not already hold a showcase.
        data: dataset name.
        scale: multiplies every step budget (0.1 for a quick look).
        provenance: the interpolation PNGs carry the invisible watermark and a signed C2PA manifest
            (`deepfake_lab.provenance`); False = --no-provenance.
    """
    console = console or Console(stderr=True)
    out_dir = Path(out_dir)
    if (out_dir / "index.html").exists():
        raise BadInputError(f"{out_dir} already holds a showcase; choose another --out")
    if scale <= 0 or scale > 100:
        raise OptionError(Ref("scale"), f" must be in (0, 100], got {scale}")
    rows = []
    for e in ENTRIES:
        steps = max(1, int(e.steps * scale)) if e.steps else 0
        task_kwargs = dict(e.task_kwargs)
        if "pretrain_steps" in task_kwargs:
            task_kwargs["pretrain_steps"] = max(1, int(task_kwargs["pretrain_steps"] * scale))
        cfg = RunConfig(
            model=e.model,
            model_kwargs=e.model_kwargs,
            task_kwargs=task_kwargs,
            data=DataConfig(name=data),
            optim=OptimConfig(lr=e.lr, scheduler="cosine" if e.model == "ae-linear" else "none"),
            train=TrainConfig(
                steps=steps,
                batch_size=256 if e.model == "ae-linear" else 64,
                sample_every=max(1, steps),
                checkpoint_every=max(1, steps),
            ),
            name=e.model,
            runs_dir=str(out_dir / "runs"),
        )
        console.print(f"[bold]{e.model}[/]: {e.what}")
        trainer = Trainer(cfg, out_dir / "runs" / e.model, console=console)
        result = trainer.fit()
        model = trainer.model.eval()
        x = trainer.eval_batch.x
        with torch.no_grad():
            torch.manual_seed(1)
            x_noisy = corrupt(x, "mask", 0.3)
            figures = {
                "test MSE": float(mse_per_pixel(model(x), x)),
                "MSE on masked input (ν=0.3) vs clean": float(mse_per_pixel(model(x_noisy), x)),
                "mean code activation": float(model.encode(x).float().mean()),
            }
            code_units = model.encode(x[:1]).numel()
            if e.model != "pca" and code_units <= 1024:  # exact Jacobians of big conv codes cost GBs of memory
                figures["mean ‖J_f(x)‖_F"] = float(jacobian_frobenius(model, x[:64]))
            if "eval_accuracy" in result.eval:
                figures["test accuracy (100 labels)"] = result.eval["eval_accuracy"]
            recon = make_grid(torch.cat([x[:10], model(x[:10]).float().clamp(0, 1)]), nrow=10)
            strip = make_grid(interpolate(model, x[0], x[1], 10), nrow=10)
        from deepfake_lab.provenance.label import Provenance

        prov = Provenance(
            kind="showcase", model=e.model, enabled=provenance, notify=lambda m: console.print(m, highlight=False),
            parameters={"data": data, "steps": steps, "model_kwargs": e.model_kwargs, "what": "interpolation"},
        )  # fmt: skip
        save_generated_image(strip, out_dir / f"{e.model}_interpolation.png", prov)
        rows.append((e, steps, result.steps_per_second, figures, _png_data_uri(recon), _png_data_uri(strip)))
    page = render_showcase(rows, data)
    path = out_dir / "index.html"
    path.write_text(page)
    return path


def render_showcase(rows: list, data: str) -> str:
    """The showcase page: per model its figures, reconstructions and interpolation strip (PNG data URIs)."""
    sections = [
        {"model": e.model, "what": e.what, "steps": steps, "steps_per_second": sps, "figures": figures,
         "recon": recon, "strip": strip}
        for e, steps, sps, figures, recon, strip in rows
    ]  # fmt: skip
    return render("showcase.html.j2", title="deepfake-lab: autoencoders", data=data, sections=sections)
