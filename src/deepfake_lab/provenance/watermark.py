"""Invisible watermark: a 64-bit payload (tool, command, model id, run id, CRC-16; `provenance.payload`) hidden
in the Haar-DWT / DCT domain of every generated image and video frame.

Why not the `invisible-watermark` library itself: its 0.2.0 wheel declares `opencv-python`, a second OpenCV
wheel beside the `opencv-contrib-python` that mediapipe brings (both write the same `cv2` folder), and it
declares torch/onnxruntime for its RivaGAN mode. So the scheme is implemented here on numpy.

The library's `dwtDct` method (imwatermark/maxDct.py) works like this, per YUV channel with a step `scale`:
one-level Haar DWT, keep the LL band, cut it into 4×4 blocks, and in each block quantise one coefficient to
`(k + 0.25 + 0.5·bit)·scale` (quantisation index modulation); block n carries payload bit n mod len. Decoding
reads `(|c| mod scale) > scale/2` per block and averages the votes of each bit. `maxdct_compat_encode` and
`maxdct_compat_decode` in `provenance.watermark_compat` reproduce that exactly (including its quirks: the
quantised coefficient is the largest-magnitude LL value of the block — despite the name no DCT is taken —, only
channels 0 and 1 are visited, detail bands h/v are swapped on reconstruction, and the channel is truncated to
uint8); they were checked against the library's own output in a scratch environment: identical images and bits
on 8 real frames (`python benchmarks/provenance.py compat --scratch-python /tmp/iwm/bin/python`; benchmarks/RESULTS.md).

The scheme used for our outputs keeps that skeleton (Haar LL → 4×4 blocks → QIM with offsets 0.25/0.75) and
fixes what made it fragile, measured on real frames after H.264 and JPEG (`benchmarks/provenance.py`):

- a real orthonormal 4×4 DCT of each LL block, and two *fixed* low-frequency coefficients (0,1) and (1,0)
  carry the bit: the library's "largest coefficient" changes place after re-encoding, so the decoder often
  reads the wrong one; low frequencies also survive JPEG/H.264 quantisation and 0.5× resizing;
- nearest-lattice QIM (smallest change) in float YUV, rounded once at the end (no uint8 truncation);
- soft decoding (each block votes −sin(2π·c/scale) ∈ [−1, 1]) and Y + U + V channels voting together;
- a sync structure for crops: the 64 bits are laid out on a periodic 8×8 tile of blocks XOR a fixed
  pseudo-random key, so any crop still holds whole tiles; the decoder searches the 8×8 pixel phase and
  the 64 cyclic tile shifts and accepts a candidate only when the 8-bit tool tag and the CRC-16 match and the
  votes agree strongly (false-positive guard);
- images downscaled by 2 are decoded after a 2× upscale;
- videos: `decode_pooled` sums the votes of several frames (same payload in each) before deciding.

Implementation: the Haar DWT and the block DCT are orthonormal and only two coefficients per block change, so
`embed_watermark` never runs the transforms: each carrier coefficient is the correlation of its 8×8 pixel block
with a separable kernel (k0·r1[x] or k0·r1[y]), read for all blocks at once from block-row / block-column
means, and the QIM change goes back to the pixels as the same kernels times the coefficient change (the pixels
equal the transform-domain definition up to float rounding: ±1 on < 1e-4 of them; tested). RGB↔YUV is linear,
so the Y/U/V changes are mixed back to R/G/B changes. About 10× faster than DWT → DCT → IDCT → IDWT.
Decoding reads one known grid phase from its own blocks; the 64-phase search (a central window of at most
`SEARCH_WINDOW` pixels) uses separable filters over the whole window and sums every phase's tiles at once.

Images smaller than `MIN_SIDE` pixels on a side cannot hold two whole tiles; `prepare_small` enlarges them by
an integer factor (nearest neighbour, contents unchanged) and callers say so.

Example:
    >>> import numpy as np
    >>> from deepfake_lab.provenance.payload import WatermarkPayload
    >>> from deepfake_lab.provenance.watermark import embed_watermark, decode_watermark
    >>> img = np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    >>> p = WatermarkPayload(kind="sample", model_id=0x12345, run_id=0x2BCDE)
    >>> decode_watermark(embed_watermark(img, p)).payload == p
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepfake_lab.provenance.payload import BITS, TAG_BITS, WatermarkPayload

__all__ = [
    "MIN_SIDE",
    "WatermarkResult",
    "WatermarkConfig",
    "embed_watermark",
    "decode_watermark",
    "decode_pooled",
    "prepare_small",
]

TILE = 8  # the payload tile is TILE×TILE blocks (one bit each)
BLOCK = 4  # block side in the LL band (= 8 pixels)
PIX = 2 * BLOCK  # block side in pixels
MIN_SIDE = 2 * TILE * PIX  # 128: two whole tiles per side
SEARCH_WINDOW = 640  # the phase search looks at a central window this big (a 640×360 frame: all of it)
_KEY = np.random.default_rng(0xDF1AB).integers(0, 2, BITS).astype(np.uint8)
_COEFFS = ((0, 1), (1, 0))


def _dct_matrix(n: int = BLOCK) -> np.ndarray:
    """Orthonormal DCT-II matrix (same as cv2.dct): X = D @ x @ D.T."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    d[0] /= np.sqrt(2.0)
    return d


