"""`bench eval`'s machinery: benchmark images as tensors, detector predictions, and training runs.

Detectors are trained with the one Trainer on folders of hard links into the benchmark (train split only);
every finished run is recorded beside its export, so a re-run with the same options reuses it (an
interrupted evaluation resumes).

Example:
    >>> from deepfake_lab.pipelines.bench.runner import load_images, predict  # doctest: +SKIP
    >>> p = predict(model, load_images(bench, rows, 64))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from rich.console import Console
from torch import Tensor, nn

from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines.bench.manifest import ManifestRow

if TYPE_CHECKING:
    from deepfake_lab.config import RunConfig
    from deepfake_lab.pipelines.bench.evaluate import EvalOptions

__all__ = ["Runner", "TestSets", "is_cnn", "load_images", "predict"]

RUN_RECORD = "bench-eval-run.json"  # the options a finished run was trained with


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


class TestSets:
    """Test images per compression level, loaded once."""

    __test__ = False  # not a pytest test class

    def __init__(self, root: Path, rows: list[ManifestRow], size: int) -> None:
        self.root, self.size = root, size
        self.by_comp: dict[str, list[ManifestRow]] = defaultdict(list)
        for r in rows:
            if r.split == "test":
                self.by_comp[r.compression].append(r)
        self._cache: dict[str, Tensor] = {}

    def get(self, comp: str) -> tuple[list[ManifestRow], Tensor]:
        """(rows, uint8 images [N, 3, S, S]) of the test split at compression `comp`."""
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


def is_cnn(detector: str) -> bool:
    """Whether a detector preset or model is trained by gradient steps (else: a closed-form fit)."""
    from deepfake_lab.config import load_preset
    from deepfake_lab.models.catalogue import model_entry

    preset = load_preset(detector)
    model = preset.get("model", detector) if preset else detector
    return model_entry(model).tags.get("task") == "detection"


# ---------------------------------------------------------------- training through the one Trainer
class Runner:
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
        """Train-split rows at `comp` (default: the training compression): reals + fakes of `methods` (None: all)."""
        comp = comp or self.opt.train_compression
        return [
            r for r in self.rows
            if r.split == "train" and r.compression == comp and (r.label == 0 or methods is None or r.method in methods)
        ]  # fmt: skip

    def reuse(self, run: Path, want: dict[str, Any]) -> nn.Module | None:
        """The exported model of `run` if it finished with the options `want`; else None (the stale run is removed)."""
        from deepfake_lab.train.checkpoint import load_exported

        export = run / "export" / "model.safetensors"
        if export.is_file() and _run_matches(run, want):
            return load_exported(export)[0]
        if run.exists():
            shutil.rmtree(run)
        return None

    def fit(
        self, cfg: RunConfig, run: Path, want: dict[str, Any], key: str, *, label: str | None = None,
        init: nn.Module | None = None,
    ) -> nn.Module:  # fmt: skip
        """Train `cfg` into `run` (from `init`'s weights when given); records `want` and the time under `key`.

        `label` (default `key`) names the run in the command line its config records.
        """
        from deepfake_lab.train.trainer import Trainer

        t = time.perf_counter()
        trainer = Trainer(cfg, run, progress=self.progress, console=self.console, tensorboard=False,
                          command=f"deepfake-lab bench eval ({label or key})")  # fmt: skip
        if init is not None:
            trainer.model.load_state_dict(init.state_dict())
        trainer.fit()
        (run / RUN_RECORD).write_text(json.dumps(want) + "\n")
        self.timings[key] = round(time.perf_counter() - t, 1)
        return trainer.model

    def train(
        self, name: str, detector: str, rows: Sequence[ManifestRow], *, steps: int | None = None,
        init: nn.Module | None = None, lr: float | None = None,
    ) -> nn.Module:  # fmt: skip
        """Train `detector` on `rows` (or load the finished run `name`); returns the model in eval mode."""
        from deepfake_lab.models.catalogue import model_entry
        from deepfake_lab.train.run import build_run_config

        run = self.out / "runs" / name
        o = self.opt
        want = {"steps": steps or o.steps, "batch_size": o.batch_size, "seed": o.seed, "image_size": o.image_size,
                "lr": lr or o.lr, "detector": detector, "methods": sorted({r.method for r in rows}),
                "images": len(rows)}  # fmt: skip
        done = self.reuse(run, want)
        if done is not None:
            return done
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
        if (cfg.task or model_entry(cfg.model).tags.get("task")) == "detection":
            cfg.task_kwargs = {**cfg.task_kwargs, "pos_weight": round(n_real / n_fake, 4), "eval_degradations": False}
        else:
            cfg.task_kwargs = {**cfg.task_kwargs, "eval_degradations": False}
        model = self.fit(cfg, run, want, name, init=init)
        shutil.rmtree(data, ignore_errors=True)
        return model.eval()


def _run_matches(run: Path, want: dict[str, Any]) -> bool:
    """Whether a finished run was trained with the options `want` (else it is trained again)."""
    try:
        return json.loads((run / RUN_RECORD).read_text()) == json.loads(json.dumps(want))
    except (OSError, json.JSONDecodeError):
        return False
