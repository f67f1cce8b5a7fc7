"""`bench eval`: detectors against the three difficulties, on a benchmark built by `bench build`.

Experiments (detectors are trained with the one Trainer on folders of hard links into the benchmark; the
train split only; every figure is measured on the test split = the held-out slice of each video):

* in-domain: train on all methods at `train_compression` (c23, the usual protocol); frame-level AUC, AP,
  EER, accuracy@0.5, log-loss; video-level AUC with mean / max / confident-strategy aggregation (a video
  = one clip of one method);
* low quality: the same model on every compression level (c0/c23/c40, JPEG qualities): AUC vs CRF and
  vs JPEG quality;
* many methods: leave-one-method-out (train on all but m, test real vs m) and train-on-X/test-on-Y;
* evolution: the leave-one-out model of `new_method` learns it by fine-tuning, naively (real + new only)
  or with a replay buffer of the old methods; AUC on the new method and forgetting on the old ones;
* GAN-image track: real MNIST against samples of two GANs trained here, cross-generator AP;
* explanations: Grad-CAM of the CNN detector and spectra for the frequency detector, top-scoring images.

Outputs in the output folder: report.json, report.html (tables + plots), *.png, runs/ (every training run,
reused when the command is run again, so an interrupted evaluation resumes).

Example:
    >>> from deepfake_lab.pipelines.bench_eval import EvalOptions, evaluate_bench
    >>> report = evaluate_bench("bench", "bench-eval", EvalOptions(steps=300))  # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch import Tensor, nn

from deepfake_lab import __version__
from deepfake_lab.errors import BadInputError
from deepfake_lab.fsutil import atomic_write_text
from deepfake_lab.metrics.detection import average_precision, detection_report, roc_auc, video_scores
from deepfake_lab.pipelines.benchmark import ManifestRow, compression_names, read_manifest

__all__ = ["EvalOptions", "evaluate_bench", "load_images", "video_level"]

AGGREGATIONS = ("mean", "max", "confident")


@dataclass
class EvalOptions:
    """What to evaluate and how hard to train.

    Args:
        detectors: detector presets or model names; the method matrices and evolution run for the first CNN
            detector and for every closed-form (frequency) one; the others get in-domain, quality and Grad-CAM.
        image_size: detector input side (crops are resized).
        steps: training steps of each CNN detector run.
        batch_size: batch size.
        lr: learning rate.
        train_compression: compression level of the training images ("c23", the usual protocol).
        matrices: run the leave-one-out and train-on-X/test-on-Y matrices (also for frequency detectors).
        evolution: run the evolution experiment.
        new_method: the method added later (None: the one with the lowest leave-one-out AUC).
        finetune_steps: steps of each fine-tuning run.
        replay: replay-buffer images per old method.
        gan_track: run the MNIST GAN-image track.
        gan_steps: training steps of each GAN of the track.
        explain: save Grad-CAM / spectrum figures.
        top: images per explanation figure.
        seed: seed of everything random.
        threads: torch threads.
    """

    detectors: tuple[str, ...] = ("meso4-bench", "spectrum-lr-bench")
    image_size: int = 64
    steps: int = 400
    batch_size: int = 32
    lr: float = 1e-3
    train_compression: str = "c23"
    matrices: bool = True
    evolution: bool = True
    new_method: str | None = None
    finetune_steps: int = 300
    replay: int = 48
    gan_track: bool = True
    gan_steps: int = 800
    explain: bool = True
    top: int = 8
    seed: int = 0
    threads: int = 1

    def validate(self) -> None:
        from deepfake_lab.config import preset_names
        from deepfake_lab.models.catalogue import list_models

        if not self.detectors:
            raise BadInputError("name at least one detector")
        for d in self.detectors:
            if d not in preset_names() and d not in list_models("detector"):
                raise BadInputError(f"unknown detector {d!r}; see `deepfake-lab models` (family detector)")
        if not 16 <= self.image_size <= 512:
            raise BadInputError(f"--image-size must be in 16..512, got {self.image_size}")
        for k in ("steps", "batch_size", "finetune_steps", "gan_steps", "top"):
            if getattr(self, k) < 1:
                raise BadInputError(f"{k} must be >= 1, got {getattr(self, k)}")
        if self.replay < 0:
            raise BadInputError(f"replay must be >= 0, got {self.replay}")


# ---------------------------------------------------------------- data
def load_images(root: Path, rows: Sequence[ManifestRow], size: int) -> Tensor:
    """uint8 [N, 3, size, size] of the manifest rows (PIL bilinear resize, as the folder loader does)."""
    from PIL import Image

    out = np.empty((len(rows), size, size, 3), np.uint8)
    for i, r in enumerate(rows):
        try:
            with Image.open(root / r.path) as im:
                out[i] = np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR))
        except OSError as exc:
            raise BadInputError(f"benchmark image {r.path} is unreadable ({exc}); rebuild the benchmark") from None
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


class _TestSets:
    """Test images per compression level, loaded once."""

    def __init__(self, root: Path, rows: list[ManifestRow], size: int) -> None:
        self.root, self.size = root, size
        self.by_comp: dict[str, list[ManifestRow]] = defaultdict(list)
        for r in rows:
            if r.split == "test":
                self.by_comp[r.compression].append(r)
        self._cache: dict[str, Tensor] = {}

    def get(self, comp: str) -> tuple[list[ManifestRow], Tensor]:
        rows = self.by_comp.get(comp, [])
        if not rows:
            raise BadInputError(f"the benchmark has no test images at {comp}")
        if comp not in self._cache:
            self._cache[comp] = load_images(self.root, rows, self.size)
        return rows, self._cache[comp]


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, batch_size: int = 256) -> np.ndarray:
    """Fake probabilities [N] of a detector on uint8 images [N, C, H, W]."""
    model.eval()
    out = [
        model(images[i : i + batch_size].float().div(255))["probs"].float() for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out).numpy().astype(np.float64)


def _sel(
    rows: Sequence[ManifestRow], p: np.ndarray, methods: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray, list[ManifestRow]]:
    keep = [i for i, r in enumerate(rows) if r.label == 0 or methods is None or r.method in methods]
    return np.array([rows[i].label for i in keep]), p[keep], [rows[i] for i in keep]


def _auc(rows: Sequence[ManifestRow], p: np.ndarray, methods: Sequence[str] | None = None) -> float:
    y, s, _ = _sel(rows, p, methods)
    return float(roc_auc(y, s)) if 0 < y.sum() < len(y) else float("nan")


def video_level(rows: Sequence[ManifestRow], p: np.ndarray) -> dict[str, float]:
    """Video-level AUC per aggregation rule; a video = one clip of one method."""
    ids = [f"{r.method}|{r.clip}" for r in rows]
    y = [r.label for r in rows]
    out = {}
    for rule in AGGREGATIONS:
        _, vy, vs = video_scores(ids, y, p, rule)
        out[f"video_auc_{rule}"] = float(roc_auc(vy, vs)) if 0 < vy.sum() < len(vy) else float("nan")
    out["videos"] = float(len(set(ids)))
    return out


# ---------------------------------------------------------------- training through the one Trainer
class _Runner:
    """Trains detectors on subsets of the benchmark (hard-linked folders) and caches finished runs."""

    def __init__(
        self, bench: Path, out: Path, rows: list[ManifestRow], opt: EvalOptions, console: Console, progress: bool
    ) -> None:
        self.bench, self.out, self.rows, self.opt = bench, out, rows, opt
        self.console, self.progress = console, progress
        self.timings: dict[str, float] = {}

    def folder(self, name: str, rows: Sequence[ManifestRow]) -> Path:
        """A real/ + fake/<method>/ folder of hard links to `rows` (rebuilt each time)."""
        root = self.out / "data" / name
        if root.exists():
            shutil.rmtree(root)
        for r in rows:
            sub = root / ("real" if r.label == 0 else f"fake/{r.method}")
            sub.mkdir(parents=True, exist_ok=True)
            dst = sub / f"{r.split}-{Path(r.path).name}"
            try:
                os.link(self.bench / r.path, dst)
            except OSError:
                shutil.copyfile(self.bench / r.path, dst)
        return root

    def train_rows(self, methods: Sequence[str] | None, comp: str | None = None) -> list[ManifestRow]:
        comp = comp or self.opt.train_compression
        return [
            r for r in self.rows
            if r.split == "train" and r.compression == comp and (r.label == 0 or methods is None or r.method in methods)
        ]  # fmt: skip

    def train(
        self, name: str, detector: str, rows: Sequence[ManifestRow], *, steps: int | None = None,
        init: nn.Module | None = None, lr: float | None = None,
    ) -> nn.Module:  # fmt: skip
        """Train `detector` on `rows` (or load the finished run `name`); returns the model in eval mode."""
        from deepfake_lab.train.checkpoint import load_exported
        from deepfake_lab.train.run import build_run_config
        from deepfake_lab.train.trainer import Trainer

        run = self.out / "runs" / name
        export = run / "export" / "model.safetensors"
        o = self.opt
        want = {"steps": steps or o.steps, "batch_size": o.batch_size, "seed": o.seed, "image_size": o.image_size,
                "lr": lr or o.lr, "detector": detector, "methods": sorted({r.method for r in rows}),
                "images": len(rows)}  # fmt: skip
        if export.is_file() and _run_matches(run, want):
            return load_exported(export)[0]
        if run.exists():
            shutil.rmtree(run)
        n_fake = sum(r.label for r in rows)
        n_real = len(rows) - n_fake
        if n_fake == 0 or n_real == 0:
            raise BadInputError(f"run {name}: needs real and fake training images")
        data = self.folder(name, rows)
        over = [
            f"data.name={data}", f"data.image_size={o.image_size}", f"train.steps={steps or o.steps}",
            f"train.batch_size={o.batch_size}", f"train.seed={o.seed}", f"train.threads={o.threads}",
            f"optim.lr={lr or o.lr}", "train.sample_every=1000000", "train.checkpoint_every=1000000",
        ]  # fmt: skip
        cfg = build_run_config(detector, overrides=over)
        from deepfake_lab.models.catalogue import model_entry

        if (cfg.task or model_entry(cfg.model).tags.get("task")) == "detection":
            cfg.task_kwargs = {**cfg.task_kwargs, "pos_weight": round(n_real / n_fake, 4), "eval_degradations": False}
        else:
            cfg.task_kwargs = {**cfg.task_kwargs, "eval_degradations": False}
        t = time.perf_counter()
        trainer = Trainer(cfg, run, progress=self.progress, console=self.console, tensorboard=False,
                          command=f"deepfake-lab bench eval ({name})")  # fmt: skip
        if init is not None:
            trainer.model.load_state_dict(init.state_dict())
        trainer.fit()
        (run / "bench-eval-run.json").write_text(json.dumps(want) + "\n")
        self.timings[name] = round(time.perf_counter() - t, 1)
        shutil.rmtree(data, ignore_errors=True)
        return trainer.model.eval()


def _run_matches(run: Path, want: dict[str, Any]) -> bool:
    """Whether a finished run was trained with the options `want` (else it is trained again)."""
    try:
        return json.loads((run / "bench-eval-run.json").read_text()) == json.loads(json.dumps(want))
    except (OSError, json.JSONDecodeError):
        return False


def _is_cnn(detector: str) -> bool:
    from deepfake_lab.config import load_preset
    from deepfake_lab.models.catalogue import model_entry

    preset = load_preset(detector)
    model = preset.get("model", detector) if preset else detector
    return model_entry(model).tags.get("task") == "detection"


# ---------------------------------------------------------------- the evaluation
def evaluate_bench(
    bench: Path | str,
    output: Path | str,
    options: EvalOptions | None = None,
    *,
    progress: bool = True,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run the benchmark evaluation; writes report.json, report.html and plots into `output`.

    Raises:
        BadInputError: not a benchmark folder, bad options, a split without both classes.
    """
    opt = options or EvalOptions()
    opt.validate()
    bench, out = Path(bench), Path(output)
    rows = read_manifest(bench)
    if out.exists() and not out.is_dir():
        raise BadInputError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "runs").is_dir():
        raise BadInputError(f"{out} is not empty and not a bench-eval folder; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    console = console or Console(stderr=True)
    comps = compression_names(rows)
    if opt.train_compression not in comps:
        raise BadInputError(f"the benchmark has no {opt.train_compression} images (it has {', '.join(comps)})")
    methods = list(dict.fromkeys(r.method for r in rows if r.label == 1))
    if not methods:
        raise BadInputError("the benchmark has no fakes")
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, opt.threads))
    t0 = time.perf_counter()
    runner = _Runner(bench, out, rows, opt, console, progress)
    tests = _TestSets(bench, rows, opt.image_size)
    report: dict[str, Any] = {
        "kind": "deepfake-lab/bench-eval",
        "tool": f"deepfake-lab {__version__}",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "bench": str(bench),
        "options": asdict(opt),
        "methods": methods,
        "compressions": comps,
        "load_average_start": list(os.getloadavg()),
        "detectors": {},
    }
    figures: dict[str, str] = {}
    first_cnn = next((d for d in opt.detectors if _is_cnn(d)), None)  # the matrices are for it and cheap LR ones
    try:
        for det in opt.detectors:
            matrices = opt.matrices and (not _is_cnn(det) or det == first_cnn)
            report["detectors"][det] = _evaluate_detector(
                det, runner, tests, methods, comps, opt, out, figures, matrices=matrices
            )
        if opt.gan_track:
            report["gan_track"] = _gan_track(out, opt, runner, figures)
    finally:
        torch.set_num_threads(prev_threads)
        for tmp in (out / "data", out / "gan-track" / "data"):  # hard-link folders of finished runs
            shutil.rmtree(tmp, ignore_errors=True)
    report["timings"] = runner.timings
    report["seconds"] = round(time.perf_counter() - t0, 1)
    report["load_average_end"] = list(os.getloadavg())
    report["figures"] = figures
    report["summary"] = _summary(report)
    atomic_write_text(out / "report.json", json.dumps(report, indent=1, default=_json_default) + "\n")
    _plots(report, out, figures)
    (out / "report.html").write_text(_html(report, figures))
    atomic_write_text(out / "report.json", json.dumps(report, indent=1, default=_json_default) + "\n")
    return report


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)


