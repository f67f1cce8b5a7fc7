"""Shared fixtures: small, real data (sklearn digits ship with scikit-learn)."""

from __future__ import annotations

import os

import pytest
import torch

from deepfake_lab.config import DataConfig, OptimConfig, RunConfig, TrainConfig
from deepfake_lab.train.trainer import Trainer


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture(scope="session", autouse=True)
def _provenance_home(tmp_path_factory: pytest.TempPathFactory):
    """Signing keys made by tests go to a temporary home, never the user's ~/.config (subprocesses inherit it)."""
    old = os.environ.get("DEEPFAKE_LAB_HOME")
    os.environ["DEEPFAKE_LAB_HOME"] = str(tmp_path_factory.mktemp("dfl-home"))
    yield
    if old is None:
        os.environ.pop("DEEPFAKE_LAB_HOME", None)
    else:
        os.environ["DEEPFAKE_LAB_HOME"] = old


@pytest.fixture
def train_quick(tmp_path):
    """Train a model on digits through the one Trainer; returns (trainer, result)."""
    counter = iter(range(10**6))

    def _train(
        model: str,
        *,
        steps: int,
        model_kwargs=None,
        task_kwargs=None,
        lr=1e-3,
        batch_size=64,
        seed=0,
        scheduler="none",
        data="digits",
        **train_kw,
    ):
        cfg = RunConfig(
            model=model,
            model_kwargs=model_kwargs or {},
            task_kwargs=task_kwargs or {},
            data=DataConfig(name=data),
            optim=OptimConfig(lr=lr, scheduler=scheduler),
            train=TrainConfig(
                steps=steps,
                batch_size=batch_size,
                seed=seed,
                sample_every=10**6,
                checkpoint_every=10**6,
                log_every=100,
                **train_kw,
            ),
        )
        trainer = Trainer(cfg, tmp_path / f"run{next(counter)}", progress=False, tensorboard=False)
        return trainer, trainer.fit()

    return _train
