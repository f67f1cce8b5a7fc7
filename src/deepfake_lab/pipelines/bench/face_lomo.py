"""Leave-one-method-out (LOMO) on the identity-disjoint face benchmark.

A detector trained without one manipulation method is tested on that method's fakes of unseen people: the figure
that says how it would do on a method that appears after it shipped. The face benchmark's methods are made two
ways for training (`train.tasks.detection`): `graphics-swap` fakes are files in the training folder, the blends
(`self-blend`, `xray-blend`) are made on the fly from its reals. So leaving a method out means:

- `graphics-swap`: a training folder without `fake/graphics-swap` (`link_training_folder`), given as many
  pre-made blends of its reals instead (`write_blend_files`: the detector's evaluation split needs fakes as
  files, and the reference keeps the same number of file fakes);
- `self-blend` / `xray-blend`: its probability moved to the other blend, so the same share of reals still
  becomes a pseudo-fake (`lomo_task_kwargs`).

`lomo_table` turns the `face_protocol.protocol_report` of each left-out model (and of a reference trained on all
methods with the same budget) into the per-method, per-compression table of `benchmarks/face_lomo.py`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_lab.errors import BadInputError

FACE_METHODS = ("graphics-swap", "self-blend", "xray-blend")
"""The swap/blend methods of the face benchmark (GAN samples are scored apart, `face_protocol.is_gan_method`)."""

_BLEND_KEYS = {"self-blend": "self_blend_p", "xray-blend": "xray_p"}


def lomo_task_kwargs(task_kwargs: dict[str, Any], left_out: str | None) -> dict[str, Any]:
    """The detection task's kwargs without `left_out` (None: unchanged); a blend's probability goes to the other.

    Raises:
        BadInputError: an unknown method, or a blend left out of a recipe that makes no blends.
    """
    kw = dict(task_kwargs)
    if left_out is None or left_out == "graphics-swap":
        return kw
    if left_out not in _BLEND_KEYS:
        raise BadInputError(f"unknown method {left_out!r}: one of {', '.join(FACE_METHODS)}")
    gone = _BLEND_KEYS[left_out]
    (other,) = (k for k in _BLEND_KEYS.values() if k != gone)
    total = float(kw.get(gone, 0.0)) + float(kw.get(other, 0.0))
    if total <= 0:
        raise BadInputError(f"the recipe makes no blends, so {left_out} cannot be left out of it")
    kw[gone], kw[other] = 0.0, total
    return kw


def link_training_folder(src: Path | str, dst: Path | str, left_out: str | None) -> dict[str, int]:
    """Hard-link (copy across file systems) a `real/` + `fake/<method>/` training folder without `fake/<left_out>`.

    An existing `dst` is replaced only if it is such a linked folder (it holds `.lomo`); anything else refuses.

    Returns:
        {"real": n, "fake/<method>": n, ...} of what was linked.
    """
    src, dst = Path(src), Path(dst)
    if not (src / "real").is_dir():
        raise BadInputError(f"{src} is not a training folder (no real/)")
    if dst.exists():
        if not (dst / ".lomo").exists():
            raise BadInputError(f"{dst} exists and was not made by link_training_folder; not touching it")
        shutil.rmtree(dst)
    counts: dict[str, int] = {}
    subs = [Path("real")] + sorted(p.relative_to(src) for p in (src / "fake").glob("*") if p.is_dir())
    for sub in subs:
        if sub.parts[0] == "fake" and sub.name == left_out:
            continue
        (dst / sub).mkdir(parents=True, exist_ok=True)
        files = sorted(f for f in (src / sub).iterdir() if f.is_file())
        for f in files:
            try:
                os.link(f, dst / sub / f.name)
            except OSError:
                shutil.copy2(f, dst / sub / f.name)
        counts[str(sub)] = len(files)
    (dst / ".lomo").write_text(f"{src} without {left_out}\n")
    return counts


def write_blend_files(
    real_dir: Path | str, out_dir: Path | str, n: int, *, self_blend_share: float, margin: float, seed: int = 0
) -> int:
    """Write `n` pseudo-fakes of randomly drawn crops of `real_dir` into `out_dir` as PNG.

    Each is a self-blend with probability `self_blend_share`, else a Face X-ray blend with another random real
    (`faces.pseudo_fake`, template landmarks of crops aligned with `margin`). Seeded: the same files every time.

    Returns:
        the number of files written.
    """
    import cv2

    from deepfake_lab.data.datasets import IMAGE_SUFFIXES
    from deepfake_lab.faces.pseudo_fake import self_blend, template_landmarks, xray_blend
    from deepfake_lab.video.image import read_image

    reals = sorted(f for f in Path(real_dir).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    if len(reals) < 2:
        raise BadInputError(f"{real_dir}: need at least 2 real crops to blend, found {len(reals)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for k in range(n):
        i, j = rng.choice(len(reals), 2, replace=False)
        img = read_image(reals[i])
        pts = template_landmarks(img.shape[0], margin)
        if rng.random() < self_blend_share:
            fake, _ = self_blend(img, pts, rng)
        else:
            fake, _ = xray_blend(img, cv2.resize(read_image(reals[j]), img.shape[1::-1]), pts, rng)
        cv2.imwrite(str(out / f"blend_{k:05d}_{reals[i].stem}.png"), cv2.cvtColor(fake, cv2.COLOR_RGB2BGR))
    return n


def lomo_table(left_out_reports: dict[str, dict[str, Any]], reference: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per left-out method and compression level: its test AUC when unseen, and (reference) when trained on.

    Args:
        left_out_reports: method -> `protocol_report` of the detector trained without it.
        reference: `protocol_report` of the detector trained on all methods with the same budget.

    Returns:
        {"levels": [...], "unseen": {method: {level: AUC}}, "seen": {method: {level: AUC}} (with a reference),
        "mean_unseen": {level: mean over methods}, "mean_seen": {...}, "drop": {level: mean seen - unseen}}.
    """
    if not left_out_reports:
        raise BadInputError("no leave-one-method-out reports")
    levels = [c for c in ("c0", "c23", "c40") if all(c in r["test"] for r in left_out_reports.values())]
    unseen = {m: {c: float(r["test"][c]["per_method_auc"][m]) for c in levels} for m, r in left_out_reports.items()}
    mean_unseen = {c: float(np.mean([v[c] for v in unseen.values()])) for c in levels}
    out: dict[str, Any] = {"levels": levels, "unseen": unseen, "mean_unseen": mean_unseen}
    if reference is not None:
        seen = {m: {c: float(reference["test"][c]["per_method_auc"][m]) for c in levels} for m in unseen}
        out["seen"] = seen
        out["mean_seen"] = {c: float(np.mean([v[c] for v in seen.values()])) for c in levels}
        out["drop"] = {c: out["mean_seen"][c] - out["mean_unseen"][c] for c in levels}
    return out
