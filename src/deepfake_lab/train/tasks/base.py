"""What every training task is: `Task` (nets + optimizer phases + hooks), `Phase`, and the task registry.

A task owns its nets (what checkpoints and exports save) and exposes `phases(step)`: each phase names an
optimizer and a loss callable returning `{"loss": tensor, **logs}`. A GAN task has a D phase and a G
phase; an autoencoder task has one; a task with no phases (PCA) does its work in `setup`.

Each task module of this package registers its classes with `@register_task`; importing the package
(`deepfake_lab.train.tasks`) imports every task module, so `TASKS` is complete whenever this module is used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from deepfake_lab.data.datasets import Batch, ImageDataset
from deepfake_lab.errors import BadInputError
from deepfake_lab.registry import Registry

LossFn = Callable[[Batch], dict[str, Tensor]]


@dataclass
class Phase:
    """One optimisation step inside a training step: `loss(batch)` then a step of `optimizer`."""

    name: str
    optimizer: str
    loss: LossFn


class Task:
    """Base class. Subclasses set `self.nets` and implement `phases` (and optionally the hooks)."""

    nets: dict[str, nn.Module]
    main_net: str = "model"

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Optimizer name -> parameters (one optimizer per name)."""
        return {"main": [p for net in self.nets.values() for p in net.parameters() if p.requires_grad]}

    def optimizer_settings(self) -> dict[str, dict[str, Any]]:
        """Per-optimizer overrides of `optim.lr` / `optim.betas`: name -> {"lr": ..., "betas": [...]}."""
        return {}

    def phases(self, step: int) -> list[Phase]:
        raise NotImplementedError

    @classmethod
    def check_data(cls, data: ImageDataset) -> None:
        """Reject a training set this task cannot use, before any model is built (raise BadInputError)."""

    def setup(self, data: ImageDataset) -> None:
        """Called once with the training set before the first step (fresh runs and resumes)."""

    def samples(self, batch: Batch) -> dict[str, Tensor]:
        """Named image grids rows for previews: name -> float [N, C, H, W] in [0, 1]."""
        return {}

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        """Held-out metrics on a batch (the trainer logs them at the end)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


TASKS: Registry[Task] = Registry("task")


def register_task(name: str, *, family: str, **tags: Any) -> Callable[[type[Task]], type[Task]]:
    """Register a task class: `@register_task("gan", family="gan")` (like `@register_model`)."""
    return TASKS.register(name, family=family, **tags)  # type: ignore[return-value]


def list_tasks(family: str | None = None) -> list[str]:
    """Names of the registered tasks, optionally of one model family."""
    return TASKS.names(family)


def check_task_data(name: str, data: ImageDataset) -> None:
    """Let task `name` reject `data` before the model is built (clear message instead of a shape error)."""
    factory = TASKS.get(name).factory
    if isinstance(factory, type) and issubclass(factory, Task):
        factory.check_data(data)


def create_task(name: str, model: nn.Module, **kwargs: Any) -> Task:
    """Build the registered task `name` around `model`; bad keyword arguments are user errors."""
    entry = TASKS.get(name)
    try:
        return entry.factory(model, **kwargs)
    except TypeError as exc:
        raise BadInputError(f"bad task option for {name!r}: {exc}") from None
