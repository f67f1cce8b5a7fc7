"""One place resolves a run's config: `train --dry-run` prints exactly what the run's config.yaml holds."""

from __future__ import annotations

import copy

import pytest
import yaml

from deepfake_lab.train.run import build_run_config, resolve_run_config
from support.cli import run_cli


@pytest.mark.parametrize("preset", ["ae-sparse", "cgan-mlp", "dcgan-32"])
def test_dry_run_prints_the_config_yaml_of_the_run(preset, tmp_path, capsys) -> None:
    args = ["train", preset, "--data", "digits", "--steps", "1", "-b", "8", "--runs-dir", tmp_path, "--name", "r",
            "--no-progress", "--set", "train.precision=fp32"]  # fmt: skip
    code, dry, err = run_cli([*args, "--dry-run"], capsys)
    assert code == 0, err
    printed = yaml.safe_load(dry)
    assert printed["task"] is not None and printed["model_kwargs"]  # the task and data-given kwargs are there
    assert not (tmp_path / "r").exists()  # a dry run writes nothing
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    assert printed == yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())


def test_resolve_run_config_fills_task_and_model_kwargs_once() -> None:
    cfg = build_run_config("ae-sparse", overrides=["data.name=digits"])
    assert cfg.task is None and "in_shape" not in cfg.model_kwargs
    resolved = resolve_run_config(cfg)
    assert resolved is cfg and cfg.task == "autoencoder" and cfg.model_kwargs["in_shape"] == [1, 8, 8]
    assert cfg.task_kwargs["sparsity_beta"] > 0  # the model's task defaults
    again = resolve_run_config(copy.deepcopy(cfg))
    assert again.to_dict() == cfg.to_dict()  # resolving a resolved config changes nothing
