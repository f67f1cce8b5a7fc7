"""The one training loop. Every family trains through `Trainer`; tasks supply losses and phases.

Example:
    >>> from deepfake_lab.config import RunConfig, TrainConfig
    >>> cfg = RunConfig(model="ae-dense", train=TrainConfig(steps=20))
    >>> result = Trainer(cfg, run_dir="runs/doc-example", progress=False).fit()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import math
import random
import shlex
import signal
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from torch import Tensor, nn

from deepfake_lab.config import RunConfig, config_from_dict, dump_yaml
from deepfake_lab.data.datasets import BatchSampler, load_dataset
from deepfake_lab.data.splits import load_test_split
from deepfake_lab.errors import BadInputError, OptionError, Ref
from deepfake_lab.fsutil import remove_stale_temp
from deepfake_lab.imaging import make_grid, save_image, stack_grids
from deepfake_lab.models.catalogue import create_model, model_entry
from deepfake_lab.train import distributed as ddp
from deepfake_lab.train.checkpoint import (
    export_model,
    load_training_state,
    rng_state,
    save_training_state,
    set_rng_state,
)
from deepfake_lab.train.device import resolve_device
from deepfake_lab.train.logging import RunLogger, truncate_metrics
from deepfake_lab.train.run import load_train_data, resolve_run_config
from deepfake_lab.train.tasks import Task, create_task

CHECKPOINT_NAME = "checkpoints/last.pt"


class _StopOnCtrlC:
    """Ctrl-C during `fit` as a request checked between steps.

    The first SIGINT only sets `requested`; the loop stops at the end of the current step, saves a checkpoint
    and raises `TrainingInterrupted`. A KeyboardInterrupt raised at an arbitrary bytecode could land inside a
    library call holding a lock or half way through a queue operation (TensorBoard's event writer right after
    a metrics line is written, say), and the checkpoint + close that follow then waited on it: the process
    hung after Ctrl-C on a loaded machine. A second SIGINT raises KeyboardInterrupt at once (for a step that
    takes too long). Only the main thread can own signal handlers; elsewhere the default behaviour stays.
    """

    def __init__(self) -> None:
        self.requested = False
        self._installed = False
        self._previous: Any = None

    def install(self) -> _StopOnCtrlC:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        except ValueError:  # not the main thread
            pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False


class TrainingInterrupted(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised after Ctrl-C once the checkpoint is safely written."""

    def __init__(self, run_dir: Path, step: int) -> None:
        super().__init__(f"interrupted at step {step}; checkpoint saved in {run_dir}")
        self.run_dir, self.step = run_dir, step


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    steps_per_second: float
    eval: dict[str, float] = field(default_factory=dict)
    export: Path | None = None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_optimizer(
    params: list[nn.Parameter], cfg: RunConfig, *, lr: float | None = None, betas: list[float] | None = None
) -> torch.optim.Optimizer:
    """The optimizer `cfg.optim` names; `lr`/`betas` (a task's per-optimizer settings) override the config."""
    o = cfg.optim
    lr = o.lr if lr is None else float(lr)
    b = tuple(o.betas if betas is None else betas)
    if o.name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=b, weight_decay=o.weight_decay)
    if o.name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=b, weight_decay=o.weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=o.momentum, weight_decay=o.weight_decay)


def build_scheduler(opt: torch.optim.Optimizer, cfg: RunConfig) -> torch.optim.lr_scheduler.LambdaLR:
    warm, total, kind = cfg.optim.warmup_steps, max(1, cfg.train.steps), cfg.optim.scheduler

    def factor(step: int) -> float:
        if warm and step < warm:
            return (step + 1) / warm
        if kind == "cosine":
            t = min(1.0, (step - warm) / max(1, total - warm))
            return 0.5 * (1 + math.cos(math.pi * t))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


