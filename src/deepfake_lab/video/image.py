"""Still images in: JPEG/PNG/WebP/BMP/TIFF read as upright 8-bit RGB arrays.

EXIF orientation is applied, grayscale / palette / CMYK / RGBA / 16-bit / float images are converted, and a
declared size above `max_pixels` is refused *before* the pixels are decoded (decompression-bomb guard).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from deepfake_lab.errors import BadInputError

__all__ = ["IMAGE_EXTENSIONS", "DEFAULT_MAX_PIXELS", "is_image_path", "read_image", "to_rgb8", "image_size"]

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pbm"}
)
"""File suffixes (lower case) treated as still images."""

DEFAULT_MAX_PIXELS: int = 100_000_000
"""Largest declared image size (width × height) accepted by default: 100 megapixels."""


def is_image_path(path: str | Path) -> bool:
    """True when the file suffix is one of `IMAGE_EXTENSIONS` (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def to_rgb8(image: Image.Image) -> np.ndarray:
    """Convert a PIL image of any mode to an 8-bit RGB array.

    16-bit and 32-bit integer modes are scaled down (not clipped), float modes are taken as 0..1 when their
    maximum is <= 1 and as 0..255 otherwise, alpha is composited over black, CMYK/YCbCr/palette converted.

    Args:
        image: a loaded PIL image.

    Returns:
        (H, W, 3) uint8 array, C-contiguous.
    """
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(image)
        if mode == "I":
            # 32-bit ints: PNG 16-bit grayscale is opened as "I" by some Pillow versions.
            hi = int(arr.max()) if arr.size else 0
            shift = 8 if hi <= 0xFFFF and hi > 0xFF else (0 if hi <= 0xFF else 24)
            gray = (np.clip(arr, 0, None) >> shift).astype(np.uint8)
        else:
            gray = (arr.astype(np.uint16) >> 8).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
    if mode == "F":
        arr = np.asarray(image, dtype=np.float32)
        scale = 255.0 if arr.size and float(np.nanmax(arr)) <= 1.0 else 1.0
        gray = np.clip(np.nan_to_num(arr) * scale + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:4] / 255.0
        return np.ascontiguousarray((rgba[..., :3] * alpha + 0.5).astype(np.uint8))
    if mode != "RGB":
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def _open(path: Path, max_pixels: int) -> Image.Image:
    """Open (header only) with the size guard; errors become `BadInputError`."""
    if path.is_dir():
        raise BadInputError(f"{path}: is a folder, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise BadInputError(f"{path}: image too large, refused before decoding ({exc})") from None
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file") from None
    except PermissionError:
        raise BadInputError(f"{path}: permission denied") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        size = path.stat().st_size if path.exists() else -1
        why = "empty file" if size == 0 else f"not a readable image ({type(exc).__name__})"
        raise BadInputError(f"{path}: {why}") from None
    w, h = image.size
    if w <= 0 or h <= 0:
        raise BadInputError(f"{path}: image has no pixels ({w}x{h})")
    if w * h > max_pixels:
        image.close()
        raise BadInputError(
            f"{path}: image too large ({w}x{h} = {w * h / 1e6:.0f} MP declared, "
            f"limit {max_pixels / 1e6:.0f} MP), refused before decoding"
        )
    return image


def image_size(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """Upright (width, height) of an image, read from its header only (EXIF rotation applied)."""
    path = Path(path)
    with _open(path, max_pixels) as image:
        w, h = image.size
        orientation = image.getexif().get(0x0112, 1)
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def read_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read a still image as upright 8-bit RGB.

    Args:
        path: JPEG, PNG, WebP, BMP, TIFF, GIF (first frame) or PPM file.
        max_pixels: refuse images whose *declared* width × height exceeds this, before decoding.

    Returns:
        (H, W, 3) uint8 RGB array, EXIF orientation applied.

    Raises:
        BadInputError: missing, empty, corrupt, truncated or oversized file.

    Example:
        >>> rgb = read_image("photo.jpg")  # doctest: +SKIP
        >>> rgb.shape, rgb.dtype  # doctest: +SKIP
        ((562, 572, 3), dtype('uint8'))
    """
    path = Path(path)
    image = _open(path, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            image = ImageOps.exif_transpose(image) or image
        return to_rgb8(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise BadInputError(f"{path}: corrupt or truncated image ({exc})") from None
    finally:
        image.close()
