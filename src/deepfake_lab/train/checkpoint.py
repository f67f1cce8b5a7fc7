"""Training-state files (exact resume) and exported inference weights (.safetensors + JSON card).

A training state is written atomically: to a temporary file in the same folder, flushed and fsynced, then
renamed over the old one, so a process killed mid-save leaves the previous checkpoint intact. It is read
with `torch.load(weights_only=True)`: tensors and plain containers only, never arbitrary pickles.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from torch import nn

from deepfake_lab import __version__
from deepfake_lab.errors import BadInputError
from deepfake_lab.fsutil import atomic_write_bytes, atomic_write_text
from deepfake_lab.models.cards import CARD_KIND, read_card, resolve_export, validate_model_kwargs

FORMAT_VERSION = 1
STATE_KIND = "deepfake-lab/training-state"


def rng_state() -> dict[str, Any]:
    """Global RNG states of torch, numpy and random, as tensors/plain values (weights_only-safe)."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": py_version, "internal": list(py_internal), "gauss": py_gauss},
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))


def save_training_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically write a training state (a dict of tensors and plain values)."""
    full = {"kind": STATE_KIND, "format_version": FORMAT_VERSION, **state}
    atomic_write_bytes(path, lambda f: torch.save(full, f))


def load_training_state(path: Path) -> dict[str, Any]:
    """Read a training state with `weights_only=True`; anything else is a user error."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"no training state at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, foreign pickle refused by weights_only, ...
        raise BadInputError(f"{path} is not a readable deepfake-lab training state ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("kind") != STATE_KIND:
        raise BadInputError(f"{path} is not a deepfake-lab training state")
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise BadInputError(f"{path} was written by a newer deepfake-lab (format {state['format_version']})")
    return state


def export_model(
    model: nn.Module,
    out_dir: Path,
    *,
    model_name: str,
    model_kwargs: dict[str, Any],
    family: str,
    card: dict[str, Any] | None = None,
    stem: str = "model",
) -> tuple[Path, Path]:
    """Write `<stem>.safetensors` and `<stem>.json` (the model card) into `out_dir`.

    The card carries what rebuilds the model (registered name + kwargs) plus whatever `card` adds
    (input spec, training data, command, metrics).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    st_path, json_path = out_dir / f"{stem}.safetensors", out_dir / f"{stem}.json"
    full_card = {
        "kind": CARD_KIND,
        "format_version": FORMAT_VERSION,
        "model": model_name,
        "model_kwargs": model_kwargs,
        "family": family,
        "deepfake_lab_version": __version__,
        "exported": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **(card or {}),
    }
    atomic_write_bytes(st_path, lambda f: f.write(_safetensors_bytes(tensors, model_name)))
    atomic_write_text(json_path, json.dumps(full_card, indent=2, default=str) + "\n")
    return st_path, json_path


def _safetensors_bytes(tensors: dict[str, torch.Tensor], model_name: str) -> bytes:
    from safetensors.torch import save

    return save(tensors, metadata={"kind": CARD_KIND, "model": model_name})


def load_exported(
    path: Path, *, family: str | None = None, what: str = "", hint: str = ""
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild an exported model from its card and safetensors weights; returns (model in eval mode, card).

    Args:
        family: when given, a card of another family is refused (before any weights are read) with
            "<path> is a <family> model (<model>), not <what>; <hint>".
    """
    from deepfake_lab.models.catalogue import create_model

    st, card_path = resolve_export(path)
    card = read_card(card_path)
    if family is not None and card.get("family") != family:
        raise BadInputError(
            f"{path} is a {card.get('family', 'unknown')} model ({card.get('model')}), not {what or family}; {hint}"
        )
    name, kwargs = card["model"], card.get("model_kwargs", {})
    validate_model_kwargs(str(name), kwargs, where=f"model card {card_path}")
    stored = safetensors_shapes(st)
    # The card's model built on the meta device (no memory) gives the shapes to compare with the file's
    # header, so that a tampered or mismatched card is refused before anything large is allocated.
    try:
        with torch.device("meta"):
            skeleton = create_model(name, **kwargs)
    except BadInputError:
        raise
    except Exception:  # noqa: BLE001 - a factory that cannot build on meta: compare after the real build
        skeleton = None
    if skeleton is not None:
        _check_shapes(stored, skeleton, st, name)
    model = create_model(name, **kwargs)
    if skeleton is None:
        _check_shapes(stored, model, st, name)
    try:
        tensors = load_file(st)
    except (SafetensorError, OSError, ValueError) as exc:
        raise BadInputError(f"{st} is not a readable safetensors file ({exc})") from None
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:  # shapes and names were checked; this is a last line of defence
        raise BadInputError(f"{st} does not match model {name!r} ({str(exc).splitlines()[0][:200]})") from None
    return model.eval(), card


def safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape from a .safetensors header, without reading the tensors."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 - not a dict
    except (SafetensorError, OSError, ValueError) as exc:
        raise BadInputError(f"{path} is not a readable safetensors file ({exc})") from None


def _check_shapes(stored: dict[str, tuple[int, ...]], model: nn.Module, st: Path, name: str) -> None:
    """Refuse weights whose tensor names or shapes differ from the model the card describes (one line)."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing or unexpected:
        first = f"; e.g. missing {missing[0]!r}" if missing else f"; e.g. unexpected {unexpected[0]!r}"
        raise BadInputError(
            f"{st} does not match model {name!r} of its card "
            f"(missing {len(missing)}, unexpected {len(unexpected)} tensors{first})"
        )
    for k, shape in expected.items():
        if stored[k] != shape:
            raise BadInputError(
                f"{st} does not match its card: tensor {k!r} is {list(stored[k])} in the weights but "
                f"{list(shape)} in the {name!r} model the card describes (wrong image_size or widths?)"
            )


__all__ = [
    "export_model",
    "load_exported",
    "load_training_state",
    "rng_state",
    "safetensors_shapes",
    "save_training_state",
    "set_rng_state",
]
