"""Run configuration: dataclasses <-> YAML, dotted overrides (`--set optim.lr=2e-4`), strict keys.

Example:
    >>> cfg = RunConfig(model="ae-dense")
    >>> cfg = apply_overrides(cfg, ["optim.lr=2e-4", "model_kwargs.latent_dim=16"])
    >>> cfg.optim.lr, cfg.model_kwargs["latent_dim"]
    (0.0002, 16)
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from deepfake_lab.errors import BadInputError


@dataclass
class DataConfig:
    name: str = "digits"  # built-in dataset name or an image folder
    image_size: int | None = None  # resize (folders default to 64)
    channels: int | None = None  # 1 or 3 for folders
    limit: int | None = None  # keep the first N training items


@dataclass
class OptimConfig:
    name: str = "adam"  # adam | adamw | sgd
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only
    scheduler: str = "none"  # none | cosine
    warmup_steps: int = 0
    grad_clip: float | None = None


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 64
    seed: int = 0
    precision: str = "fp32"  # fp32 | bf16 (autocast) | fp16 (CUDA only, autocast + grad scaling)
    channels_last: bool | None = None  # None: on for conv models under bf16
    device: str = "cpu"  # cpu | cuda | auto
    threads: int | None = None  # torch intra-op threads; None keeps torch's default
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 500


@dataclass
class RunConfig:
    model: str = "ae-dense"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    task: str | None = None  # None: the model's registered default task
    task_kwargs: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str | None = None  # run name; default <preset>-<data>-<timestamp>
    runs_dir: str = "runs"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRECISIONS = ("fp32", "bf16", "fp16")


def _check_type(value: Any, tp: Any, where: str) -> Any:
    """Validate (and gently coerce int->float) a YAML value against a dataclass field type."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for arg in typing.get_args(tp):
            try:
                return _check_type(value, arg, where)
            except BadInputError as exc:
                errors.append(str(exc))
        raise BadInputError(f"{where}: {value!r} is not a valid {tp}")
    if tp is type(None):
        if value is None:
            return None
        raise BadInputError(f"{where}: expected null, got {value!r}")
    if tp is Any:
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise BadInputError(f"{where}: expected a list, got {value!r}")
        (item_tp,) = typing.get_args(tp)[:1] or (Any,)
        return [_check_type(v, item_tp, where) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise BadInputError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is bool and not isinstance(value, bool):
        raise BadInputError(f"{where}: expected true/false, got {value!r}")
    if tp is int and isinstance(value, bool):
        raise BadInputError(f"{where}: expected an integer, got {value!r}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise BadInputError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise BadInputError(f"{where or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise BadInputError(f"unknown config key {where}{unknown[0]!r}; valid keys: {', '.join(sorted(names))}")
    kwargs = {}
    for key, value in data.items():
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = _build(tp, value or {}, f"{where}{key}.")
        else:
            kwargs[key] = _check_type(value, tp, f"{where}{key}")
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any]) -> RunConfig:
    """RunConfig from a plain mapping; unknown keys and wrong types are user errors."""
    cfg = _build(RunConfig, data, "")
    validate(cfg)
    return cfg


def validate(cfg: RunConfig) -> None:
    t = cfg.train
    if t.precision not in PRECISIONS:
        raise BadInputError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {t.precision!r}")
    if t.device not in ("cpu", "cuda", "auto"):
        raise BadInputError(f"train.device must be cpu, cuda or auto, got {t.device!r}")
    for key in ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every"):
        if getattr(t, key) < (0 if key == "steps" else 1):
            raise BadInputError(f"train.{key} must be positive, got {getattr(t, key)}")
    if t.steps > 10_000_000:
        raise BadInputError(f"train.steps={t.steps} is absurdly large")
    if cfg.optim.lr <= 0 or cfg.optim.lr > 10:
        raise BadInputError(f"optim.lr must be in (0, 10], got {cfg.optim.lr}")
    if cfg.optim.name not in ("adam", "adamw", "sgd"):
        raise BadInputError(f"optim.name must be adam, adamw or sgd, got {cfg.optim.name!r}")
    if cfg.optim.scheduler not in ("none", "cosine"):
        raise BadInputError(f"optim.scheduler must be none or cosine, got {cfg.optim.scheduler!r}")


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split `optim.lr=2e-4` into (["optim", "lr"], 0.0002); values are parsed as YAML."""
    if "=" not in item:
        raise BadInputError(f"override {item!r} must look like key.sub=value")
    key, raw = item.split("=", 1)
    path = [p for p in key.strip().split(".") if p]
    if not path:
        raise BadInputError(f"override {item!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and _looks_numeric(value):
        value = float(value)  # YAML 1.1 reads "2e-4" as a string
    return path, value


def _looks_numeric(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def apply_overrides(cfg: RunConfig, overrides: list[str]) -> RunConfig:
    """Apply dotted `key=value` overrides; returns a new, validated config."""
    data = cfg.to_dict()
    for item in overrides:
        path, value = parse_override(item)
        node = data
        for i, part in enumerate(path[:-1]):
            if not isinstance(node, dict) or part not in node:
                raise BadInputError(f"unknown config key {'.'.join(path[: i + 1])!r} in override {item!r}")
            if node[part] is None:
                node[part] = {}
            node = node[part]
        if not isinstance(node, dict):
            raise BadInputError(f"cannot set {item!r}: {'.'.join(path[:-1])} is not a mapping")
        node[path[-1]] = value
    return config_from_dict(data)


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise BadInputError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise BadInputError(f"config {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise BadInputError(f"config {path} must be a mapping")
    return data


def dump_yaml(cfg: RunConfig, path: Path) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def preset_names() -> dict[str, str]:
    """Shipped presets: name -> family (files `deepfake_lab/configs/<family>/<name>.yaml`)."""
    root = resources.files("deepfake_lab") / "configs"
    out = {}
    for fam in root.iterdir():
        if fam.is_dir():
            for f in fam.iterdir():
                if f.name.endswith(".yaml"):
                    out[f.name[: -len(".yaml")]] = fam.name
    return out


def load_preset(name: str) -> dict[str, Any] | None:
    """The shipped preset `name` as a mapping, or None if there is none."""
    fam = preset_names().get(name)
    if fam is None:
        return None
    text = (resources.files("deepfake_lab") / "configs" / fam / f"{name}.yaml").read_text()
    return yaml.safe_load(text) or {}
