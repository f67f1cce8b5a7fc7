"""From a command line's words to a resolved run: preset or model name, YAML file, overrides, run dir."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from deepfake_lab.config import RunConfig, apply_overrides, config_from_dict, load_preset, load_yaml
from deepfake_lab.errors import BadInputError
from deepfake_lab.models.catalogue import list_models


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
