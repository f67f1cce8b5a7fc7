"""Paired data for pix2pix (source -> target) and unpaired pairs of datasets for CycleGAN.

Paired folders are built from our own images (face crops from `deepfake-lab extract`, or any image
folder / built-in dataset) by `make_pairs`:

- "edges": Canny edges of the grey image (1 channel) -> the colour image;
- "mesh": the mediapipe FaceMesh of each crop drawn as a colour-coded sketch (face oval, brows, eyes and
  irises, nose, lips; 3 channels) -> the face: a reenactment-style "drive a face from landmarks" task;
- "gray": the luminance (1 channel) -> the colour image (colourisation).

A paired folder holds `pairs.json` (kind, channels, source, counts), `source/NNNNNN.png` and
`target/NNNNNN.png`. `data.datasets.load_paired` (or `load_dataset` on the folder) stacks each pair as one
uint8 image [C_s + 3, S, S] (source channels first), which is what the trainer's in-memory batches carry; the
held-out split is the last 20 % of the pairs in file order (for a faceset: the end of each video, as the
faceset split).

Example:
    >>> make_pairs("facesets/woman", "pairs/edges-woman", kind="edges")  # doctest: +SKIP
    >>> ds = load_dataset("pairs/edges-woman", "train")  # doctest: +SKIP
    >>> ds.images.shape  # [N, 1 + 3, 64, 64]  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from deepfake_lab.data.datasets import PAIRS_FILE, ImageDataset, load_dataset
from deepfake_lab.errors import BadInputError

PAIR_KINDS = ("edges", "mesh", "gray")

# (connection set name, BGR-independent RGB colour) drawn in this order for the mesh sketch
_MESH_PARTS = (
    ("FACEMESH_FACE_OVAL", (255, 255, 255)),
    ("FACEMESH_LEFT_EYEBROW", (255, 200, 0)),
    ("FACEMESH_RIGHT_EYEBROW", (255, 200, 0)),
    ("FACEMESH_NOSE", (0, 200, 255)),
    ("FACEMESH_LEFT_EYE", (0, 255, 0)),
    ("FACEMESH_RIGHT_EYE", (0, 255, 0)),
    ("FACEMESH_IRISES", (0, 255, 128)),
    ("FACEMESH_LIPS", (255, 0, 64)),
)


# ---------------------------------------------------------------------------- sources from targets
def edges_of(rgb: np.ndarray, low: int = 60, high: int = 140) -> np.ndarray:
    """Canny edges (white on black) of a uint8 RGB image [S, S, 3] -> uint8 [S, S, 1].

    The image is enlarged 2× and lightly blurred first, so edges of small crops are thin and continuous.
    """
    s = rgb.shape[0]
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    big = cv2.GaussianBlur(cv2.resize(grey, (2 * s, 2 * s), interpolation=cv2.INTER_CUBIC), (3, 3), 0)
    e = cv2.Canny(big, low, high)
    return cv2.resize(e, (s, s), interpolation=cv2.INTER_AREA)[..., None]


def gray_of(rgb: np.ndarray) -> np.ndarray:
    """Luminance (ITU-R 601) of uint8 RGB [S, S, 3] -> uint8 [S, S, 1]."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None]


def draw_mesh(points: np.ndarray, size: int, scale: int = 4) -> np.ndarray:
    """Colour-coded sketch of a FaceMesh [478 or 468, ≥2] (crop pixels) -> uint8 RGB [size, size, 3].

    Lines are drawn at `scale`× and area-averaged down, so they stay thin and anti-aliased at 64 px.
    """
    import mediapipe as mp

    fm = mp.solutions.face_mesh
    canvas = np.zeros((size * scale, size * scale, 3), np.uint8)
    pts = np.round(points[:, :2] * scale).astype(np.int32)
    for name, colour in _MESH_PARTS:
        for a, b in getattr(fm, name):
            if a < len(pts) and b < len(pts):
                cv2.line(canvas, tuple(int(v) for v in pts[a]), tuple(int(v) for v in pts[b]), colour, scale // 2 + 1)
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)


