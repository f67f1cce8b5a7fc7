"""Know when not to swap: faces outside what a swap model saw are passed through, never garbled.

Two checks, with statistics of the training faces stored in the model card (`card["swap_guard"]`):

- **pose / expression**: the 68 landmarks of the aligned face (unit crop coordinates, so position, size and
  in-plane rotation are already removed; what is left is head turn / tilt, expression and face shape) as a
  136-d vector. Its distance to an identity's training faces is a Mahalanobis distance in their top `k`
  principal components plus the scaled residual outside them, divided by that identity's `threshold` (a
  `slack` times the `quantile` of the training faces' own distances). The face's score is the smaller of its
  distance to its own identity's faces and to the target's (after moving it from the own identity's mean
  face shape to the target's, so that face shape does not count); above 1, neither identity was ever seen in
  such a pose or expression: pass through. (The raw distance to the target alone flags every face of a person
  whose face shape differs: measured 94 of 94 held-out faces of the sample woman against the man's faces.)
- **render confidence**: the face reconstructed by its *own* identity's decoder (A→A for a face of A):
  masked mean |error| above `recon_l1` (2.5 × the 99th percentile on the training faces) means the shared
  encoder does not represent it; and for models with a learned mask, a predicted mask that covers under
  `mask_iou_min` of the landmark hull (IoU).

Example:
    >>> guard = fit_swap_guard(net, "facesets/a", "facesets/b")  # doctest: +SKIP
    >>> card["swap_guard"] = guard  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FaceCheck", "SwapGuard", "fit_pose_stats", "fit_swap_guard", "pose_distance", "pose_feature"]

GUARD_VERSION = 1
MASK_IOU_MIN = 0.5
RECON_SLACK = 2.5  # held-out faces of the sample woman reconstruct up to ~2.1x the training faces' 99th percentile


def pose_feature(points68: np.ndarray, crop_size: float) -> np.ndarray:
    """(68, 2) landmarks in an aligned crop of side `crop_size` -> 136-d vector in unit crop coordinates."""
    return (np.asarray(points68, np.float64)[:, :2] / float(crop_size)).reshape(-1)


def fit_pose_stats(features: np.ndarray, k: int = 8, quantile: float = 0.99, slack: float = 1.5) -> dict[str, Any]:
    """Statistics of training pose features [N, 136] for `pose_distance`, JSON-ready.

    Returns:
        {"mean", "components" [k, 136], "scale" [k], "residual_scale", "threshold", "k", "quantile", "slack"}.
    """
    f = np.asarray(features, np.float64)
    mean = f.mean(0)
    c = f - mean
    k = int(max(1, min(k, len(f) - 1, f.shape[1])))
    _, s, vt = np.linalg.svd(c, full_matrices=False)
    comps = vt[:k]
    scale = np.maximum(s[:k] / np.sqrt(max(len(f) - 1, 1)), 1e-6)
    resid = np.linalg.norm(c - (c @ comps.T) @ comps, axis=1)
    stats: dict[str, Any] = {
        "mean": mean.round(6).tolist(),
        "components": comps.round(6).tolist(),
        "scale": scale.round(8).tolist(),
        "residual_scale": float(max(np.sqrt(np.mean(resid**2)), 1e-6)),
        "k": k,
        "quantile": quantile,
        "slack": slack,
    }
    d = pose_distance(stats, f)
    stats["threshold"] = float(np.quantile(d, quantile) * slack)
    return stats


def pose_distance(stats: dict[str, Any], features: np.ndarray) -> np.ndarray:
    """Distance [N] of pose features [N, 136] to the training faces of `stats` (about 1 for a typical face)."""
    f = np.atleast_2d(np.asarray(features, np.float64))
    mean = np.asarray(stats["mean"], np.float64)
    comps = np.asarray(stats["components"], np.float64)
    scale = np.asarray(stats["scale"], np.float64)
    c = f - mean
    z = (c @ comps.T) / scale
    r = np.linalg.norm(c - (c @ comps.T) @ comps, axis=1) / float(stats["residual_scale"])
    return np.sqrt((np.sum(z**2, axis=1) + r**2) / (comps.shape[0] + 1))


def masked_l1(rec: np.ndarray, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-face mean |rec - x| inside the mask: rec, x [N, 3, S, S] float in [0, 1]; mask [N, S, S] -> [N]."""
    m = mask[:, None].astype(np.float64)
    return (np.abs(rec - x) * m).sum(axis=(1, 2, 3)) / (m.sum(axis=(1, 2, 3)) * 3 + 1e-6)


