"""Grad-CAM (Selvaraju et al., 2017) for detectors: where in a face crop the FAKE logit comes from.

The heat map of an image is ReLU(sum_k w_k A_k), A_k the activation maps of a convolution layer (by default
the last one whose output is still spatial) and w_k the spatial mean of d logit / d A_k, up-sampled to the
input size and scaled to [0, 1] per image. Detectors without convolutions (spectrum / DCT logistic
regression) have no such layer: `grad_cam` returns None for them.

Example:
    >>> import torch
    >>> from deepfake_lab.models.catalogue import create_model
    >>> cam = grad_cam(create_model("meso4", image_size=64), torch.rand(2, 3, 64, 64))
    >>> cam.shape
    torch.Size([2, 64, 64])
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["find_cam_layer", "grad_cam", "overlay_heatmap"]


def find_cam_layer(model: nn.Module, x: Tensor) -> nn.Module | None:
    """The last `nn.Conv2d` (in execution order) whose output on `x` is larger than 1×1, or None.

    Args:
        model: a detector.
        x: [B, C, H, W] example input (one forward pass is run to see the output sizes).
    """
    seen: list[tuple[nn.Module, tuple[int, ...]]] = []
    hooks = [
        m.register_forward_hook(lambda mod, _inp, out: seen.append((mod, tuple(out.shape))))
        for m in model.modules()
        if isinstance(m, nn.Conv2d)
    ]
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        for h in hooks:
            h.remove()
    spatial = [m for m, shape in seen if len(shape) == 4 and shape[2] * shape[3] > 1]
    return spatial[-1] if spatial else None


def grad_cam(model: nn.Module, x: Tensor, layer: nn.Module | None = None) -> Tensor | None:
    """Grad-CAM heat maps of the detector's FAKE logit.

    Args:
        model: a detector returning {"logits": [B], ...}; run in fp32, eval mode is kept as it is.
        x: [B, C, H, W] input in [0, 1].
        layer: convolution layer to explain (default: `find_cam_layer`).

    Returns:
        [B, H, W] float heat maps in [0, 1], or None when the model has no spatial convolution layer.
    """
    x = x.float().contiguous()
    layer = layer or find_cam_layer(model, x)
    if layer is None:
        return None
    store: dict[str, Tensor] = {}

    def keep(_mod: nn.Module, _inp: object, out: Tensor) -> None:
        store["act"] = out

    handle = layer.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            xi = x.clone().requires_grad_(True)  # makes every activation part of the graph
            logits = model(xi)["logits"]
            act = store["act"]
            grads = torch.autograd.grad(logits.sum(), act)[0]
    finally:
        handle.remove()
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).max(1).values.clamp_min(1e-12).view(-1, 1, 1)
    return (cam / peak).clamp(0, 1)


def overlay_heatmap(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a [0, 1] heat map (H, W) over an RGB uint8 image (H, W, 3) with the JET colour map."""
    heat = cv2.applyColorMap(np.clip(cam * 255 + 0.5, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB)
    if heat.shape[:2] != image.shape[:2]:
        heat = cv2.resize(heat, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return cv2.addWeighted(image, 1 - alpha, heat, alpha, 0)
