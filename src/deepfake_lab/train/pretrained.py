"""ImageNet weights for detector backbones, from `data fetch` items (never downloaded at run time).

`PRETRAINED` maps a data item to the file inside it and the sub-module of a detector it fills. The file is
read with ``torch.load(weights_only=True)`` (no pickled code) and loaded with ``strict=True`` into that
sub-module, whose parameter names match the checkpoint's (the classifier of the checkpoint is dropped).

Example:
    >>> from deepfake_lab.models.catalogue import create_model
    >>> model = create_model("mobilenet-v2")
    >>> load_pretrained_backbone(model, "mobilenet-v2-imagenet")  # doctest: +SKIP
    'features: 312 tensors from mobilenet_v2-b0353104.pth'
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from deepfake_lab.errors import BadInputError

__all__ = ["PRETRAINED", "load_pretrained_backbone", "backbone_state"]

# data item -> (file in the item, prefix of the checkpoint keys kept, attribute of the detector they fill)
PRETRAINED: dict[str, tuple[str, str, str]] = {
    "mobilenet-v2-imagenet": ("mobilenet_v2-b0353104.pth", "features.", "features"),
    "efficientnet-lite0-imagenet": ("efficientnet-lite0-57934424.pth", "", "backbone"),  # its _fc is not kept
}


def backbone_state(path: Path | str, prefix: str, keep: set[str] | None = None) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint whose names start with `prefix`, prefix removed (only `keep` names if given)."""
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file: one clear line
        raise BadInputError(f"cannot read pretrained weights {path}: {exc}") from None
    if not isinstance(state, dict):
        raise BadInputError(f"{path} is not a state dict")
    out = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if keep is not None:
        out = {k: v for k, v in out.items() if k in keep}
    return out


def load_pretrained_backbone(model: nn.Module, item: str, root: Path | str | None = None) -> str:
    """Fill a detector's backbone with the ImageNet weights of a fetched data item.

    Args:
        model: a detector with the sub-module that `PRETRAINED[item]` names (e.g. `mobilenet-v2`'s `features`).
        item: data item name, a key of `PRETRAINED`.
        root: data cache folder (default: `deepfake_lab.data.fetch.data_root()`).

    Returns:
        One line saying what was loaded.

    Raises:
        BadInputError: unknown item, a model without that sub-module, or names/shapes that do not match.
        MissingDataError: the item has not been fetched.
    """
    from deepfake_lab.data.fetch import sample_file

    if item not in PRETRAINED:
        raise BadInputError(f"unknown pretrained weights {item!r}; known: {', '.join(PRETRAINED)}")
    fname, prefix, attr = PRETRAINED[item]
    target = getattr(model, attr, None)
    if not isinstance(target, nn.Module):
        raise BadInputError(f"{type(model).__name__} has no '{attr}' backbone for {item}")
    wanted = set(target.state_dict())
    state = backbone_state(sample_file(item, fname, root), prefix, wanted)
    try:
        target.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1] if len(str(exc).splitlines()) > 1 else str(exc)
        raise BadInputError(f"{item} does not fit {type(model).__name__}.{attr}: {first.strip()}") from None
    return f"{attr}: {len(state)} tensors from {fname}"