def fit_swap_guard(
    net: Any, faces_a: str | Path, faces_b: str | Path, *, holdout: float | None = None, batch: int = 32
) -> dict[str, Any]:
    """The card's `swap_guard` block from the training faces of both identities.

    Args:
        net: the trained `SwapAutoencoder` (eval mode is set here).
        faces_a, faces_b: the facesets it was trained on (their "train" split is used).
        holdout: held-out fraction (default: the faceset default).

    Returns:
        {"version", "pose": {"a": stats, "b": stats}, "recon_l1": {"a": thr, "b": thr}, "mask_iou_min", "rule"}.
    """
    import torch

    from deepfake_lab.data.datasets import load_faceset
    from deepfake_lab.data.faceset import DEFAULT_HOLDOUT, crop_points

    size = int(net.image_size)
    net.eval()
    out: dict[str, Any] = {"version": GUARD_VERSION, "pose": {}, "recon_l1": {}, "mask_iou_min": MASK_IOU_MIN}
    for side, root in (("a", faces_a), ("b", faces_b)):
        fs = load_faceset(root, "train", image_size=size, holdout=DEFAULT_HOLDOUT if holdout is None else holdout)
        feats = np.stack([pose_feature(crop_points(r, 1), 1.0) for r in fs.records])
        out["pose"][side] = fit_pose_stats(feats)
        errs = []
        with torch.no_grad():
            for i in range(0, len(fs), batch):
                x = fs.images[i : i + batch].float() / 255
                rgb, mask = x[:, :3], (x[:, 3] > 0.5).float()
                rec = net.decode(net.encode(rgb), side)[:, :3].float().clamp(0, 1)
                errs.append(masked_l1(rec.numpy(), rgb.numpy(), mask.numpy()))
        e = np.concatenate(errs)
        out["recon_l1"][side] = float(np.quantile(e, 0.99) * RECON_SLACK)
    out["rule"] = (
        "pass through a face when its landmark pose distance, in units of pose[side].threshold (1.5 x the 99th "
        "percentile of the training faces' own distances), is above 1 both to its own identity's training faces "
        "and to the target's (moved to the target's mean face shape); when its reconstruction by its own "
        "identity's decoder has masked L1 above recon_l1[own] (2.5 x the 99th percentile on the training faces); "
        "or when a learned mask overlaps the landmark hull with IoU under mask_iou_min"
    )
    return out


@dataclass
class FaceCheck:
    """The guard's verdict on one face: swap it or pass it through, and why."""

    swap: bool
    reason: str | None = None
    pose_distance: float | None = None
    recon_l1: float | None = None
    mask_iou: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"reason": self.reason}
        for k in ("pose_distance", "recon_l1", "mask_iou"):
            v = getattr(self, k)
            if v is not None:
                d[k] = round(float(v), 4)
        return d


class SwapGuard:
    """Applies a card's `swap_guard` block (see module docstring); a card without one checks nothing.

    Args:
        block: `card["swap_guard"]` or None.
        to: the target identity ("a" or "b"); faces are assumed to show the other one.
    """

    def __init__(self, block: dict[str, Any] | None, to: str) -> None:
        self.block = block or {}
        self.to = to
        self.own = "a" if to == "b" else "b"

    @property
    def enabled(self) -> bool:
        return bool(self.block)

    @property
    def needs_recon(self) -> bool:
        return self.own in self.block.get("recon_l1", {})

    def thresholds(self) -> dict[str, Any]:
        """What the sidecar records about the rule in force."""
        if not self.enabled:
            return {"enabled": False, "why": "the model card has no swap_guard statistics"}
        return {
            "enabled": True,
            "pose_threshold": 1.0,
            "recon_l1_threshold": self.block.get("recon_l1", {}).get(self.own),
            "mask_iou_min": self.block.get("mask_iou_min"),
            "rule": self.block.get("rule"),
        }

    def pose_score(self, pose: np.ndarray) -> np.ndarray | None:
        """Pose/expression distance [N] of faces of the own identity in threshold units (> 1: unseen), or None
        when the card has no pose statistics."""
        st = self.block.get("pose", {})
        own, tgt = st.get(self.own), st.get(self.to)
        if not own and not tgt:
            return None
        f = np.atleast_2d(np.asarray(pose, np.float64))
        scores = []
        if own:
            scores.append(pose_distance(own, f) / float(own["threshold"]))
        if tgt:
            shift = np.asarray(tgt["mean"], np.float64) - (np.asarray(own["mean"], np.float64) if own else 0.0)
            scores.append(pose_distance(tgt, f + shift if own else f) / float(tgt["threshold"]))
        return np.minimum.reduce(scores)

    def check(
        self,
        pose: np.ndarray,
        recon_l1: np.ndarray | None = None,
        mask_iou: np.ndarray | None = None,
    ) -> list[FaceCheck]:
        """Verdicts for N faces: pose features [N, 136], own-decoder masked L1 [N], learned-mask IoU [N]."""
        n = len(pose)
        if not self.enabled:
            return [FaceCheck(True) for _ in range(n)]
        dist = self.pose_score(pose)
        thr_rec = self.block.get("recon_l1", {}).get(self.own)
        iou_min = float(self.block.get("mask_iou_min", MASK_IOU_MIN))
        out = []
        for i in range(n):
            c = FaceCheck(True, pose_distance=float(dist[i]) if dist is not None else None)
            if recon_l1 is not None:
                c.recon_l1 = float(recon_l1[i])
            if mask_iou is not None:
                c.mask_iou = float(mask_iou[i])
            if dist is not None and dist[i] > 1.0:
                c.swap, c.reason = False, "pose_out_of_range"
            elif thr_rec is not None and recon_l1 is not None and recon_l1[i] > float(thr_rec):
                c.swap, c.reason = False, "low_confidence_render"
            elif mask_iou is not None and mask_iou[i] < iou_min:
                c.swap, c.reason = False, "mask_disagrees"
            out.append(c)
        return out
