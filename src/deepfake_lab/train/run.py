"""From a command line's words to a resolved run: preset or model name, YAML file, overrides, run dir, and the
one place that completes a config with what its model and data determine (`resolve_run_config`)."""

from __future__ import annotations

import inspect
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from deepfake_lab.config import DataConfig, RunConfig, apply_overrides, config_from_dict, load_preset, load_yaml
from deepfake_lab.data.datasets import ImageDataset, load_dataset
from deepfake_lab.errors import BadInputError
from deepfake_lab.models.catalogue import list_models, model_entry
from deepfake_lab.train.tasks import check_task_data


def build_run_config(
    name: str | None, *, config_file: Path | None = None, overrides: list[str] | None = None
) -> RunConfig:
    """Resolve a run config: shipped preset `name` (or a bare model `name`), then a YAML file, then overrides.

    Args:
        name: a preset name (`deepfake-lab/configs/<family>/<name>.yaml`) or a registered model name.
        config_file: a user YAML whose keys override the preset.
        overrides: dotted `key=value` strings applied last.
    """
    data: dict = {}
    if name is not None:
        preset = load_preset(name)
        if preset is not None:
            data = preset
        elif name in list_models():
            data = {"model": name}
        else:
            raise BadInputError(f"unknown model or preset {name!r}; see `deepfake-lab models`")
    if config_file is not None:
        user = load_yaml(config_file)
        data = _deep_merge(data, user)
    if "model" not in data:
        raise BadInputError("no model given: name a model/preset or set `model:` in the config file")
    if data["model"] not in list_models():
        raise BadInputError(f"unknown model {data['model']!r}; see `deepfake-lab models`")
    cfg = config_from_dict(data)
    return apply_overrides(cfg, overrides or [])


def load_train_data(data: DataConfig) -> ImageDataset:
    """The training split that a run's `data` section names (what the Trainer trains on)."""
    return load_dataset(data.name, "train", image_size=data.image_size, channels=data.channels, limit=data.limit)


def resolve_task(cfg: RunConfig) -> RunConfig:
    """Set `cfg.task` to the model's registered default task when unset, and lay the config's `task_kwargs`
    over the model's `task_defaults`; in place, returns `cfg`. The first half of `resolve_run_config`."""
    entry = model_entry(cfg.model)
    cfg.task = cfg.task or entry.tags.get("task")
    if cfg.task is None:
        raise BadInputError(f"model {cfg.model!r} has no default task; set `task` in the config")
    cfg.task_kwargs = {**entry.tags.get("task_defaults", {}), **cfg.task_kwargs}
    return cfg


def fill_model_kwargs(cfg: RunConfig, data: ImageDataset) -> dict[str, Any]:
    """Model kwargs with what the data determines (shape, image size, channels, class count), where accepted."""
    kwargs = dict(cfg.model_kwargs)
    params = inspect.signature(model_entry(cfg.model).factory).parameters
    if "in_shape" in params and "in_shape" not in kwargs:
        kwargs["in_shape"] = list(data.shape)
    c, h, w = data.shape
    if "image_size" in params and "image_size" not in kwargs and h == w:
        kwargs["image_size"] = h
    if "in_channels" in params and "in_channels" not in kwargs:
        kwargs["in_channels"] = c
    if "n_classes" in params and "n_classes" not in kwargs and data.classes:
        kwargs["n_classes"] = len(data.classes)
    return kwargs


def resolve_run_config(cfg: RunConfig, train_data: ImageDataset | None = None) -> RunConfig:
    """Complete `cfg` into what the run trains with and its `config.yaml` holds (`train --dry-run` prints it).

    Preset, config file and overrides are `build_run_config`'s; this adds what the model and the data
    determine: the model's default task and task defaults (`resolve_task`), a check that the task can use the
    data, and the model kwargs the training data fixes (`fill_model_kwargs`: in_shape, image_size,
    in_channels, n_classes, unless set). The Trainer calls it too, so that library callers get the same; a
    resolved config comes back unchanged. Fills `cfg` in place (callers read it back) and returns it.

    Args:
        cfg: the config from `build_run_config` (or a run dir's config.yaml).
        train_data: the training split when already loaded; None loads it (`load_train_data`).
    """
    resolve_task(cfg)
    assert cfg.task is not None
    data = train_data if train_data is not None else load_train_data(cfg.data)
    check_task_data(cfg.task, data)
    cfg.model_kwargs = fill_model_kwargs(cfg, data)
    return cfg


def _deep_merge(base: dict, top: dict) -> dict:
    out = dict(base)
    for k, v in top.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def default_run_name(cfg: RunConfig, preset: str | None) -> str:
    data = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(cfg.data.name).name).strip("-") or "data"
    return f"{preset or cfg.model}-{data}-{datetime.now():%Y%m%d-%H%M%S}"


def run_dir_for(cfg: RunConfig, preset: str | None) -> Path:
    """`<runs_dir>/<name>`; the name must be a plain folder name."""
    name = cfg.name or default_run_name(cfg, preset)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name in (".", ".."):
        raise BadInputError(f"run name {name!r} may only use letters, digits, '.', '_' and '-'")
    cfg.name = name
    return Path(cfg.runs_dir) / name


def swap_faceset_overrides(faces_a: Path | None, faces_b: Path | None) -> list[str]:
    """`--faces-a A --faces-b B` as overrides: data.name=A, task_kwargs.faces_b=B, model_kwargs.crop_margin."""
    from deepfake_lab.data.faceset import faceset_margin, is_faceset

    out = []
    for flag, p in (("--faces-a", faces_a), ("--faces-b", faces_b)):
        if p is None:
            raise BadInputError(f"face-swap training needs both --faces-a and --faces-b ({flag} is missing)")
        if not is_faceset(p):
            raise BadInputError(f"{flag} {p} is not a faceset (no faces.jsonl; make one with `deepfake-lab extract`)")
    out += [f"data.name={faces_a}", f"task_kwargs.faces_b={faces_b}"]
    out.append(f"model_kwargs.crop_margin={faceset_margin(faces_a)}")  # type: ignore[arg-type]
    return out
