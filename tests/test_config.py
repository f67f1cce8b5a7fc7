"""Config: presets, YAML, dotted overrides, strict keys and types."""

from __future__ import annotations

import pytest

from deepfake_lab.config import RunConfig, apply_overrides, config_from_dict, parse_override, preset_names
from deepfake_lab.errors import BadInputError
from deepfake_lab.models.catalogue import list_models
from deepfake_lab.train.run import build_run_config, run_dir_for


def test_overrides_parse_yaml_values():
    assert parse_override("optim.lr=2e-4") == (["optim", "lr"], 2e-4)
    assert parse_override("model_kwargs.hidden=[128, 32]") == (["model_kwargs", "hidden"], [128, 32])
    cfg = apply_overrides(RunConfig(), ["optim.lr=2e-4", "train.precision=bf16", "model_kwargs.latent_dim=16"])
    assert cfg.optim.lr == 2e-4 and cfg.train.precision == "bf16" and cfg.model_kwargs == {"latent_dim": 16}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lrr=1", "unknown config key"),
        ("train.steps=abc", "expected int"),
        ("train.precision=fp8", "precision"),
        ("train.batch_size=0", "batch_size"),
        ("optim.lr=0", "optim.lr"),
        ("nodot", "must look like"),
        ("train.steps=99999999999", "absurdly large"),
    ],
)
def test_bad_overrides_are_user_errors(override, message):
    with pytest.raises(BadInputError, match=message):
        apply_overrides(RunConfig(), [override])


def test_every_autoencoder_has_a_preset_that_resolves():
    presets = preset_names()
    for name in list_models("autoencoder"):
        assert name in presets, f"no preset for {name}"
        cfg = build_run_config(name)
        assert cfg.model == name
    with pytest.raises(BadInputError, match="unknown model or preset"):
        build_run_config("nope")


def test_config_file_and_round_trip(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model: ae-conv\ntrain:\n  steps: 7\n")
    cfg = build_run_config(None, config_file=f, overrides=["train.seed=3"])
    assert (cfg.model, cfg.train.steps, cfg.train.seed) == ("ae-conv", 7, 3)
    assert config_from_dict(cfg.to_dict()) == cfg
    f.write_text("model: [unclosed\n")
    with pytest.raises(BadInputError, match="not valid YAML"):
        build_run_config(None, config_file=f)


def test_run_names_are_plain_folder_names(tmp_path):
    cfg = RunConfig(name="../escape", runs_dir=str(tmp_path))
    with pytest.raises(BadInputError, match="run name"):
        run_dir_for(cfg, None)
    cfg = RunConfig(runs_dir=str(tmp_path))
    assert run_dir_for(cfg, "ae-dense").parent == tmp_path
