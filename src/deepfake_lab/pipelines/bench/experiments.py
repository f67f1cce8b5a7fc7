"""`bench eval`'s experiments: in-domain, quality, method matrices, evolution, the GAN-image track, explanations.

Every figure is measured on the test split (the held-out slice of each video); training runs go through
`runner.Runner`, so finished ones are reused.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from deepfake_lab.errors import OptionError, Ref
from deepfake_lab.metrics.detection import (
    AGGREGATIONS,
    average_precision,
    detection_report,
    roc_auc_or_nan,
    video_scores,
)
from deepfake_lab.pipelines.bench.manifest import ManifestRow
from deepfake_lab.pipelines.bench.runner import Runner, TestSets, is_cnn, predict

if TYPE_CHECKING:
    from deepfake_lab.pipelines.bench.evaluate import EvalOptions

__all__ = ["GAN_TRACK", "evaluate_detector", "gan_track", "shipped_mnist_generators", "video_level"]


# ---------------------------------------------------------------- scores of manifest rows
def _sel(
    rows: Sequence[ManifestRow], p: np.ndarray, methods: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray, list[ManifestRow]]:
    keep = [i for i, r in enumerate(rows) if r.label == 0 or methods is None or r.method in methods]
    return np.array([rows[i].label for i in keep]), p[keep], [rows[i] for i in keep]


def _auc(rows: Sequence[ManifestRow], p: np.ndarray, methods: Sequence[str] | None = None) -> float:
    """AUC of reals vs the fakes of `methods` (None: all fakes); NaN when a class is missing."""
    y, s, _ = _sel(rows, p, methods)
    return roc_auc_or_nan(y, s)


def video_level(rows: Sequence[ManifestRow], p: np.ndarray) -> dict[str, float]:
    """Video-level AUC per aggregation rule; a video = one clip of one method."""
    ids = [f"{r.method}|{r.clip}" for r in rows]
    y = [r.label for r in rows]
    out = {}
    for rule in AGGREGATIONS:
        _, vy, vs = video_scores(ids, y, p, rule)
        out[f"video_auc_{rule}"] = roc_auc_or_nan(vy, vs)
    out["videos"] = float(len(set(ids)))
    return out


def evaluate_detector(
    det: str,
    runner: Runner,
    tests: TestSets,
    methods: list[str],
    comps: list[str],
    opt: EvalOptions,
    out: Path,
    figures: dict[str, str],
    *,
    matrices: bool,
) -> dict[str, Any]:
    """Train `det` on every method and score it: in-domain, by compression, Grad-CAM/spectra, the matrices.

    `matrices`: also leave-one-method-out, train-on-X/test-on-Y and (CNN detectors) the evolution experiment.
    """
    res: dict[str, Any] = {"cnn": is_cnn(det)}
    tag = det.replace("/", "-")
    model = runner.train(f"{tag}-all-{opt.train_compression}", det, runner.train_rows(None))
    rows_t, x_t = tests.get(opt.train_compression)
    p = predict(model, x_t)
    y = np.array([r.label for r in rows_t])
    rep = detection_report(y, p)
    res["in_domain"] = {**{k: float(v) for k, v in rep.items()}, **video_level(rows_t, p)}
    res["in_domain"]["per_method_auc"] = {m: _auc(rows_t, p, [m]) for m in methods}
    res["roc"] = _roc_points(y, p)
    # low quality: AUC per compression level
    res["auc_by_compression"] = {}
    for comp in comps:
        rc, xc = tests.get(comp)
        res["auc_by_compression"][comp] = _auc(rc, predict(model, xc))
    if opt.explain:
        figures.update(_explain(det, model, rows_t, x_t, p, res["cnn"], opt, out))
    if matrices and len(methods) > 1:
        loo, cross = {}, {}
        loo_models: dict[str, nn.Module] = {}
        for m in methods:
            others = [k for k in methods if k != m]
            mm = runner.train(f"{tag}-without-{m}", det, runner.train_rows(others))
            loo_models[m] = mm
            loo[m] = _auc(rows_t, predict(mm, x_t), [m])
        for a in methods:
            ma = runner.train(f"{tag}-only-{a}", det, runner.train_rows([a]))
            pa = predict(ma, x_t)
            cross[a] = {b: _auc(rows_t, pa, [b]) for b in methods}
        res["leave_one_out"] = loo
        res["leave_one_out_mean_auc"] = float(np.nanmean(list(loo.values())))
        res["train_x_test_y"] = cross
        off = [cross[a][b] for a in methods for b in methods if a != b]
        res["cross_method_mean_auc"] = float(np.nanmean(off)) if off else float("nan")
        if opt.evolution and res["cnn"]:
            res["evolution"] = _evolution(det, tag, runner, loo_models, rows_t, x_t, methods, opt)
    return res


def _roc_points(y: np.ndarray, p: np.ndarray) -> dict[str, list[float]]:
    from deepfake_lab.metrics.detection import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    idx = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))
    return {"fpr": [float(v) for v in fpr[idx]], "tpr": [float(v) for v in tpr[idx]]}


def _evolution(
    det: str,
    tag: str,
    runner: Runner,
    loo_models: dict[str, nn.Module],
    rows_t: list[ManifestRow],
    x_t: Tensor,
    methods: list[str],
    opt: EvalOptions,
) -> dict[str, Any]:
    """Fine-tune the model that never saw `new` on it: naive (real + new) vs replay (real + new + old buffer)."""
    if opt.new_method is None:  # the method the others generalise to worst: where adding it matters most
        new = min(methods, key=lambda m: (np.nan_to_num(_auc(rows_t, predict(loo_models[m], x_t), [m]), nan=1.0), m))
    else:
        new = opt.new_method
    if new not in methods:
        raise OptionError(Ref("new_method"), f" {new!r} is not in the benchmark ({', '.join(methods)})")
    old = [m for m in methods if m != new]
    base = loo_models[new]
    p0 = predict(base, x_t)
    out: dict[str, Any] = {"new_method": new, "old_methods": old, "finetune_steps": opt.finetune_steps,
                           "replay_per_method": opt.replay}  # fmt: skip
    out["before"] = {"auc_new": _auc(rows_t, p0, [new]), "auc_old": _auc(rows_t, p0, old)}
    rng = np.random.default_rng(opt.seed)
    train_new = runner.train_rows([new])
    buffer: list[ManifestRow] = []
    for m in old:
        pool = [r for r in runner.train_rows([m]) if r.label == 1]
        if pool:
            buffer += [pool[i] for i in rng.choice(len(pool), min(opt.replay, len(pool)), replace=False)]
    for mode, rows in (("naive", train_new), ("replay", train_new + buffer)):
        init = _clone(base)
        model = runner.train(
            f"{tag}-evolve-{new}-{mode}", det, rows, steps=opt.finetune_steps, init=init, lr=opt.lr / 3
        )
        p = predict(model, x_t)
        after = {"auc_new": _auc(rows_t, p, [new]), "auc_old": _auc(rows_t, p, old)}
        after["forgetting"] = out["before"]["auc_old"] - after["auc_old"]
        after["per_old_method_auc"] = {m: _auc(rows_t, p, [m]) for m in old}
        out[mode] = after
    return out


def _clone(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model)


# ---------------------------------------------------------------- GAN-image track (CNNDetection-style)
GAN_TRACK = ("dcgan-32", "gan-mlp")  # the GANs trained on MNIST here
GAN_TRACK_DETECTORS = ("spectrum-lr", "meso4")  # trained on one GAN, tested on every one
ASSETS = Path(__file__).resolve().parents[2] / "assets"


def shipped_mnist_generators(assets: Path = ASSETS) -> dict[str, Path]:
    """Shipped GANs trained on MNIST at 32 px (name -> weights): extra, independently trained test generators."""
    out = {}
    for card in sorted(assets.glob("*.json")):
        try:
            c = json.loads(card.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        st = card.with_suffix(".safetensors")
        shape = list(c.get("model_kwargs", {}).get("in_shape", []))
        mnist = c.get("training", {}).get("data") == "mnist" and shape == [1, 32, 32]
        if c.get("family") == "gan" and mnist and st.is_file():
            out[f"shipped-{card.stem}"] = st
    return out


def gan_track(out: Path, opt: EvalOptions, runner: Runner) -> dict[str, Any]:
    """Real MNIST vs samples of each GAN trained here; detectors trained on one GAN, AP on every GAN."""
    from PIL import Image

    from deepfake_lab.data.datasets import load_dataset
    from deepfake_lab.pipelines.generate import sample_images
    from deepfake_lab.train.checkpoint import load_exported
    from deepfake_lab.train.run import build_run_config

    root = out / "gan-track"
    n = 600
    gens: dict[str, Tensor] = {}
    for g in GAN_TRACK:
        run = root / "runs" / g
        export = run / "export" / "model.safetensors"
        want = {"steps": opt.gan_steps, "seed": opt.seed}
        if runner.reuse(run, want) is None:
            cfg = build_run_config(g, overrides=[
                "data.name=mnist", "data.image_size=32", f"train.steps={opt.gan_steps}", f"train.seed={opt.seed}",
                f"train.threads={opt.threads}", "train.sample_every=1000000", "train.checkpoint_every=1000000",
            ])  # fmt: skip
            runner.fit(cfg, run, want, f"gan-track-{g}", label=f"gan-track {g}")
        net = load_exported(export)[0].eval()  # the exported weights, also right after training
        gens[g] = (sample_images(net, 2 * n, seed=opt.seed) * 255).round().to(torch.uint8)
    for g, st in shipped_mnist_generators().items():  # test-only generators someone else trained
        gens[g] = (sample_images(load_exported(st)[0].eval(), 2 * n, seed=opt.seed) * 255).round().to(torch.uint8)
    real = load_dataset("mnist", "test", image_size=32).images
    perm = torch.randperm(len(real), generator=torch.Generator().manual_seed(opt.seed))
    real_train, real_test = real[perm[:n]], real[perm[n : 2 * n]]
    res: dict[str, Any] = {
        "generators": list(gens), "trained_on": list(GAN_TRACK), "real": "MNIST test images (32 px)", "n_per_class": n,
    }  # fmt: skip
    for det in GAN_TRACK_DETECTORS:
        ap: dict[str, dict[str, float]] = {}
        for g in GAN_TRACK:
            folder = root / "data" / f"{det}-{g}"
            if folder.exists():
                shutil.rmtree(folder)
            for sub, imgs in (("real", real_train), (f"fake/{g}", gens[g][:n])):
                (folder / sub).mkdir(parents=True, exist_ok=True)
                for i, im in enumerate(imgs):
                    Image.fromarray(im[0].numpy()).save(folder / sub / f"{i:04d}.png")
            run = root / "runs" / f"{det}-on-{g}"
            want_d = {"steps": opt.steps, "batch_size": opt.batch_size, "seed": opt.seed, "gan_steps": opt.gan_steps}
            model = runner.reuse(run, want_d)
            if model is None:
                over = [
                    f"data.name={folder}", "data.image_size=32", "data.channels=1", f"train.steps={opt.steps}",
                    f"train.batch_size={opt.batch_size}", f"train.threads={opt.threads}",
                    "task_kwargs.eval_degradations=false", "train.sample_every=1000000",
                    "train.checkpoint_every=1000000",
                ]  # fmt: skip
                cfg = build_run_config(det, overrides=over)
                model = runner.fit(cfg, run, want_d, f"gan-track-{det}-on-{g}", label=f"gan-track {det} on {g}")
            shutil.rmtree(folder, ignore_errors=True)
            ap[g] = {}
            for h in gens:
                x = torch.cat([real_test, gens[h][n:]])
                y = np.r_[np.zeros(n), np.ones(n)]
                ap[g][h] = float(average_precision(y, predict(model, x)))
        res[det] = {"ap_train_x_test_y": ap}
    return res


# ---------------------------------------------------------------- explanations
def _explain(
    det: str,
    model: nn.Module,
    rows: list[ManifestRow],
    x: Tensor,
    p: np.ndarray,
    cnn: bool,
    opt: EvalOptions,
    out: Path,
) -> dict[str, str]:
    from deepfake_lab.imaging import make_grid, save_image
    from deepfake_lab.metrics.explain import grad_cam, log_spectrum, overlay

    tag = det.replace("/", "-")
    order = np.argsort(-p)
    fakes = [i for i in order if rows[i].label == 1][: opt.top]
    reals = [i for i in order[::-1] if rows[i].label == 0][: opt.top]
    figs = {}
    xf = x[fakes].float() / 255
    xr = x[reals].float() / 255
    heat_f, heat_r = (grad_cam(model, xf), grad_cam(model, xr)) if cnn else (None, None)
    if heat_f is not None and heat_r is not None:
        grid = make_grid(torch.cat([xf, overlay(xf, heat_f), xr, overlay(xr, heat_r)]), nrow=len(fakes))
        path = out / f"gradcam-{tag}.png"
        save_image(grid, path)
        figs[f"gradcam-{tag}"] = path.name
    spec_f, spec_r = log_spectrum(xf), log_spectrum(xr)
    lo, hi = torch.quantile(torch.cat([spec_f, spec_r]).flatten(), torch.tensor([0.02, 0.998]))
    norm = lambda s: ((s - lo) / (hi - lo)).clamp(0, 1)[:, None]  # noqa: E731
    grid = make_grid(
        torch.cat([xf, norm(spec_f).expand(-1, 3, -1, -1), xr, norm(spec_r).expand(-1, 3, -1, -1)]), nrow=len(fakes)
    )
    path = out / f"spectra-{tag}.png"
    save_image(grid, path)
    figs[f"spectra-{tag}"] = path.name
    return figs


# ---------------------------------------------------------------- summary, plots, HTML
