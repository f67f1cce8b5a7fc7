"""Detail transfer, unsharp mask and upscalers of the swap paste-back (`faces.detail`), on a real face: the
first frame of the sample man's clip, whose face is replaced by a 64 px copy of itself enlarged back (what a
64 px decoder gives)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deepfake_lab.faces import align_face, create_detector, face_mask, paste_back
from deepfake_lab.faces.detail import (
    UPSCALERS,
    decoder_pixel,
    feature_regions,
    high_pass,
    transfer_detail,
    unsharp_mask,
    upscale,
)
from deepfake_lab.faces.mask import paste_mask
from deepfake_lab.video import open_media

P, S = 256, 64


@pytest.fixture(scope="module")
def pasted(man_video):  # noqa: ANN001, ANN201
    """(original frame, frame with the blurred face pasted in, matrix, crop mask, frame landmarks68)."""
    with open_media(man_video) as r:
        frame = next(iter(r)).image
    with create_detector("mediapipe") as det:
        face = det(frame)[0]
    al = align_face(frame, face.mesh, P, 0.1)
    small = cv2.resize(al.image, (S, S), interpolation=cv2.INTER_AREA)
    blurry = upscale(small, P, "cubic")
    mask = paste_mask(face_mask(al.to_crop(face.landmarks68), (P, P)), erode=5, feather=15)
    return frame, paste_back(frame, blurry, al.matrix, mask), al.matrix, mask, face.landmarks68


def _weight(frame: np.ndarray, matrix: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inv = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    return cv2.warpAffine(mask.astype(np.float32), inv, frame.shape[1::-1], flags=cv2.INTER_LINEAR)


def _lap_var(img: np.ndarray, where: np.ndarray) -> float:
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return float(cv2.Laplacian(g, cv2.CV_32F)[where].var())


def test_detail_transfer_adds_high_frequencies_inside_the_mask_only(pasted) -> None:  # noqa: ANN001
    frame, result, matrix, mask, lm = pasted
    sigma = decoder_pixel(matrix, P, S)
    assert 1.0 < sigma < 10.0  # a ~200 px face rendered by 64 decoder pixels
    out = transfer_detail(result, frame, matrix, mask, lm, sigma=sigma)
    w = _weight(frame, matrix, mask)
    eyes_mouth = feature_regions(lm, frame.shape[:2], 0, 0) > 0
    skin = (w > 0.99) & ~cv2.dilate(eyes_mouth.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool)
    assert skin.sum() > 2000
    before, after, real = _lap_var(result, skin), _lap_var(out, skin), _lap_var(frame, skin)
    assert after > 3 * before  # the blurry face got its texture back ...
    assert after < 1.5 * real  # ... about as much as the frame had, not more
    # outside the paste region: bit for bit the pasted frame
    assert np.array_equal(out[w == 0], result[w == 0])
    # the low frequencies (identity, shape, colour) are the pasted face's
    lo = lambda x: cv2.GaussianBlur(x.astype(np.float32), (0, 0), 3 * sigma)  # noqa: E731
    assert np.abs(lo(out) - lo(result))[skin].mean() < 1.5


def test_eyes_and_mouth_get_no_detail_unless_asked(pasted) -> None:  # noqa: ANN001
    frame, result, matrix, mask, lm = pasted
    sigma = decoder_pixel(matrix, P, S)
    core = feature_regions(lm, frame.shape[:2], 0, 0) > 0  # the eye and lip hulls themselves
    assert core.sum() > 200
    out = transfer_detail(result, frame, matrix, mask, lm, sigma=sigma)
    assert np.array_equal(out[core], result[core])
    with_features = transfer_detail(result, frame, matrix, mask, lm, sigma=sigma, features=1.0)
    assert np.abs(with_features[core].astype(int) - result[core]).mean() > 1.0


def test_detail_amplitude_is_bounded_and_amount_zero_is_a_no_op(pasted) -> None:  # noqa: ANN001
    frame, result, matrix, mask, lm = pasted
    sigma = decoder_pixel(matrix, P, S)
    assert transfer_detail(result, frame, matrix, mask, lm, sigma=sigma, amount=0.0) is result
    out = transfer_detail(result, frame, matrix, mask, lm, sigma=sigma, limit=2.0)
    own = np.abs(high_pass(result, sigma)).max()  # what the result's own band can remove
    assert np.abs(out.astype(np.float32) - result).max() <= 2.0 + own + 1
    full = transfer_detail(result, frame, matrix, mask, lm, sigma=sigma, limit=255.0)
    half = transfer_detail(result, frame, matrix, mask, lm, sigma=sigma, limit=255.0, amount=0.5)
    d_full, d_half = (np.abs(x.astype(np.float32) - result).mean() for x in (full, half))
    assert 0.35 * d_full < d_half < 0.65 * d_full


def test_unsharp_mask_and_upscalers(pasted) -> None:  # noqa: ANN001
    frame = pasted[0]
    crop = cv2.resize(frame[100:228, 200:328], (S, S), interpolation=cv2.INTER_AREA)
    every = np.ones((P, P), bool)
    big = {m: upscale(crop, P, m) for m in UPSCALERS}
    assert all(b.shape == (P, P, 3) for b in big.values())
    for b in big.values():  # both enlarge without moving or recolouring: reduced again, the crop comes back
        assert np.abs(cv2.resize(b, (S, S), interpolation=cv2.INTER_AREA).astype(int) - crop).mean() < 2.0
    assert np.abs(big["lanczos"].astype(int) - big["cubic"]).max() > 0  # and they are different filters
    sharp = unsharp_mask(big["cubic"], P / S, 1.0)
    assert _lap_var(sharp, every) > 1.5 * _lap_var(big["cubic"], every)
    assert unsharp_mask(big["cubic"], P / S, 0.0) is big["cubic"]
    with pytest.raises(ValueError, match="upscaler"):
        upscale(crop, P, "nearest")