class Trainer:
    """Runs a task's phases for `cfg.train.steps` steps with logging, previews, checkpoints and export.

    Args:
        cfg: the run configuration; completed in place by `train.run.resolve_run_config` (what config.yaml holds).
        run_dir: where config.yaml, metrics.jsonl, tb/, samples/, checkpoints/ and export/ go.
        progress: show a rich progress bar with ETA.
        console: rich console for messages.
        tensorboard: also write TensorBoard events.
        command: the command line recorded in the model card.
    """

    def __init__(
        self,
        cfg: RunConfig,
        run_dir: Path | str,
        *,
        progress: bool = True,
        console: Console | None = None,
        tensorboard: bool = True,
        command: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.show_progress = progress
        self.console = console or Console(stderr=True)
        self.tensorboard = tensorboard
        self.command = command or shlex.join(["deepfake-lab", *sys.argv[1:]])
        t = cfg.train
        self.device = resolve_device(t.device)
        self.dist = ddp.init_distributed(self.device.type)
        if self.device.type == "cuda" and self.dist.enabled:
            self.device = torch.device("cuda", self.dist.local_rank)
        if t.precision == "fp16" and self.device.type != "cuda":
            raise OptionError(Ref("precision"), " fp16 needs a CUDA device; on CPU use bf16")
        if self.dist.enabled:
            # Every rank must write into the same run dir (default names carry a timestamp).
            self.run_dir = Path(ddp.broadcast_object(str(self.run_dir)))
            cfg.name = ddp.broadcast_object(cfg.name)
            if t.batch_size % self.dist.world_size:
                raise BadInputError(
                    f"batch size {t.batch_size} is the global batch and must divide by the {self.dist.world_size} "
                    "processes"
                )
        if t.threads:
            torch.set_num_threads(t.threads)
        seed_everything(t.seed)

        d = cfg.data
        self.train_data = load_train_data(d)
        self.eval_data = load_test_split(
            load_dataset, d.name, fallback=self.train_data, image_size=d.image_size, channels=d.channels
        )
        resolve_run_config(cfg, self.train_data)
        assert cfg.task is not None
        entry = model_entry(cfg.model)
        self.family = entry.family
        self.model = create_model(cfg.model, **cfg.model_kwargs)
        self.is_conv = bool(entry.tags.get("conv", False))
        self.channels_last = (
            t.channels_last if t.channels_last is not None else (self.is_conv and t.precision == "bf16")
        )
        self.task: Task = create_task(cfg.task, self.model, **cfg.task_kwargs)
        for net in self.task.nets.values():
            net.to(self.device)
            ddp.broadcast_module(net)
            if self.channels_last:
                net.to(memory_format=torch.channels_last)
        groups = self.task.parameter_groups()
        settings = self.task.optimizer_settings()
        self.optimizers = {k: build_optimizer(v, cfg, **settings.get(k, {})) for k, v in groups.items()}
        self.schedulers = {k: build_scheduler(o, cfg) for k, o in self.optimizers.items()}
        self.scalers = (
            {k: torch.amp.GradScaler("cuda") for k in self.optimizers} if t.precision == "fp16" else {}
        )
        # One global sampler on every rank (same seed, same permutation); each rank takes its slice of the
        # global batch, so N processes see exactly the batches one process would, and resume works across a
        # change of world size.
        self.sampler = BatchSampler(len(self.train_data), t.batch_size, seed=t.seed)
        self._has_buffers = any(True for net in self.task.nets.values() for _ in net.buffers())
        self.step = 0
        self.logger: RunLogger | None = None
        self.card_extra: dict[str, Any] = {}  # merged into the exported card (e.g. a face swap's crop policy)
        g = torch.Generator().manual_seed(1234)
        n_eval = min(len(self.eval_data), 512)
        self.eval_batch = self.eval_data.batch(torch.randperm(len(self.eval_data), generator=g)[:n_eval])

    # ---------------------------------------------------------------- state
    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / CHECKPOINT_NAME

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "model": self.cfg.model,
            "model_kwargs": self.cfg.model_kwargs,
            "config": self.cfg.to_dict(),
            "nets": {k: v.state_dict() for k, v in self.task.nets.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "scalers": {k: s.state_dict() for k, s in self.scalers.items()},
            "sampler": self.sampler.state_dict(),
            "task": self.task.state_dict(),
            "rng": rng_state(),
            "world_size": self.dist.world_size,
        }

    def save_checkpoint(self, *, collective: bool = True) -> Path:
        """Rank 0 writes the training state; with `collective`, every rank's RNG state goes in too."""
        ranks_rng = ddp.gather_objects(rng_state()) if collective and self.dist.enabled else None
        if self.dist.is_main:
            state = self.state_dict()
            if ranks_rng is not None:
                state["rng_ranks"] = ranks_rng
            save_training_state(self.checkpoint_path, state)
        return self.checkpoint_path

    def load_checkpoint(self, path: Path | None = None) -> None:
        state = load_training_state(path or self.checkpoint_path)
        if state["model"] != self.cfg.model:
            raise BadInputError(f"checkpoint is for model {state['model']!r}, not {self.cfg.model!r}")
        try:
            for k, net in self.task.nets.items():
                net.load_state_dict(state["nets"][k])
            for k, o in self.optimizers.items():
                o.load_state_dict(state["optimizers"][k])
            for k, s in self.schedulers.items():
                s.load_state_dict(state["schedulers"][k])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise BadInputError(f"checkpoint does not match this run's model/optimizers: {str(exc)[:200]}") from None
        for k, s in self.scalers.items():
            if k in state.get("scalers", {}):
                s.load_state_dict(state["scalers"][k])
        self.sampler.load_state_dict(state["sampler"])
        self.task.load_state_dict(state["task"])
        self.step = int(state["step"])
        ranks_rng = state.get("rng_ranks")
        if not self.dist.enabled:
            set_rng_state(state["rng"])
        elif ranks_rng is not None and len(ranks_rng) == self.dist.world_size:
            set_rng_state(ranks_rng[self.dist.rank])
        else:  # another world size (or an interrupted save): a fresh, distinct stream per rank
            seed_everything(self.cfg.train.seed * 100_003 + self.step * 101 + self.dist.rank)

    def _seed_ranks(self) -> None:
        """Distinct random streams per rank (noise, augmentation) once the nets are identical."""
        if self.dist.enabled:
            seed_everything(self.cfg.train.seed * 100_003 + self.dist.rank)

    # ---------------------------------------------------------------- loop
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.cfg.train.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        if self.cfg.train.precision == "fp16":
            return torch.autocast(self.device.type, dtype=torch.float16)
        return contextlib.nullcontext()

    def _local_batch(self) -> Tensor:
        idx = self.sampler.next()
        if self.dist.enabled:
            idx = idx.tensor_split(self.dist.world_size)[self.dist.rank]
        return idx

    def prepare(self) -> None:
        """Nets in training mode and the task set up on the training set: what `fit` does before its first step,
        for callers that drive `train_step()` themselves (the speed benchmarks)."""
        for net in self.task.nets.values():
            net.train()
        self.task.setup(self.train_data)

    def train_step(self) -> dict[str, float]:
        """One step: every phase of the task, each with its own optimizer."""
        batch = self.train_data.batch(self._local_batch()).to(self.device, self.channels_last)
        logs: dict[str, float] = {}
        phases = self.task.phases(self.step)
        for phase in phases:
            opt = self.optimizers[phase.optimizer]
            opt.zero_grad(set_to_none=True)
            with self._autocast():
                out = phase.loss(batch)
            loss = out["loss"]
            if ddp.any_rank(not bool(torch.isfinite(loss))):
                raise BadInputError(f"loss became {loss.item()} at step {self.step} (phase {phase.name}); lower the lr")
            scaler = self.scalers.get(phase.optimizer)
            (scaler.scale(loss) if scaler else loss).backward()
            params = [p for grp in opt.param_groups for p in grp["params"]]
            ddp.average_gradients(params)
            if self.cfg.optim.grad_clip:
                if scaler:
                    scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(params, self.cfg.optim.grad_clip)
            if scaler:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            self.schedulers[phase.optimizer].step()
            prefix = f"{phase.name}/" if len(phases) > 1 else ""
            for k, v in out.items():
                logs[prefix + k] = float(v.detach())
        if self.dist.enabled and self._has_buffers:
            for net in self.task.nets.values():
                ddp.broadcast_module(net, buffers_only=True)
        self.step += 1
        return logs

    @torch.no_grad()
    def preview(self) -> Path | None:
        """Write samples/step_XXXXXX.png (and TensorBoard images) without touching the training RNG."""
        for net in self.task.nets.values():
            net.eval()
        with torch.random.fork_rng(devices=[]), self._autocast():
            torch.manual_seed(0)
            grids = self.task.samples(self.eval_batch.to(self.device))
        for net in self.task.nets.values():
            net.train()
        if not grids:
            return None
        tiles = [make_grid(g.float(), nrow=8) for g in grids.values()]
        grid = stack_grids(tiles)
        path = save_image(grid, self.run_dir / "samples" / f"step_{self.step:06d}.png")
        save_image(grid, self.run_dir / "samples" / "latest.png")  # the preview to keep open while training
        if self.logger is not None:
            for (name, _), tile in zip(grids.items(), tiles, strict=False):
                self.logger.image(name, tile, self.step)
        return path

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        for net in self.task.nets.values():
            net.eval()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            out = self.task.evaluate(self.eval_batch.to(self.device))
        for net in self.task.nets.values():
            net.train()
        return out

    def export(self, metrics: dict[str, float] | None = None) -> Path:
        net = self.task.nets[self.task.main_net]
        card = {
            "input": {"shape": list(self.train_data.shape), "range": [0.0, 1.0], "mean": [0.0], "std": [1.0]},
            "training": {
                "data": self.cfg.data.name,
                "items": len(self.train_data),
                "steps": self.step,
                "task": self.cfg.task,
                "task_kwargs": self.cfg.task_kwargs,
                "precision": self.cfg.train.precision,
                "command": self.command,
            },
            "metrics": metrics or {},
        }
        for k, v in self.card_extra.items():
            card[k] = {**card[k], **v} if isinstance(v, dict) and isinstance(card.get(k), dict) else v
        st, _ = export_model(
            net.to(memory_format=torch.contiguous_format),
            self.run_dir / "export",
            model_name=self.cfg.model,
            model_kwargs=self.cfg.model_kwargs,
            family=self.family,
            card=card,
        )
        if self.channels_last:
            net.to(memory_format=torch.channels_last)
        return st

    def fit(self, resume: bool = False) -> TrainResult:
        """Train until `cfg.train.steps`; Ctrl-C saves a checkpoint and raises TrainingInterrupted."""
        t = self.cfg.train
        main = self.dist.is_main
        if resume:
            self.load_checkpoint()
        elif self.checkpoint_path.exists():
            raise BadInputError(f"{self.run_dir} already holds a run; use --resume or another --name")
        else:
            self._seed_ranks()
        if main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            for folder in ("checkpoints", "export"):  # leftovers of a process killed mid-save
                remove_stale_temp(self.run_dir / folder)
            if resume:  # steps logged after the checkpoint are trained again: log each step once
                truncate_metrics(self.run_dir, self.step)
            dump_yaml(self.cfg, self.run_dir / "config.yaml")
            self.logger = RunLogger(self.run_dir, tensorboard=self.tensorboard)
        self.prepare()
        acc: dict[str, list[float]] = defaultdict(list)
        start_step, t0 = self.step, time.perf_counter()
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=self.console,
            disable=not (self.show_progress and main),
            transient=False,
        )
        stop = _StopOnCtrlC().install()  # before the first metrics line, which tests take as the readiness signal
        try:
            with progress:
                bar = progress.add_task(f"train {self.cfg.model}", total=t.steps, completed=self.step, info="")
                while self.step < t.steps and self.task.phases(self.step):
                    logs = self.train_step()
                    for k, v in logs.items():
                        acc[k].append(v)
                    if self.step % t.log_every == 0 or self.step == t.steps:
                        means = ddp.mean_scalars({k: float(np.mean(v)) for k, v in acc.items()})
                        means["lr"] = (
                            self.schedulers[next(iter(self.schedulers))].get_last_lr()[0] if self.schedulers else 0.0
                        )
                        if self.logger is not None:
                            self.logger.log(self.step, means, time=round(time.perf_counter() - t0, 3))
                        acc.clear()
                        shown = [k for k in means if k == "loss" or k.endswith("/loss")]
                        progress.update(bar, info=" ".join(f"{k} {means[k]:.4g}" for k in shown))
                    if self.step % t.sample_every == 0 and main:
                        self.preview()
                    if self.step % t.checkpoint_every == 0:
                        self.save_checkpoint()
                    progress.update(bar, completed=self.step)
                    if ddp.any_rank(stop.requested):  # every rank stops after the same step
                        raise KeyboardInterrupt
        except KeyboardInterrupt:
            # No collectives here: another rank may already be gone. Rank 0's state is complete; other
            # ranks' random streams are re-derived on resume.
            self.save_checkpoint(collective=False)
            if self.logger is not None:
                self.logger.close()
            raise TrainingInterrupted(self.run_dir, self.step) from None
        finally:
            stop.restore()
        elapsed = time.perf_counter() - t0
        sps = (self.step - start_step) / elapsed if self.step > start_step else 0.0
        self.save_checkpoint()
        if not main:
            ddp.barrier()  # wait for rank 0's evaluation and export
            return TrainResult(self.run_dir, self.step, sps, {}, None)
        metrics = self.evaluate()
        self.preview()
        metrics_line = {**metrics, "steps_per_second": round(sps, 3), "processes": self.dist.world_size}
        assert self.logger is not None
        self.logger.log(self.step, metrics_line, time=round(elapsed, 3))
        self.logger.close()
        self.logger = None
        export = self.export(metrics)
        ddp.barrier()
        return TrainResult(self.run_dir, self.step, sps, metrics, export)


def resume_config(run_dir: Path) -> RunConfig:
    """The resolved config saved in a run dir."""
    from deepfake_lab.config import load_yaml

    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        raise BadInputError(f"{run_dir} is not a run dir (no config.yaml)")
    return config_from_dict(load_yaml(path))
