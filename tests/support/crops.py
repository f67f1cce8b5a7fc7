"""Face crops for detector tests: the Grace Hopper fixture face and synthetic variants of it."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

from support import FIXTURES

FACE_JPG = FIXTURES / "grace_hopper_face.jpg"


def face_crops(size: int, seed: int = 0) -> np.ndarray:
    """(10, size, size, 3) uint8 RGB: the face (square centre crop), two shifted and one zoomed crop, mirrored,
    blurred, JPEG q=25, darkened, noisy, and colour-swapped (BGR) versions."""
    rgb = Image.open(FACE_JPG).convert("RGB")
    w, h = rgb.size
    side = min(w, h)

    def square(dx: int, dy: int, s: int = side) -> Image.Image:
        x0, y0 = (w - s) // 2 + dx, (h - s) // 2 + dy
        return rgb.crop((x0, y0, x0 + s, y0 + s)).resize((size, size), Image.Resampling.BILINEAR)

    base = square(0, 0)
    jpeg = io.BytesIO()
    base.save(jpeg, "JPEG", quality=25)
    imgs = [base, square(-10, 6), square(10, -8), square(0, 10, int(side * 0.75))]
    imgs += [base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), base.filter(ImageFilter.GaussianBlur(1.5))]
    imgs.append(Image.open(io.BytesIO(jpeg.getvalue())).convert("RGB"))
    arr = [np.asarray(im, np.uint8) for im in imgs]
    rng = np.random.default_rng(seed)
    arr.append((arr[0].astype(np.float32) * 0.55).astype(np.uint8))
    arr.append(np.clip(arr[0] + rng.normal(0, 10, arr[0].shape), 0, 255).astype(np.uint8))
    arr.append(arr[0][..., ::-1])
    return np.ascontiguousarray(np.stack(arr))
