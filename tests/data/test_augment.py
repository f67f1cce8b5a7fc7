"""Robustness augmentations change images as intended and keep type, dtype and layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepfake_lab.data.augment import (
    RobustnessAugment,
    color_jitter,
    gaussian_blur,
    h264_roundtrip,
    jpeg,
    resize_roundtrip,
)
from deepfake_lab.errors import BadInputError
from support.realfake_toy import make_toy


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    x, _ = make_toy(4, 64, seed=3)
    return x.float() / 255  # [8, 3, 64, 64]


def _hf_energy(x: torch.Tensor) -> float:
    """Energy of the horizontal + vertical first differences (a high-pass)."""
    return float(x.diff(dim=-1).pow(2).mean() + x.diff(dim=-2).pow(2).mean())


def test_jpeg_q30_differs_more_than_q95(images):
    mse30 = (jpeg(images, 30) - images).pow(2).mean()
    mse95 = (jpeg(images, 95) - images).pow(2).mean()
    assert mse30 > 1.5 * mse95 > 0


def test_blur_lowers_high_frequency_energy(images):
    assert _hf_energy(gaussian_blur(images, 1.5)) < 0.5 * _hf_energy(images)
    assert _hf_energy(gaussian_blur(images, 0.5)) > _hf_energy(gaussian_blur(images, 1.5))
    torch.testing.assert_close(gaussian_blur(images, 1.0).mean(), images.mean(), atol=2e-3, rtol=0)


def test_resize_roundtrip_loses_detail(images):
    y = resize_roundtrip(images, 0.25)
    assert y.shape == images.shape and _hf_energy(y) < _hf_energy(images)


@pytest.mark.parametrize("shape", [(3, 64, 64), (5, 3, 32, 48), (2, 1, 33, 31)])
def test_h264_roundtrip_keeps_shape_and_dtype(shape):
    x = torch.rand(shape)
    y = h264_roundtrip(x, 28)
    assert y.shape == x.shape and y.dtype == x.dtype
    u8 = (x * 255).to(torch.uint8)
    assert h264_roundtrip(u8, 28).dtype == torch.uint8


def test_h264_higher_crf_loses_more(images):
    e_hi = (h264_roundtrip(images, 45) - images).abs().mean()
    e_lo = (h264_roundtrip(images, 15) - images).abs().mean()
    assert e_hi > e_lo


def test_numpy_hwc_uint8_in_numpy_hwc_uint8_out():
    a = (np.random.default_rng(0).random((40, 36, 3)) * 255).astype(np.uint8)
    for y in (
        jpeg(a, 50),
        gaussian_blur(a, 1.0),
        resize_roundtrip(a, 0.5),
        h264_roundtrip(a, 30),
        color_jitter(a, 1.1),
    ):
        assert isinstance(y, np.ndarray) and y.shape == a.shape and y.dtype == np.uint8
    g = a[..., 0]
    assert jpeg(g, 50).shape == g.shape


def test_color_jitter_factors(images):
    torch.testing.assert_close(color_jitter(images), images)
    assert color_jitter(images, brightness=0.5).mean() < images.mean()
    gray = color_jitter(images, saturation=0.0)
    assert (gray[:, 0] - gray[:, 1]).abs().max() < 1e-5


def test_random_pipeline_probabilities(images):
    rng = np.random.default_rng(0)
    assert torch.equal(RobustnessAugment()(images, rng), images)
    aug = RobustnessAugment(jpeg_p=1.0, jpeg_quality=(30, 30))
    torch.testing.assert_close(aug(images, rng), jpeg(images, 30))
    mixed = RobustnessAugment(jpeg_p=0.5, blur_p=0.5, resize_p=0.5, h264_p=0.5, jitter_p=0.5)(images, rng)
    assert mixed.shape == images.shape and torch.isfinite(mixed).all()
    with pytest.raises(BadInputError, match="jpeg_quality"):
        RobustnessAugment(jpeg_quality=(10, 101))
    with pytest.raises(BadInputError, match="blur_p"):
        RobustnessAugment(blur_p=1.5)