_D = _dct_matrix()


@dataclass(frozen=True)
class WatermarkConfig:
    """Embedding strength: QIM step per channel (Y, U, V) in 8-bit units of the LL-band DCT coefficient.

    The defaults were chosen with `benchmarks/provenance.py` on 60 real 640×360 frames (benchmarks/RESULTS.md):
    PSNR 39.4 dB / SSIM 0.944, payload recovered in every frame after JPEG q50 and H.264 CRF 28. The weaker
    (10, 24, 24) gives 43.6 dB but loses JPEG q50 and CRF 28.
    """

    scales: tuple[float, float, float] = (16.0, 40.0, 40.0)


DEFAULT_CONFIG = WatermarkConfig()


@dataclass
class WatermarkResult:
    """What `decode_watermark` found.

    Attributes:
        payload: the decoded payload, or None when no valid watermark was found.
        agreement: fraction of block votes that agree with the decoded bits (0.5 = chance, 1 = perfect).
        offset: (dy, dx) pixel phase of the block grid, and `scale` the upscale used (1 or 2).
    """

    payload: WatermarkPayload | None
    agreement: float = 0.0
    offset: tuple[int, int] = (0, 0)
    scale: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return self.payload is not None


def _rgb_to_yuv(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) RGB -> float64 YUV (BT.601, U/V offset 128; the formula of cv2.COLOR_RGB2YUV)."""
    x = rgb.astype(np.float64)
    y = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    u = 0.492 * (x[..., 2] - y) + 128.0
    v = 0.877 * (x[..., 0] - y) + 128.0
    return np.stack([y, u, v], axis=-1)


def _tile_bits(bits: np.ndarray, nr: int, nc: int) -> np.ndarray:
    """Bit of every block (nr, nc): the keyed payload on a periodic TILE×TILE layout."""
    tile = (bits ^ _KEY).reshape(TILE, TILE)
    return np.tile(tile, (-(-nr // TILE), -(-nc // TILE)))[:nr, :nc]


def _pixel_kernel(u: int, v: int) -> np.ndarray:
    """8×8 pixel kernel whose correlation with a block gives DCT coefficient (u, v) of its Haar LL block."""
    k = np.outer(_D[u], _D[v]) / 2.0  # haar LL = (sum of 2×2) / 2
    return np.repeat(np.repeat(k, 2, axis=0), 2, axis=1)


_KERNELS = [_pixel_kernel(i, j) for i, j in _COEFFS]
# (64, 2): the carrier coefficients of a flattened 8×8 pixel block are `block @ _KMAT` (the definition;
# `_carriers` computes the same from cell means); since the Haar DWT and the block DCT are orthonormal,
# changing those coefficients by d changes the pixels by `d @ _KMAT.T`.
_KMAT = np.stack([k.reshape(-1) for k in _KERNELS], axis=1)
# both kernels are outer products of the 8-vectors k0·1 (k0 = 1/(2·sqrt 2)) and r1 = D[1] repeated twice / sqrt 2:
# kernel (0, 1) = k0·r1[x], kernel (1, 0) = k0·r1[y]
_SEP = (np.repeat(_D[0], 2)[0] / np.sqrt(2) * np.repeat(_D[1], 2) / np.sqrt(2)).astype(np.float32)
_SEP2 = np.ascontiguousarray(_SEP[::2])  # _SEP is constant over pixel pairs: its value per 2×2 cell
# RGB -> YUV (BT.601, `_rgb_to_yuv` without the +128 offsets, which carrier coefficients do not see)
_RGB2YUV = np.array([[0.299, 0.587, 0.114], [-0.492 * 0.299, -0.492 * 0.587, 0.492 * 0.886],
                     [0.877 * 0.701, -0.877 * 0.587, -0.877 * 0.114]])  # fmt: skip
_YUV2RGB = np.linalg.inv(_RGB2YUV)
_RGB2YUV32 = _RGB2YUV.astype(np.float32)
_RGB2YUV_AFFINE = np.hstack([_RGB2YUV, [[0.0], [128.0], [128.0]]]).astype(np.float32)  # for cv2.transform


def _carriers(image: np.ndarray, dy: int, dx: int, nr: int, nc: int) -> np.ndarray:
    """Carrier coefficients of the (nr, nc) 8×8 blocks of `image` at grid phase (dy, dx): (planes, nr·nc, 2)
    float32, coefficient (0, 1) then (1, 0), planes Y, U, V (colour) or gray.

    The kernels are constant over 2×2 pixel cells (the Haar LL band), so this works on cell means: the
    carriers are block-column means · r1 and block-row means · r1 of the half-size image, and the colour mix
    to YUV (linear) is done on the cells. Area resizes and sums only: no per-block copies and no BLAS call
    (whose threads would spin beside a scan)."""
    import cv2

    hh, ww = nr * PIX, nc * PIX
    region = image[dy : dy + hh, dx : dx + ww].astype(np.float32, copy=False)
    cells = cv2.resize(region, (ww // 2, hh // 2), interpolation=cv2.INTER_AREA)
    if cells.ndim == 3:
        cells = cv2.transform(cells, _RGB2YUV32)
    col_means = cv2.resize(cells, (ww // 2, nr), interpolation=cv2.INTER_AREA).reshape(nr, nc, BLOCK, -1)
    row_means = cv2.resize(cells, (nc, hh // 2), interpolation=cv2.INTER_AREA).reshape(nr, BLOCK, nc, -1)
    c01 = (col_means * _SEP2[:, None]).sum(2)  # (nr, nc, planes)
    c10 = (row_means * _SEP2[:, None, None]).sum(1)
    coef = np.stack([c01, c10], -1).reshape(nr * nc, -1, 2).transpose(1, 0, 2)
    return coef * np.float32(2 * PIX)


def _qim_delta(coef: np.ndarray, bits: np.ndarray, scale: float) -> np.ndarray:
    """Nearest-lattice QIM change of carrier coefficients (n, 2) whose blocks carry `bits` (n,) ∈ {0, 1}."""
    off = (scale * (0.25 + 0.5 * bits.astype(np.float64)))[:, None]
    c = coef.astype(np.float64)
    return np.round((c - off) / scale) * scale + off - c


def embed_watermark(
    image: np.ndarray, payload: WatermarkPayload, config: WatermarkConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """Embed `payload` into an image.

    Args:
        image: uint8 (H, W, 3) RGB or (H, W) grayscale, at least `PIX` pixels on each side (`MIN_SIDE` for
            crop robustness; see `prepare_small`).
        payload: the 64-bit payload.
        config: embedding strength.

    Returns:
        uint8 array of the same shape (grayscale stays grayscale: only Y carries the mark).
    """
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"expected uint8 (H, W[, 3]) image, got {image.shape} {image.dtype}")
    if min(image.shape[:2]) < PIX:
        raise ValueError(f"image {image.shape[:2]} is too small for a watermark (min side {PIX})")
    import cv2

    h, w = image.shape[:2]
    nr, nc = h // PIX, w // PIX
    hh, ww = nr * PIX, nc * PIX
    hh2, ww2 = hh // 2, ww // 2
    coef = _carriers(image, 0, 0, nr, nc)  # (planes Y,U,V or gray, nr·nc, 2)
    blk_bits = _tile_bits(payload.to_bits(), nr, nc).reshape(-1)
    scales = config.scales[:1] if image.ndim == 2 else config.scales
    delta = np.stack([_qim_delta(coef[c], blk_bits, s) if s > 0 else np.zeros(coef.shape[1:]) for c, s in
                      enumerate(scales)])  # fmt: skip
    if image.ndim == 3:  # back to R/G/B coefficient changes (YUV -> RGB is linear)
        delta = (_YUV2RGB @ delta.reshape(3, -1)).reshape(delta.shape)
    # Pixel change of block (i, j): d0·r1[x] + d1·r1[y] (times k0, folded into _SEP): one pattern along x per
    # block row plus one pattern along y per block column, each expanded over the other axis; built on the
    # 2×2 cells, then enlarged (nearest) to pixels.
    d = delta.astype(np.float32).transpose(1, 2, 0).reshape(nr, nc, 2, -1)  # (nr, nc, 2, planes)
    along_x = (d[:, :, None, 0] * _SEP2[None, None, :, None]).reshape(nr, 1, ww2, -1)
    along_y = np.ascontiguousarray((d[:, None, :, 1] * _SEP2[None, :, None, None]).reshape(hh2, nc, -1))
    half = cv2.resize(along_y, (ww2, hh2), interpolation=cv2.INTER_NEAREST).reshape(nr, BLOCK, ww2, -1)
    half += along_x
    # the pixels are integers, so round(pixel + change) = pixel + round(change): round on the cells, in int16
    steps = np.rint(half.reshape(hh2, ww2, -1)).astype(np.int16)
    pix = cv2.resize(steps, (ww, hh), interpolation=cv2.INTER_NEAREST).reshape((hh, ww, *image.shape[2:]))
    if (hh, ww) == (h, w):
        return cv2.add(image, pix, dtype=cv2.CV_8U)  # saturates at 0 / 255
    out = image.copy()
    out[:hh, :ww] = cv2.add(image[:hh, :ww], pix, dtype=cv2.CV_8U)
    return out


def _soft_map(plane: np.ndarray, scale: float) -> np.ndarray:
    """Soft vote of the 8×8 block whose top-left corner is each pixel (y, x): Σ_coeffs −sin(2π·c/scale).

    One correlation per coefficient gives all 64 block-grid phases at once (block (i, j) of phase (dy, dx)
    is map[dy + 8i, dx + 8j]); the coefficients are the same numbers as Haar DWT + block DCT of the shifted
    image. Returns float32 (H, W).
    """
    import cv2

    src = np.ascontiguousarray(plane, dtype=np.float32)
    out = np.zeros_like(src)
    ones = np.ones(PIX, np.float32)
    for kx, ky in ((_SEP, ones), (ones, _SEP)):  # the two kernels are separable: k0·r1[x] and k0·r1[y]
        c = cv2.sepFilter2D(src, cv2.CV_32F, kx, ky, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
        c *= np.float32(2 * np.pi / scale)
        out -= np.sin(c, out=c)
    return out


def _phase_tiles(softs: list[np.ndarray], dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """Soft votes of one grid phase accumulated per tile slot: (sum (TILE, TILE), count (TILE, TILE))."""
    total = np.zeros((TILE, TILE))
    count = np.zeros((TILE, TILE))
    for sm in softs:
        h, w = sm.shape
        nr, nc = (h - dy) // PIX, (w - dx) // PIX
        if nr < TILE or nc < TILE:
            continue
        soft = sm[dy : dy + nr * PIX : PIX, dx : dx + nc * PIX : PIX]
        pr, pc = -(-nr // TILE) * TILE, -(-nc // TILE) * TILE
        s = np.zeros((pr, pc))
        n = np.zeros((pr, pc))
        s[:nr, :nc] = soft
        n[:nr, :nc] = len(_KERNELS)
        total += s.reshape(pr // TILE, TILE, pc // TILE, TILE).sum((0, 2))
        count += n.reshape(pr // TILE, TILE, pc // TILE, TILE).sum((0, 2))
    return total, count


# _ROLL_IDX[k] gathers the flattened tile cyclically shifted by roll k = (r, c)
_ROLL_IDX = np.array(
    [np.roll(np.arange(BITS).reshape(TILE, TILE), (-r, -c), axis=(0, 1)).reshape(-1)
     for r in range(TILE) for c in range(TILE)]
)


def _tiles_at(img: np.ndarray, config: WatermarkConfig, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """`_phase_tiles(_softs(img), dy, dx)` computed from the blocks of that one phase only (no full soft map):
    the carrier coefficients of the (nr, nc) blocks (`_carriers`), their soft votes summed
    per tile slot. ~1/64 of the work of a full map; what the quick check of a known phase needs."""
    h, w = img.shape[:2]
    nr, nc = (h - dy) // PIX, (w - dx) // PIX
    total = np.zeros((TILE, TILE))
    count = np.zeros((TILE, TILE))
    if nr < TILE or nc < TILE:
        return total, count
    coef = _carriers(img, dy, dx, nr, nc)  # (planes, nr·nc, 2)
    scales = config.scales[:1] if img.ndim == 2 else config.scales
    pr, pc = -(-nr // TILE) * TILE, -(-nc // TILE) * TILE
    # blocks per tile slot (r, c): those with i % TILE == r and j % TILE == c
    per_slot = np.outer(-(-(nr - np.arange(TILE)) // TILE), -(-(nc - np.arange(TILE)) // TILE)) * len(_KERNELS)
    for c, s in enumerate(scales):
        if s <= 0:
            continue
        soft = -np.sin(coef[c] * np.float32(2 * np.pi / s)).sum(axis=1, dtype=np.float64).reshape(nr, nc)
        padded = np.zeros((pr, pc))
        padded[:nr, :nc] = soft
        total += padded.reshape(pr // TILE, TILE, pc).sum(0).reshape(TILE, pc // TILE, TILE).sum(1)
        count += per_slot
    return total, count


def _all_phase_tiles(softs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Tile sums of all 64 grid phases at once: (total, count), each (PIX, PIX, TILE, TILE) [dy, dx, r, c].

    Every phase uses the same number of blocks, nr = (h - PIX + 1) // PIX (so phase (0, 0) may drop the last
    row/column of blocks that `_phase_tiles` would use); one reshape + sum instead of 64 strided copies."""
    total = np.zeros((PIX, PIX, TILE, TILE))
    count = np.zeros((PIX, PIX, TILE, TILE))
    for sm in softs:
        h, w = sm.shape
        nr, nc = (h - PIX + 1) // PIX, (w - PIX + 1) // PIX
        if nr < TILE or nc < TILE:
            continue
        pr, pc = -(-nr // TILE) * TILE, -(-nc // TILE) * TILE
        s = np.zeros((pr * PIX, pc * PIX), np.float32)
        s[: nr * PIX, : nc * PIX] = sm[: nr * PIX, : nc * PIX]
        # s[(a·TILE + r)·PIX + dy, (b·TILE + c)·PIX + dx] -> sum over a, b
        s6 = s.reshape(pr // TILE, TILE, PIX, pc // TILE, TILE, PIX)
        total += s6.sum((0, 3), dtype=np.float64).transpose(1, 3, 0, 2)
        n = np.zeros((pr, pc))
        n[:nr, :nc] = len(_KERNELS)
        count += n.reshape(pr // TILE, TILE, pc // TILE, TILE).sum((0, 2))[None, None]
    return total, count


def _try_decode(total: np.ndarray, count: np.ndarray, min_agreement: float) -> tuple[WatermarkPayload | None, float]:
    """Try the 64 cyclic tile shifts of one phase; the payload whose tag + CRC match and votes are strong."""
    payload, agreement, _ = _try_decode_many(total[None], count[None], min_agreement)
    return payload, agreement


def _try_decode_many(
    totals: np.ndarray, counts: np.ndarray, min_agreement: float
) -> tuple[WatermarkPayload | None, float, int]:
    """`_try_decode` over P candidate phases at once: totals/counts (P, TILE, TILE), tried in order.

    Returns (payload, agreement, index of the phase) or (None, 0.0, -1)."""
    ok = (counts > 0).all(axis=(1, 2))
    mean = np.where(counts > 0, totals / np.maximum(counts, 1e-12), 0.0).reshape(len(totals), -1)
    rolled = mean[:, _ROLL_IDX]  # (P phases, 64 shifts, 64 slots)
    bits = (rolled > 0).astype(np.uint8) ^ _KEY
    tagged = (bits[:, :, :8] == TAG_BITS).all(axis=2) & ok[:, None]
    for p, k in zip(*np.nonzero(tagged), strict=True):  # row-major: phase order first, then shift
        payload = WatermarkPayload.from_bits(bits[p, k])
        if payload is None:
            continue
        # mean |soft vote| of the slots, mapped to [0.5, 1]: 0.5 = chance, 1 = every block agrees fully
        agreement = 0.5 + 0.5 * float(np.abs(rolled[p, k]).mean())
        if agreement >= min_agreement:
            return payload, agreement, int(p)
    return None, 0.0, -1


def decode_watermark(
    image: np.ndarray,
    config: WatermarkConfig = DEFAULT_CONFIG,
    *,
    search: bool = True,
    hint: tuple[int, int] | None = None,
    min_agreement: float = 0.54,
    search_window: int = SEARCH_WINDOW,
) -> WatermarkResult:
    """Look for a deepfake-lab watermark.

    The known phase(s) — `hint`, then (0, 0) — are tried first on the whole image from their own blocks; the
    phase search (when asked) then looks at a central window of at most `search_window` pixels a side (half
    that before the 2× upscale): plenty of whole tiles, at a bounded cost on large frames.

    Args:
        image: uint8 (H, W, 3) RGB or (H, W) grayscale.
        config: the strength used when embedding (the QIM steps).
        search: also try the 64 pixel phases of the block grid (crops) and a 2× upscale (downscaled copies).
        hint: pixel phase to try first (e.g. the one found on the previous video frame).
        min_agreement: reject candidates whose mean vote strength is below this (false-positive guard).
        search_window: side of the central window the phase search looks at (multiple of 8).

    Returns:
        `WatermarkResult` (payload None when nothing valid was found); `extra["votes"]` holds the tile votes
        of the known phases tried, {(dy, dx): (total, count)}, for pooling frames without recomputing them.
    """
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    if min(image.shape[:2]) < PIX * TILE:
        return WatermarkResult(None, extra={"reason": "image too small"})
    quick = [(0, 0)] if hint is None or hint == (0, 0) else [hint, (0, 0)]
    votes: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    for dy, dx in quick:  # the known phase(s) first, from their own blocks only
        votes[(dy, dx)] = _tiles_at(image, config, dy, dx)
        payload, agreement = _try_decode(*votes[(dy, dx)], min_agreement)
        if payload is not None:
            return WatermarkResult(payload, agreement, (dy, dx), 1, {"votes": votes})
    if not search:
        return WatermarkResult(None, extra={"votes": votes})
    for up in (1, 2):
        img = _central_window(image, search_window // up)  # offsets on the 8-px grid: phases unchanged
        if up > 1:
            import cv2

            img = cv2.resize(img, (img.shape[1] * up, img.shape[0] * up), interpolation=cv2.INTER_CUBIC)
        totals, counts = _all_phase_tiles(_softs(img, config))
        order = [(dy, dx) for dy in range(PIX) for dx in range(PIX) if up > 1 or (dy, dx) not in quick]
        idx = tuple(np.array(order).T)
        payload, agreement, k = _try_decode_many(totals[idx], counts[idx], min_agreement)
        if payload is not None:
            return WatermarkResult(payload, agreement, order[k], up, {"votes": votes})
    return WatermarkResult(None, extra={"votes": votes})


def _central_window(image: np.ndarray, side: int) -> np.ndarray:
    """The central ≤ side × side part of an image, its corner on the 8-pixel grid (so grid phases carry over)."""
    h, w = image.shape[:2]
    oy = max(0, (h - side) // 2) // PIX * PIX
    ox = max(0, (w - side) // 2) // PIX * PIX
    return image[oy : oy + side, ox : ox + side]


def _softs(img: np.ndarray, config: WatermarkConfig) -> list[np.ndarray]:
    import cv2

    if img.ndim == 2:
        planes = [(img.astype(np.float32), config.scales[0])]
    else:  # a gray RGB image has flat U/V planes, which vote 0
        yuv = cv2.transform(img.astype(np.float32), _RGB2YUV_AFFINE)  # `_rgb_to_yuv` in float32
        planes = [(yuv[..., c], s) for c, s in enumerate(config.scales) if s > 0]
    return [_soft_map(p, s) for p, s in planes]


def decode_pooled(
    images: list[np.ndarray],
    config: WatermarkConfig = DEFAULT_CONFIG,
    *,
    phase: tuple[int, int] = (0, 0),
    min_agreement: float = 0.54,
    votes: list[tuple[np.ndarray, np.ndarray] | None] | None = None,
) -> WatermarkResult:
    """Decode one payload from the votes of several frames pooled together (same block-grid phase).

    Every frame of a video carries the same payload, so summing their soft votes before deciding recovers it
    from frames too small or too compressed to decode one by one (e.g. 176×144 at H.264 CRF 23).

    Args:
        images: frames, uint8 (H, W, 3) or (H, W), all of one size.
        phase: (dy, dx) pixel phase of the block grid (from a frame that decoded alone, else (0, 0)).
        votes: per image, its tile votes at `phase` when already known (`decode_watermark`'s
            `extra["votes"][phase]`), else None: they are not computed again.
    """
    total = np.zeros((TILE, TILE))
    count = np.zeros((TILE, TILE))
    for i, img in enumerate(images):
        if img.ndim == 3 and img.shape[2] == 4:
            img = img[..., :3]
        if min(img.shape[:2]) < PIX * TILE:
            continue
        known = votes[i] if votes is not None else None
        t, n = known if known is not None else _tiles_at(img, config, *phase)
        total += t
        count += n
    payload, agreement = _try_decode(total, count, min_agreement)
    return WatermarkResult(payload, agreement, phase, 1, {"frames": len(images)})


def prepare_small(image: np.ndarray, min_side: int = MIN_SIDE, max_factor: int = 16) -> tuple[np.ndarray, int]:
    """Enlarge an image by the smallest integer factor (nearest neighbour) that makes both sides ≥ `min_side`.

    Returns:
        (image, factor); factor 1 means unchanged. The factor is capped at `max_factor`.
    """
    h, w = image.shape[:2]
    k = max(1, -(-min_side // min(h, w)))
    k = min(k, max_factor)
    if k == 1:
        return image, 1
    return np.repeat(np.repeat(image, k, axis=0), k, axis=1), k
