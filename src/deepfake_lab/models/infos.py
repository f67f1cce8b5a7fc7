"""What `deepfake-lab models` shows, read without importing torch: names, families, tags, summaries and sizes.

The index is read from the `@register_model(...)` decorators in the sources of `deepfake_lab.models` and the
sizes from `sizes.json` (written by `deepfake_lab.models.catalogue.write_model_sizes`), so listing models costs
milliseconds instead of importing torch and building every family.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from deepfake_lab.models import SIZES_FILE

MODELS_DIR = SIZES_FILE.parent


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
    arguments only; a test checks this equals the live registry). Falls back to the live registry (importing
    the catalogue) when the sources are not available (e.g. a byte-code-only install).

    Example:
        >>> any(m.name == "dcgan-64" and m.family == "gan" for m in model_infos())
        True
    """
    files = sorted(MODELS_DIR.rglob("*.py"))
    try:
        infos = [i for f in files for i in _decorated_models(f.read_text(encoding="utf-8"))]
    except (OSError, SyntaxError, ValueError, IndexError, KeyError):
        infos = []
    if not infos:
        import deepfake_lab.models.catalogue  # noqa: F401  (registers every model)
        from deepfake_lab.registry import MODELS

        infos = [ModelInfo(e.name, e.family, dict(e.tags), e.summary) for e in MODELS]
    return sorted((i for i in infos if family is None or i.family == family), key=lambda i: i.name)


def model_sizes() -> dict[str, dict[str, Any]]:
    """{name: {"params": int, "input": [C, H, W] | None}} at factory defaults, read without torch (the file
    `models/sizes.json` written by `deepfake_lab.models.catalogue.write_model_sizes`); {} when it is missing."""
    try:
        return json.loads(SIZES_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
