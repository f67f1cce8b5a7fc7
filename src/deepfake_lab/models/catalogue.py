"""The full model catalogue: importing this module registers every model family, then builds models by name.

Example:
    >>> from deepfake_lab.models.catalogue import create_model, list_models
    >>> model = create_model("ae-dense", in_shape=(1, 8, 8), latent_dim=8)
    >>> "ae-dense" in list_models("autoencoder")
    True
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from deepfake_lab.errors import BadInputError
from deepfake_lab.models import (
    SIZES_FILE,
    autoencoders,  # noqa: F401  (one import line per family registers its models)
    detectors,  # noqa: F401
    gans,  # noqa: F401
    swap,  # noqa: F401
)
from deepfake_lab.registry import MODELS, Entry


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model `name` with keyword arguments; unknown arguments are a user error."""
    entry = MODELS.get(name)
    sig = inspect.signature(entry.factory)
    accepts_var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    unknown = [k for k in kwargs if k not in sig.parameters]
    if unknown and not accepts_var_kw:
        valid = ", ".join(sig.parameters)
        raise BadInputError(f"model {name!r} has no argument(s) {', '.join(unknown)}; valid: {valid}")
    try:
        return entry.factory(**kwargs)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"cannot build model {name!r}: {exc}") from None


def model_entry(name: str) -> Entry[nn.Module]:
    """The registry entry (factory, family, tags) of model `name`; unknown names are a user error."""
    return MODELS.get(name)


def list_models(family: str | None = None) -> list[str]:
    """Names of registered models, optionally of one family."""
    return MODELS.names(family)


def _factory_input(factory: Callable[..., Any]) -> list[int] | None:
    """[C, H, W] a factory builds for by default, from its `in_shape` or `image_size` (+ `in_channels`)."""
    params = inspect.signature(factory).parameters
    if "in_shape" in params and params["in_shape"].default is not inspect.Parameter.empty:
        return [int(v) for v in params["in_shape"].default]
    if "image_size" in params and params["image_size"].default is not inspect.Parameter.empty:
        size = int(params["image_size"].default)
        ch = params.get("in_channels")
        c = int(ch.default) if ch is not None and ch.default is not inspect.Parameter.empty else 3
        return [c, size, size]
    return None


def measure_model_sizes() -> dict[str, dict[str, Any]]:
    """Per registered model: parameters and input shape when built with its factory's defaults (builds every
    model, ~2 s). `deepfake_lab.models.infos.model_sizes()` reads the stored copy of this (tests keep them
    equal)."""
    out: dict[str, dict[str, Any]] = {}
    for e in MODELS:
        net = e.factory()
        out[e.name] = {"params": int(sum(p.numel() for p in net.parameters())), "input": _factory_input(e.factory)}
    return out


def write_model_sizes(path: Path = SIZES_FILE) -> Path:
    """Store `measure_model_sizes()` as JSON (run after adding or changing a model)."""
    sizes = measure_model_sizes()
    lines = [f"  {json.dumps(k)}: {json.dumps(sizes[k], sort_keys=True)}" for k in sorted(sizes)]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    return path
