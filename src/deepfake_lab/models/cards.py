"""Model cards: the JSON beside exported `.safetensors` weights that says how to rebuild the model.

A card holds `kind` (`CARD_KIND`), `model` (registered name) and `model_kwargs`, plus input spec, training data
and metrics (written by `deepfake_lab.train.checkpoint.export_model`). Here: finding the weights + card of an
export, reading a card, and checking its `model_kwargs` before anything is built (a card is data from a file,
never trusted). Locating and reading need no torch.
"""

from __future__ import annotations

import inspect
import json
import math
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deepfake_lab.errors import BadInputError

CARD_KIND = "deepfake-lab/model"


def resolve_export(path: Path) -> tuple[Path, Path]:
    """Accept a run dir, an export dir, a .safetensors or a .json card; return (weights, card) paths."""
    path = Path(path)
    if path.is_dir():
        for cand in (path / "export" / "model.safetensors", path / "model.safetensors"):
            if cand.is_file():
                path = cand
                break
        else:
            raise BadInputError(f"no exported model in {path} (expected export/model.safetensors)")
    if path.suffix == ".json":
        st, card = path.with_suffix(".safetensors"), path
    else:
        st, card = path, path.with_suffix(".json")
    if not st.is_file():
        raise BadInputError(f"model weights not found: {st}")
    if not card.is_file():
        raise BadInputError(f"model card not found beside the weights: {card}")
    return st, card


def read_card(path: Path) -> dict[str, Any]:
    """The JSON model card at `path` (a dict with `kind` and `model`); anything else is a user error."""
    try:
        card = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise BadInputError(f"{path} is not a deepfake-lab model card") from None
    if not isinstance(card, dict) or card.get("kind") != CARD_KIND or "model" not in card:
        raise BadInputError(f"{path} is not a deepfake-lab model card")
    return card


# Sane bounds for the arguments of a model card (a card is data from a file, never trusted): checked before
# any model is built, so that `in_channels: 1e9` is one error line, not an attempt to allocate 288 GB.
CARD_INT_BOUNDS: dict[str, tuple[int, int]] = {
    "in_channels": (1, 64),
    "out_channels": (1, 64),
    "image_size": (8, 1024),
}
CARD_INT_RANGE = (0, 65_536)  # any other integer argument (widths, latent sizes, layer counts, classes)
CARD_FLOAT_BOUNDS: dict[str, tuple[float, float]] = {"dropout": (0.0, 1.0), "crop_margin": (0.0, 2.0)}
CARD_FLOAT_ABS_MAX = 1e4  # any other float argument (width/depth multipliers, mean/std values)
CARD_SEQ_MAX_LEN = 64
CARD_STR_MAX_LEN = 200
CARD_SHAPE_BOUNDS = ((1, 64), (1, 1024), (1, 1024))  # in_shape: channels, height, width


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_value(name: str, value: Any, hint: Any, where: str) -> None:
    """Raise BadInputError when `value` does not fit the annotation `hint` or the bounds for `name`."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return
        hints = [h for h in options if h is not type(None)]
        if len(hints) == 1:
            _check_value(name, value, hints[0], where)
        return
    bad = f"{where}: model argument {name}={_describe(value)}"
    if hint is bool:
        if not isinstance(value, bool):
            raise BadInputError(f"{bad} must be true or false")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadInputError(f"{bad} must be an integer")
        lo, hi = CARD_INT_BOUNDS.get(name, CARD_INT_RANGE)
        if not lo <= value <= hi:
            raise BadInputError(f"{bad} is out of range ({lo}..{hi})")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BadInputError(f"{bad} must be a finite number")
        lo_f, hi_f = CARD_FLOAT_BOUNDS.get(name, (-CARD_FLOAT_ABS_MAX, CARD_FLOAT_ABS_MAX))
        if not lo_f <= value <= hi_f:
            raise BadInputError(f"{bad} is out of range ({lo_f:g}..{hi_f:g})")
    elif hint is str:
        if not isinstance(value, str) or len(value) > CARD_STR_MAX_LEN:
            raise BadInputError(f"{bad} must be a short string")
    elif origin is not None and isinstance(origin, type) and issubclass(origin, Sequence) and origin is not str:
        if not isinstance(value, (list, tuple)) or len(value) > CARD_SEQ_MAX_LEN:
            raise BadInputError(f"{bad} must be a list of at most {CARD_SEQ_MAX_LEN} values")
        inner = (typing.get_args(hint) or (Any,))[0]
        for i, v in enumerate(value):
            _check_value(f"{name}[{i}]", v, inner, where)
        if name == "in_shape" and len(value) == 3:
            for v, (lo, hi), what in zip(value, CARD_SHAPE_BOUNDS, ("channels", "height", "width"), strict=True):
                if not lo <= v <= hi:
                    raise BadInputError(f"{bad}: {what} out of range ({lo}..{hi})")


def validate_model_kwargs(name: str, kwargs: Any, *, where: str = "model card") -> None:
    """Check a model card's `model_kwargs` against the registered factory, before anything is built.

    Every argument must be a parameter of the factory `name` (unknown ones are refused even when the
    factory takes `**kwargs`), of the type its annotation names (int, float, bool, str, sequences of
    those, optional), and within sane bounds: `CARD_INT_BOUNDS` / `CARD_FLOAT_BOUNDS` by name, else
    `CARD_INT_RANGE` / `CARD_FLOAT_ABS_MAX`; sequences at most `CARD_SEQ_MAX_LEN` long; `in_shape` within
    `CARD_SHAPE_BOUNDS`.

    Args:
        name: registered model name (unknown names are refused).
        kwargs: the card's `model_kwargs` (must be a JSON object).
        where: what to name in the error (the card's path).

    Raises:
        BadInputError: one line naming the first offending argument.
    """
    from deepfake_lab.models.catalogue import model_entry

    entry = model_entry(name)
    if not isinstance(kwargs, dict):
        raise BadInputError(f"{where}: model_kwargs must be an object, got {type(kwargs).__name__}")
    params = {
        k: p
        for k, p in inspect.signature(entry.factory).parameters.items()
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }
    unknown = [k for k in kwargs if k not in params]
    if unknown:
        raise BadInputError(
            f"{where}: model {name!r} has no argument(s) {', '.join(map(str, unknown))[:200]}; "
            f"valid: {', '.join(params)}"
        )
    try:
        hints = typing.get_type_hints(entry.factory)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to the defaults' types
        hints = {}
    for k, v in kwargs.items():
        hint = hints.get(k)
        if hint is None:
            default = params[k].default
            hint = type(default) if isinstance(default, (bool, int, float, str)) else Any
        _check_value(k, v, hint, where)
