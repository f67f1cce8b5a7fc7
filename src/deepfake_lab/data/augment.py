"""Robustness augmentations for detectors: the "low video quality" a detector meets in the wild.

Library functions on images as uint8 or float tensors/arrays; each returns the same type, dtype and layout
it was given. Layouts: torch tensors are channel-first [C, H, W] or [B, C, H, W]; numpy arrays are
channel-last [H, W, C] / [H, W] or [B, H, W, C] (the PIL/OpenCV convention). Floats are in [0, 1].

* `jpeg(x, quality)` — JPEG re-compression with PIL (quality 1–100).
* `gaussian_blur(x, sigma)` — separable Gaussian blur, reflect padding.
* `resize_roundtrip(x, scale)` — downscale by `scale` (antialiased bilinear), then upscale back.
* `h264_roundtrip(x, crf)` — encode the images as the frames of one short H.264 clip (PyAV, libx264,
  yuv420p, preset ultrafast, one encoder thread) at constant rate factor `crf` and decode it again.
* `color_jitter(x, brightness, contrast, saturation)` — multiplicative jitter factors.
* `RobustnessAugment` — applies each of them to each image of a batch with its own probability.

Example:
    >>> import torch
    >>> x = torch.rand(4, 3, 32, 32)
    >>> jpeg(x, 30).shape, gaussian_blur(x, 1.0).dtype
    (torch.Size([4, 3, 32, 32]), torch.float32)
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from deepfake_lab.errors import BadInputError

ImageLike = TypeVar("ImageLike", Tensor, np.ndarray)


# ---------------------------------------------------------------- layout plumbing
def _to_batch(x: Tensor | np.ndarray) -> tuple[Tensor, Callable[[Tensor], Any]]:
    """Any accepted input -> (float32 [B, C, H, W] in [0, 1], function mapping such a batch back)."""
    is_np = isinstance(x, np.ndarray)
    t = torch.from_numpy(np.ascontiguousarray(x)) if is_np else x
    dtype, device = t.dtype, t.device
    if is_np:
        if t.dim() == 2:  # [H, W]
            t = t[None, None]
            unbatch: Callable[[Tensor], Tensor] = lambda b: b[0, 0]  # noqa: E731
        elif t.dim() == 3:  # [H, W, C]
            t = t.permute(2, 0, 1)[None]
            unbatch = lambda b: b[0].permute(1, 2, 0)  # noqa: E731
        elif t.dim() == 4:  # [B, H, W, C]
            t = t.permute(0, 3, 1, 2)
            unbatch = lambda b: b.permute(0, 2, 3, 1)  # noqa: E731
        else:
            raise ValueError(f"expected an image array [H, W(, C)] or [B, H, W, C], got shape {tuple(x.shape)}")
    elif t.dim() == 3:
        t = t[None]
        unbatch = lambda b: b[0]  # noqa: E731
    elif t.dim() == 4:
        unbatch = lambda b: b  # noqa: E731
    else:
        raise ValueError(f"expected an image tensor [C, H, W] or [B, C, H, W], got shape {tuple(x.shape)}")
    if t.shape[1] not in (1, 3):
        raise ValueError(f"images need 1 or 3 channels, got {t.shape[1]}")
    f = t.float().div(255.0) if dtype == torch.uint8 else t.float()

    def back(b: Tensor) -> Any:
        b = b.clamp(0, 1)
        out = (b * 255.0).round().to(torch.uint8) if dtype == torch.uint8 else b.to(dtype)
        out = unbatch(out)
        return out.contiguous().numpy() if is_np else out.to(device)

    return f.cpu(), back


def _batch_uint8_hwc(x: Tensor) -> np.ndarray:
    """float [B, C, H, W] in [0, 1] -> uint8 [B, H, W, C]."""
    return (x.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def _from_uint8_hwc(a: np.ndarray) -> Tensor:
    """uint8 [B, H, W, C] -> float [B, C, H, W] in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float().div(255.0)