class MeshSketcher:
    """FaceMesh of a face crop, without running the face detector (the crop is known to hold one face).

    The crop is enlarged to `work` px; FaceMesh runs on a box covering the central part of the crop.
    Returns None when no mesh is found.
    """

    def __init__(self, work: int = 256) -> None:
        from deepfake_lab.faces import create_detector

        self.work = int(work)
        self.detector = create_detector("mediapipe")
        self.detector.ensure_loaded()

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        from deepfake_lab.faces.types import Face

        s = rgb.shape[0]
        big = cv2.resize(rgb, (self.work, self.work), interpolation=cv2.INTER_CUBIC)
        m = self.work * 0.15
        box = np.array([m, m, self.work - m, self.work - m], np.float32)
        found = self.detector.landmarks(big, [Face(bbox=box, score=1.0)])
        if not found or found[0].mesh is None:
            return None
        return draw_mesh(found[0].mesh * (s / self.work), s)

    def close(self) -> None:
        self.detector.close()


def _source_fn(kind: str) -> tuple[Callable[[np.ndarray], np.ndarray | None], int, Callable[[], None]]:
    if kind == "edges":
        return edges_of, 1, lambda: None
    if kind == "gray":
        return gray_of, 1, lambda: None
    if kind == "mesh":
        sketch = MeshSketcher()
        return sketch, 3, sketch.close
    raise BadInputError(f"pair kind must be one of {', '.join(PAIR_KINDS)}, got {kind!r}")


def make_pairs(
    source: str | Path,
    out: str | Path,
    *,
    kind: str = "edges",
    image_size: int = 64,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Build a paired folder from a faceset, an image folder or a built-in dataset.

    Args:
        source: faceset folder (from `extract`), image folder, or "digits" / "mnist" / "fashion-mnist".
        out: new folder (must not exist or be empty: user data is never overwritten).
        kind: "edges", "mesh" (faces only) or "gray".
        image_size: side of the pairs.
        limit: use at most this many images.

    Returns:
        the pairs.json record (also written): kind, channels, counts, source, skipped (no mesh found).
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadInputError(f"{out} already exists and is not an empty folder; choose a new --out")
    fn, cs, close = _source_fn(kind)
    data = load_dataset(str(source), "all", image_size=image_size, channels=3, limit=limit)
    rgb = data.images[:, :3]
    if rgb.shape[1] == 1:
        rgb = rgb.expand(-1, 3, -1, -1)
    (out / "source").mkdir(parents=True, exist_ok=True)
    (out / "target").mkdir(parents=True, exist_ok=True)
    kept = skipped = 0
    try:
        for i in range(len(rgb)):
            img = np.ascontiguousarray(rgb[i].permute(1, 2, 0).numpy())
            src = fn(img)
            if progress is not None:
                progress(i + 1, len(rgb))
            if src is None:
                skipped += 1
                continue
            name = f"{kept:06d}.png"
            s_img = src[..., 0] if src.shape[2] == 1 else cv2.cvtColor(src, cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(out / "source" / name), s_img)
            cv2.imwrite(str(out / "target" / name), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            kept += 1
    finally:
        close()
    if kept == 0:
        raise BadInputError(f"no pairs made from {source}: no face mesh found in any of {skipped} images")
    record = {
        "kind": kind,
        "source_channels": cs,
        "target_channels": 3,
        "image_size": image_size,
        "pairs": kept,
        "skipped": skipped,
        "from": str(source),
    }
    (out / PAIRS_FILE).write_text(json.dumps(record, indent=2) + "\n")
    return record


def load_unpaired(
    name: str, split: str = "train", *, image_size: int | None = None, channels: int | None = None,
    limit: int | None = None,
) -> ImageDataset:
    """Domain B of a CycleGAN: any dataset name `load_dataset` accepts, as [N, C, S, S] images (no labels).

    Facesets lose their mask channel (CycleGAN translates the RGB crop); `channels` forces grey or RGB.
    """
    ds = load_dataset(name, split, image_size=image_size, channels=channels, limit=limit)
    x = ds.images
    if x.shape[1] == 4:
        x = x[:, :3]
    if channels is not None and x.shape[1] != channels:
        if channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        else:
            x = x.float().mean(1, keepdim=True).round().to(torch.uint8)
    return ImageDataset(str(name), x.contiguous())
