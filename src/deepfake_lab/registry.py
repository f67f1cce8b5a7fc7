"""Named registries of factories: models are found by name, never by import path.

Example:
    >>> from deepfake_lab.registry import create_model, list_models
    >>> model = create_model("ae-dense", in_shape=(1, 8, 8), latent_dim=8)
    >>> "ae-dense" in list_models("autoencoder")
    True
"""

from __future__ import annotations

import ast
import inspect
import math
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from deepfake_lab.errors import BadInputError

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered factory with its family tag and free-form metadata."""

    name: str
    factory: Callable[..., T]
    family: str
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.factory) or ""
        return doc.splitlines()[0] if doc else ""


class Registry(Generic[T]):
    """A name -> factory map; registering a name twice is an error."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, *, family: str, **tags: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering `factory` under `name`."""

        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = Entry(name=name, factory=factory, family=family, tags=dict(tags))
            return factory

        return deco

    def get(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise BadInputError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self, family: str | None = None) -> list[str]:
        return sorted(n for n, e in self._entries.items() if family is None or e.family == family)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(sorted(self._entries.values(), key=lambda e: (e.family, e.name)))


MODELS: Registry[nn.Module] = Registry("model")


def register_model(
    name: str, *, family: str, **tags: Any
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a model factory: `@register_model("ae-dense", family="autoencoder", task="autoencoder")`."""
    return MODELS.register(name, family=family, **tags)


def _ensure_models_imported() -> None:
    import deepfake_lab.models  # noqa: F401  (registers every model family)


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the registered model `name` with keyword arguments; unknown arguments are a user error."""
    _ensure_models_imported()
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


def model_entry(name: str) -> Entry[nn.Module]:
    _ensure_models_imported()
    return MODELS.get(name)


def list_models(family: str | None = None) -> list[str]:
    """Names of registered models, optionally of one family."""
    _ensure_models_imported()
    return MODELS.names(family)


@dataclass(frozen=True)
class ModelInfo:
    """What `deepfake-lab models` shows of a registered model, read without importing torch."""

    name: str
    family: str
    tags: dict[str, Any]
    summary: str


def _decorated_models(text: str) -> Iterator[ModelInfo]:
    """The `@register_model(...)` factories defined at the top level of one module's source."""
    if "@register_model(" not in text:
        return
    for node in ast.parse(text).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if not (isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == "register_model"):
                continue
            name = ast.literal_eval(deco.args[0])
            kwargs = {k.arg: ast.literal_eval(k.value) for k in deco.keywords if k.arg is not None}
            family = kwargs.pop("family")
            doc = ast.get_docstring(node) or ""
            yield ModelInfo(name=name, family=family, tags=kwargs, summary=doc.splitlines()[0] if doc else "")


def model_infos(family: str | None = None) -> list[ModelInfo]:
    """Every registered model's name, family, tags and one-line summary, sorted by name (as `list_models`).

    Read from the `@register_model(...)` decorators in the source of `deepfake_lab.models` (literal
    arguments only; a test checks this equals the live registry), so listing models costs milliseconds
    instead of importing torch and building every family. Falls back to the live registry when the
    sources are not available (e.g. a byte-code-only install).

    Example:
        >>> any(m.name == "dcgan-64" and m.family == "gan" for m in model_infos())
        True
    """
    root = Path(__file__).resolve().parent / "models"
    files = sorted(root.rglob("*.py"))
    try:
        infos = [i for f in files for i in _decorated_models(f.read_text(encoding="utf-8"))]
    except (OSError, SyntaxError, ValueError, IndexError, KeyError):
        infos = []
    if not infos:
        _ensure_models_imported()
        infos = [ModelInfo(e.name, e.family, dict(e.tags), e.summary) for e in MODELS]
    return sorted((i for i in infos if family is None or i.family == family), key=lambda i: i.name)


_SIZES_FILE = Path(__file__).resolve().parent / "models" / "sizes.json"
_INPUT_ARGS = ("in_shape", "image_size")


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
    """Per registered model: parameters and input shape when built with its factory's defaults (imports torch
    and builds every model, ~2 s). `model_sizes()` reads the stored copy of this (tests keep them equal)."""
    _ensure_models_imported()
    out: dict[str, dict[str, Any]] = {}
    for e in MODELS:
        net = e.factory()
        out[e.name] = {"params": int(sum(p.numel() for p in net.parameters())), "input": _factory_input(e.factory)}
    return out


def write_model_sizes(path: Path = _SIZES_FILE) -> Path:
    """Store `measure_model_sizes()` as JSON (run after adding or changing a model)."""
    import json

    sizes = measure_model_sizes()
    lines = [f"  {json.dumps(k)}: {json.dumps(sizes[k], sort_keys=True)}" for k in sorted(sizes)]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    return path


def model_sizes() -> dict[str, dict[str, Any]]:
    """{name: {"params": int, "input": [C, H, W] | None}} at factory defaults, read without torch (the file
    `models/sizes.json` written by `write_model_sizes`); {} when it is missing."""
    import json

    try:
        return json.loads(_SIZES_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