# ---------------------------------------------------------------- the augmentations
def jpeg(x: ImageLike, quality: int | Sequence[int]) -> ImageLike:
    """JPEG re-compression (PIL, 4:2:0 chroma subsampling for colour images).

    Args:
        x: images (see the module docstring for layouts).
        quality: 1–100, one value or one per image.

    Returns:
        the re-compressed images, same type/dtype/layout as x.
    """
    from PIL import Image

    b, back = _to_batch(x)
    qs = [int(quality)] * len(b) if np.isscalar(quality) else [int(q) for q in quality]  # type: ignore[arg-type]
    if len(qs) != len(b) or not all(1 <= q <= 100 for q in qs):
        raise ValueError(f"quality must be 1..100, one value or one per image; got {quality}")
    arr = _batch_uint8_hwc(b)
    out = np.empty_like(arr)
    for i, (img, q) in enumerate(zip(arr, qs, strict=True)):
        pil = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
        buf = io.BytesIO()
        pil.save(buf, format="JPEG", quality=q)
        buf.seek(0)
        with Image.open(buf) as dec:
            out[i] = np.asarray(dec.convert(pil.mode)).reshape(img.shape)
    return back(_from_uint8_hwc(out))


def gaussian_kernel1d(sigma: float) -> Tensor:
    """Normalised 1-D Gaussian of radius ceil(3σ): [2·ceil(3σ) + 1]."""
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(x: ImageLike, sigma: float) -> ImageLike:
    """Separable Gaussian blur with standard deviation `sigma` pixels (reflect padding).

    Args:
        x: images (see the module docstring for layouts).
        sigma: standard deviation in pixels (> 0).
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    b, back = _to_batch(x)
    k = gaussian_kernel1d(float(sigma))
    r = len(k) // 2
    c = b.shape[1]
    h, w = b.shape[-2:]
    ry, rx = min(r, h - 1), min(r, w - 1)
    y = F.pad(b, (rx, rx, ry, ry), mode="reflect") if (rx or ry) else b
    kx = k[r - rx : r + rx + 1].view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = k[r - ry : r + ry + 1].view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    y = F.conv2d(F.conv2d(y, kx / kx.sum(-1, keepdim=True), groups=c), ky / ky.sum(-2, keepdim=True), groups=c)
    return back(y)


def resize_roundtrip(x: ImageLike, scale: float) -> ImageLike:
    """Downscale by `scale` (0 < scale <= 1, antialiased bilinear) and upscale back to the input size (bilinear)."""
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    b, back = _to_batch(x)
    h, w = b.shape[-2:]
    small = (max(1, round(h * scale)), max(1, round(w * scale)))
    y = F.interpolate(b, size=small, mode="bilinear", antialias=True, align_corners=False)
    return back(F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False))


def h264_roundtrip(x: ImageLike, crf: int, *, preset: str = "ultrafast") -> ImageLike:
    """Encode the images as consecutive frames of one H.264 clip (libx264, yuv420p) and decode them back.

    One image is a 1-frame (intra) video; a batch is a short clip, so later frames are P-frames predicted from
    earlier ones — the same mix of intra and inter coding a face crop gets in a real video. Odd sides are
    padded (edge) to even for 4:2:0 and cropped afterwards.

    Args:
        x: images (see the module docstring for layouts); all frames share one size.
        crf: constant rate factor 0–51 (higher = lower quality; 23 is x264's default).
        preset: x264 speed preset.
    """
    import av

    if not 0 <= int(crf) <= 51:
        raise ValueError(f"crf must be in 0..51, got {crf}")
    b, back = _to_batch(x)
    n, c, h, w = b.shape
    ph, pw = h % 2, w % 2
    rgb = b.expand(-1, 3, -1, -1) if c == 1 else b
    if ph or pw:
        rgb = F.pad(rgb, (0, pw, 0, ph), mode="replicate")
    frames = _batch_uint8_hwc(rgb)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="h264") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height = w + pw, h + ph
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(int(crf)), "preset": preset, "tune": "zerolatency", "threads": "1"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buf.seek(0)
    from deepfake_lab.video.reader import rgb_converter

    to_rgb = rgb_converter()
    with av.open(buf, mode="r", format="h264") as inp:
        decoded = [to_rgb(frame) for frame in inp.decode(video=0)]
    if len(decoded) != n:
        raise RuntimeError(f"H.264 round trip returned {len(decoded)} frames for {n}")
    y = _from_uint8_hwc(np.stack(decoded))[:, :, :h, :w]
    if c == 1:
        y = y.mean(1, keepdim=True)
    return back(y)


def color_jitter(x: ImageLike, brightness: float = 1.0, contrast: float = 1.0, saturation: float = 1.0) -> ImageLike:
    """Multiply brightness, scale contrast about the per-image mean, blend with grayscale for saturation.

    Args:
        x: images (see the module docstring for layouts).
        brightness: factor on the intensities (1 = unchanged).
        contrast: factor on the deviation from the image's mean luma.
        saturation: 0 = grayscale, 1 = unchanged (no effect on 1-channel images).
    """
    b, back = _to_batch(x)
    y = b * brightness
    luma = (
        y.mean(1, keepdim=True)
        if y.shape[1] == 1
        else (y * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    )
    y = (y - luma.mean((2, 3), keepdim=True)) * contrast + luma.mean((2, 3), keepdim=True)
    if y.shape[1] == 3:
        y = luma + (y - luma) * saturation
    return back(y)


# ---------------------------------------------------------------- random pipeline
@dataclass
class RobustnessAugment:
    """Each augmentation is applied to each image independently with its probability, in a fixed order
    (colour jitter, blur, resize, JPEG, H.264). H.264 encodes the selected images of a batch as one clip.

    Args:
        jpeg_p: probability of JPEG re-compression.
        jpeg_quality: [low, high] quality range (inclusive).
        blur_p: probability of Gaussian blur.
        blur_sigma: [low, high] σ range in pixels.
        resize_p: probability of a down/up-scale round trip.
        resize_scale: [low, high] downscale factor range.
        h264_p: probability of an H.264 round trip (per image; the chosen ones share one clip and CRF).
        h264_crf: [low, high] CRF range (inclusive).
        jitter_p: probability of colour jitter.
        jitter_strength: factors are drawn from [1 - s, 1 + s].
    """

    jpeg_p: float = 0.0
    jpeg_quality: Sequence[int] = (30, 100)
    blur_p: float = 0.0
    blur_sigma: Sequence[float] = (0.2, 2.0)
    resize_p: float = 0.0
    resize_scale: Sequence[float] = (0.25, 0.75)
    h264_p: float = 0.0
    h264_crf: Sequence[int] = (18, 40)
    jitter_p: float = 0.0
    jitter_strength: float = 0.2
    _checked: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("jpeg_p", "blur_p", "resize_p", "h264_p", "jitter_p"):
            p = getattr(self, name)
            if not 0 <= p <= 1:
                raise BadInputError(f"{name} must be a probability in [0, 1], got {p}")
        for name, lo_ok, hi_ok in (
            ("jpeg_quality", 1, 100),
            ("blur_sigma", 1e-3, 50),
            ("resize_scale", 1e-3, 1),
            ("h264_crf", 0, 51),
        ):
            rng = getattr(self, name)
            if len(rng) != 2 or not lo_ok <= rng[0] <= rng[1] <= hi_ok:
                raise BadInputError(f"{name} must be [low, high] within [{lo_ok}, {hi_ok}], got {list(rng)}")
        if not 0 <= self.jitter_strength < 1:
            raise BadInputError(f"jitter_strength must be in [0, 1), got {self.jitter_strength}")

    @property
    def active(self) -> bool:
        return any(p > 0 for p in (self.jpeg_p, self.blur_p, self.resize_p, self.h264_p, self.jitter_p))

    def __call__(self, x: Tensor, rng: np.random.Generator) -> Tensor:
        """x: float [B, C, H, W] in [0, 1] -> augmented copy (float32, CPU, contiguous)."""
        y = x.detach().float().cpu().contiguous().clone()
        n = len(y)

        def pick(p: float) -> np.ndarray:
            return np.flatnonzero(rng.random(n) < p) if p > 0 else np.empty(0, dtype=np.int64)

        s = self.jitter_strength
        for i in pick(self.jitter_p):
            f = rng.uniform(1 - s, 1 + s, size=3)
            y[i] = color_jitter(y[i], float(f[0]), float(f[1]), float(f[2]))
        for i in pick(self.blur_p):
            y[i] = gaussian_blur(y[i], float(rng.uniform(*self.blur_sigma)))
        for i in pick(self.resize_p):
            y[i] = resize_roundtrip(y[i], float(rng.uniform(*self.resize_scale)))
        idx = pick(self.jpeg_p)
        if len(idx):
            q = rng.integers(self.jpeg_quality[0], self.jpeg_quality[1] + 1, size=len(idx))
            y[idx] = jpeg(y[idx], q.tolist())
        idx = pick(self.h264_p)
        if len(idx):
            y[idx] = h264_roundtrip(y[idx], int(rng.integers(self.h264_crf[0], self.h264_crf[1] + 1)))
        return y
