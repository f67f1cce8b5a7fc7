"""An exact re-implementation of invisible-watermark 0.2.0 `dwtDct`, kept for the compatibility check.

`deepfake_lab.provenance.watermark` explains why the library itself is not used and how our scheme differs.
`maxdct_compat_encode` / `maxdct_compat_decode` reproduce the library bit for bit, quirks included; they were
checked against the library's own output (`python benchmarks/provenance.py compat --scratch-python ...`;
benchmarks/RESULTS.md). This file needs only numpy, PyWavelets and OpenCV, so the benchmark loads it in a
scratch environment where the package is not installed.
"""

from __future__ import annotations

import numpy as np
import pywt


def _cv2_bgr2yuv_u8(bgr: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)


def maxdct_compat_encode(
    bgr: np.ndarray, bits: list[int], scales: tuple[float, float, float] = (0, 36, 36), block: int = 4
) -> np.ndarray:
    """invisible-watermark 0.2.0 `WatermarkEncoder.encode(bgr, "dwtDct")`, bit for bit (quirks included).

    Args:
        bgr: uint8 (H, W, 3) BGR (the library's convention).
        bits: the watermark bits (block n carries bits[n % len(bits)]).
    """
    import cv2

    row, col = bgr.shape[:2]
    yuv = _cv2_bgr2yuv_u8(bgr)
    for channel in range(2):  # the library visits channels 0 and 1 only
        if scales[channel] <= 0:
            continue
        ca1, (h1, v1, d1) = pywt.dwt2(yuv[: row // 4 * 4, : col // 4 * 4, channel], "haar")
        scale = scales[channel]
        num = 0
        for i in range(ca1.shape[0] // block):
            for j in range(ca1.shape[1] // block):
                blk = ca1[i * block : (i + 1) * block, j * block : (j + 1) * block]
                pos = int(np.argmax(np.abs(blk.flatten()[1:]))) + 1
                bi, bj = pos // block, pos % block
                val = blk[bi, bj]
                bit = bits[num % len(bits)]
                mag = (abs(val) // scale + 0.25 + 0.5 * bit) * scale
                blk[bi, bj] = mag if val >= 0 else -mag
                num += 1
        rec = pywt.idwt2((ca1, (v1, h1, d1)), "haar")  # sic: h and v swapped, as in the library
        yuv[: row // 4 * 4, : col // 4 * 4, channel] = rec  # sic: unsafe cast to uint8, as in the library
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR)


def maxdct_compat_decode(
    bgr: np.ndarray, n_bits: int, scales: tuple[float, float, float] = (0, 36, 36), block: int = 4
) -> np.ndarray:
    """invisible-watermark 0.2.0 `WatermarkDecoder.decode(bgr, "dwtDct")` bits: (n_bits,) bool."""
    row, col = bgr.shape[:2]
    yuv = _cv2_bgr2yuv_u8(bgr)
    scores: list[list[int]] = [[] for _ in range(n_bits)]
    for channel in range(2):
        if scales[channel] <= 0:
            continue
        ca1 = pywt.dwt2(yuv[: row // 4 * 4, : col // 4 * 4, channel], "haar")[0]
        scale = scales[channel]
        num = 0
        for i in range(ca1.shape[0] // block):
            for j in range(ca1.shape[1] // block):
                blk = ca1[i * block : (i + 1) * block, j * block : (j + 1) * block]
                pos = int(np.argmax(np.abs(blk.flatten()[1:]))) + 1
                val = abs(blk[pos // block, pos % block])
                scores[num % n_bits].append(int((val % scale) > 0.5 * scale))
                num += 1
    avg = np.array([np.mean(s) for s in scores])
    return avg * 255 > 127