def _evaluate_detector(
    det: str,
    runner: _Runner,
    tests: _TestSets,
    methods: list[str],
    comps: list[str],
    opt: EvalOptions,
    out: Path,
    figures: dict[str, str],
    *,
    matrices: bool,
) -> dict[str, Any]:
    res: dict[str, Any] = {"cnn": _is_cnn(det)}
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
    runner: _Runner,
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
        raise BadInputError(f"--new-method {new!r} is not in the benchmark ({', '.join(methods)})")
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
GAN_TRACK = ("dcgan-32", "gan-mlp")
ASSETS = Path(__file__).resolve().parent.parent / "assets"


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


def _gan_track(out: Path, opt: EvalOptions, runner: _Runner, figures: dict[str, str]) -> dict[str, Any]:
    """Real MNIST vs samples of each GAN trained here; detectors trained on one GAN, AP on every GAN."""
    from PIL import Image

    from deepfake_lab.data.datasets import load_dataset
    from deepfake_lab.pipelines.generate import sample_images
    from deepfake_lab.train.checkpoint import load_exported
    from deepfake_lab.train.run import build_run_config
    from deepfake_lab.train.trainer import Trainer

    root = out / "gan-track"
    n = 600
    gens: dict[str, Tensor] = {}
    for g in GAN_TRACK:
        run = root / "runs" / g
        export = run / "export" / "model.safetensors"
        want = {"steps": opt.gan_steps, "seed": opt.seed}
        if not (export.is_file() and _run_matches(run, want)):
            if run.exists():
                shutil.rmtree(run)
            cfg = build_run_config(g, overrides=[
                "data.name=mnist", "data.image_size=32", f"train.steps={opt.gan_steps}", f"train.seed={opt.seed}",
                f"train.threads={opt.threads}", "train.sample_every=1000000", "train.checkpoint_every=1000000",
            ])  # fmt: skip
            t = time.perf_counter()
            Trainer(cfg, run, progress=runner.progress, console=runner.console, tensorboard=False,
                    command=f"deepfake-lab bench eval (gan-track {g})").fit()  # fmt: skip
            (run / "bench-eval-run.json").write_text(json.dumps(want) + "\n")
            runner.timings[f"gan-track-{g}"] = round(time.perf_counter() - t, 1)
        net = load_exported(export)[0].eval()
        gens[g] = (sample_images(net, 2 * n, seed=opt.seed) * 255).round().to(torch.uint8)
    for g, st in shipped_mnist_generators().items():  # test-only generators someone else trained
        gens[g] = (sample_images(load_exported(st)[0].eval(), 2 * n, seed=opt.seed) * 255).round().to(torch.uint8)
    real = load_dataset("mnist", "test", image_size=32).images
    perm = torch.randperm(len(real), generator=torch.Generator().manual_seed(opt.seed))
    real_train, real_test = real[perm[:n]], real[perm[n : 2 * n]]
    res: dict[str, Any] = {
        "generators": list(gens), "trained_on": list(GAN_TRACK), "real": "MNIST test images (32 px)", "n_per_class": n,
    }  # fmt: skip
    dets = [d for d in ("spectrum-lr", "meso4") if d]
    for det in dets:
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
            export = run / "export" / "model.safetensors"
            want_d = {"steps": opt.steps, "batch_size": opt.batch_size, "seed": opt.seed, "gan_steps": opt.gan_steps}
            if export.is_file() and _run_matches(run, want_d):
                model = load_exported(export)[0]
            else:
                if run.exists():
                    shutil.rmtree(run)
                over = [
                    f"data.name={folder}", "data.image_size=32", "data.channels=1", f"train.steps={opt.steps}",
                    f"train.batch_size={opt.batch_size}", f"train.threads={opt.threads}",
                    "task_kwargs.eval_degradations=false", "train.sample_every=1000000",
                    "train.checkpoint_every=1000000",
                ]  # fmt: skip
                cfg = build_run_config(det, overrides=over)
                t = time.perf_counter()
                tr = Trainer(cfg, run, progress=runner.progress, console=runner.console, tensorboard=False,
                             command=f"deepfake-lab bench eval (gan-track {det} on {g})")  # fmt: skip
                tr.fit()
                (run / "bench-eval-run.json").write_text(json.dumps(want_d) + "\n")
                runner.timings[f"gan-track-{det}-on-{g}"] = round(time.perf_counter() - t, 1)
                model = tr.model
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
def _summary(report: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = {}
    for det, r in report["detectors"].items():
        d = {"in_domain_auc": r["in_domain"]["auc"], "video_auc_mean": r["in_domain"]["video_auc_mean"]}
        bc = r["auc_by_compression"]
        if "c23" in bc and "c40" in bc:
            d["c23_to_c40_auc_drop"] = bc["c23"] - bc["c40"]
        if "leave_one_out_mean_auc" in r:
            d["leave_one_out_mean_auc"] = r["leave_one_out_mean_auc"]
            d["cross_method_mean_auc"] = r["cross_method_mean_auc"]
        if "evolution" in r:
            e = r["evolution"]
            for mode in ("naive", "replay"):
                d[f"evolution_{mode}_auc_new"] = e[mode]["auc_new"]
                d[f"evolution_{mode}_forgetting"] = e[mode]["forgetting"]
        s[det] = d
    return s


def _plots(report: dict[str, Any], out: Path, figures: dict[str, str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dets = report["detectors"]
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for det, r in dets.items():
        ax.plot(r["roc"]["fpr"], r["roc"]["tpr"], label=f"{det} (AUC {r['in_domain']['auc']:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="in-domain ROC (test split)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=110)
    plt.close(fig)
    figures["roc"] = "roc.png"
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
    for det, r in dets.items():
        bc = r["auc_by_compression"]
        crf = sorted((int(k[1:]), v) for k, v in bc.items() if k.startswith("c") and k[1:].isdigit())
        jq = sorted((int(k[4:]), v) for k, v in bc.items() if k.startswith("jpeg"))
        if crf:
            axes[0].plot([c for c, _ in crf], [v for _, v in crf], "o-", label=det)
        if jq:
            axes[1].plot([q for q, _ in jq], [v for _, v in jq], "o-", label=det)
    axes[0].set(
        xlabel="H.264 CRF", ylabel="AUC", title=f"AUC vs CRF (trained on {report['options']['train_compression']})"
    )
    axes[1].set(xlabel="JPEG quality", ylabel="AUC", title="AUC vs JPEG quality")
    axes[1].invert_xaxis()
    for a in axes:
        a.legend(fontsize=7)
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "quality.png", dpi=110)
    plt.close(fig)
    figures["quality"] = "quality.png"
    for det, r in dets.items():
        if "train_x_test_y" not in r:
            continue
        ms = list(r["train_x_test_y"])
        mat = np.array([[r["train_x_test_y"][a][b] for b in ms] for a in ms])
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
        im = axes[0].imshow(mat, vmin=0.5, vmax=1.0, cmap="viridis")
        axes[0].set_xticks(range(len(ms)), ms, rotation=30, ha="right", fontsize=7)
        axes[0].set_yticks(range(len(ms)), ms, fontsize=7)
        for i in range(len(ms)):
            for j in range(len(ms)):
                axes[0].text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7, color="w")
        axes[0].set(xlabel="test on", ylabel="train on", title=f"{det}: train-on-X / test-on-Y AUC")
        fig.colorbar(im, ax=axes[0], fraction=0.046)
        loo = r["leave_one_out"]
        axes[1].bar(range(len(loo)), list(loo.values()))
        axes[1].set_xticks(range(len(loo)), list(loo), rotation=30, ha="right", fontsize=7)
        axes[1].set(ylim=(0, 1), ylabel="AUC on the left-out method", title="leave-one-method-out")
        axes[1].axhline(0.5, color="k", ls=":", lw=0.8)
        fig.tight_layout()
        name = f"methods-{det.replace('/', '-')}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        figures[f"methods-{det}"] = name
        if "evolution" in r:
            e = r["evolution"]
            fig, ax = plt.subplots(figsize=(5, 3.4))
            labels = ["before", "naive", "replay"]
            new = [e["before"]["auc_new"], e["naive"]["auc_new"], e["replay"]["auc_new"]]
            old = [e["before"]["auc_old"], e["naive"]["auc_old"], e["replay"]["auc_old"]]
            xs = np.arange(3)
            ax.bar(xs - 0.2, new, 0.4, label=f"new ({e['new_method']})")
            ax.bar(xs + 0.2, old, 0.4, label="old methods")
            ax.set_xticks(xs, labels)
            ax.set(ylim=(0, 1), ylabel="AUC", title=f"{det}: adding a method")
            ax.legend(fontsize=7)
            fig.tight_layout()
            name = f"evolution-{det.replace('/', '-')}.png"
            fig.savefig(out / name, dpi=110)
            plt.close(fig)
            figures[f"evolution-{det}"] = name


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if v != v else f"{v:.3f}"
    return html.escape(str(v))


def _table(head: Sequence[str], body: Sequence[Sequence[Any]]) -> str:
    h = "".join(f"<th>{html.escape(str(c))}</th>" for c in head)
    b = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><tr>{h}</tr>{b}</table>"


def _html(report: dict[str, Any], figures: dict[str, str]) -> str:
    parts = [
        "<!doctype html><meta charset='utf-8'><title>deepfake-lab bench eval</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;"
        "margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}"
        "img{max-width:100%}</style>",
        f"<h1>Detection benchmark</h1><p>bench <code>{html.escape(report['bench'])}</code>; methods "
        f"{html.escape(', '.join(report['methods']))}; trained on {report['options']['train_compression']} "
        "(train split), "
        f"tested on the held-out test split; {report['seconds']:.0f} s, load average "
        f"{report['load_average_start'][0]:.1f} → {report['load_average_end'][0]:.1f}.</p>",
    ]
    dets = report["detectors"]
    keys = ["auc", "ap", "eer", "accuracy", "log_loss", "video_auc_mean", "video_auc_max", "video_auc_confident"]
    parts.append("<h2>In-domain (frame level; video level = one clip of one method)</h2>")
    parts.append(_table(["detector", *keys], [[d, *[r["in_domain"][k] for k in keys]] for d, r in dets.items()]))
    comps = report["compressions"]
    parts.append("<h2>Low quality: AUC by compression of the test images</h2>")
    parts.append(
        _table(
            ["detector", *comps],
            [[d, *[r["auc_by_compression"].get(c, float("nan")) for c in comps]] for d, r in dets.items()],
        )
    )
    for d, r in dets.items():
        if "train_x_test_y" in r:
            ms = list(r["train_x_test_y"])
            parts.append(
                f"<h2>{html.escape(d)}: many methods</h2><h3>train on X (rows) / test on Y (columns), AUC</h3>"
            )
            parts.append(_table(["train \\ test", *ms], [[a, *[r["train_x_test_y"][a][b] for b in ms]] for a in ms]))
            parts.append("<h3>leave-one-method-out: AUC on the left-out method</h3>")
            parts.append(
                _table([*r["leave_one_out"], "mean"], [[*r["leave_one_out"].values(), r["leave_one_out_mean_auc"]]])
            )
        if "evolution" in r:
            e = r["evolution"]
            parts.append(
                f"<h3>evolution: adding {html.escape(e['new_method'])} ({e['finetune_steps']} fine-tuning steps)</h3>"
            )
            nv, rp = e["naive"], e["replay"]
            body = [
                ["before (never saw it)", e["before"]["auc_new"], e["before"]["auc_old"], ""],
                ["naive fine-tuning", nv["auc_new"], nv["auc_old"], nv["forgetting"]],
                [f"replay buffer ({e['replay_per_method']}/method)", rp["auc_new"], rp["auc_old"], rp["forgetting"]],
            ]
            parts.append(_table(["", "AUC new", "AUC old", "forgetting"], body))
    if "gan_track" in report:
        g = report["gan_track"]
        parts.append("<h2>GAN-image track: real MNIST vs GAN samples, AP (train on row, test on column)</h2>")
        for det in ("spectrum-lr", "meso4"):
            if det in g:
                m = g[det]["ap_train_x_test_y"]
                cols = list(next(iter(m.values())))
                parts.append(
                    f"<h3>{det}</h3>" + _table(["train \\ test", *cols], [[a, *[m[a][b] for b in cols]] for a in m])
                )
    parts.append("<h2>Figures</h2>")
    for name, path in figures.items():
        parts.append(f"<h3>{html.escape(name)}</h3><img src='{html.escape(path)}' alt='{html.escape(name)}'>")
    return "\n".join(parts) + "\n"
