"""The 64-bit watermark payload and its bit coding: tool tag (8), command kind (4), model id (18), run id (18),
CRC-16 (16). `deepfake_lab.provenance.watermark` hides these bits in the pixels.

Example:
    >>> p = WatermarkPayload(kind="sample", model_id=0x12345, run_id=0x2BCDE)
    >>> WatermarkPayload.from_bits(p.to_bits()) == p
    True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

TOOL_TAG = 0xDF
"""First payload byte: marks a deepfake-lab watermark."""

KINDS: tuple[str, ...] = (
    "other",
    "swap",
    "sample",
    "interpolate",
    "latent-arith",
    "showcase",
    "demo",
    "reconstruct",
    "recondition",
    "translate",
    "text2img",
)
"""Generating commands, coded in 4 bits of the payload (index into this tuple)."""

ID_BITS = 18
BITS = 64


def _crc16(bits: np.ndarray) -> int:
    """CRC-16/CCITT-FALSE over a bit array (MSB first)."""
    crc = 0xFFFF
    for b in bits:
        top = (crc >> 15) & 1
        crc = (crc << 1) & 0xFFFF
        if top ^ int(b):
            crc ^= 0x1021
    return crc


def _int_bits(value: int, n: int) -> list[int]:
    return [(value >> (n - 1 - i)) & 1 for i in range(n)]


def _bits_int(bits: np.ndarray) -> int:
    out = 0
    for b in bits:
        out = (out << 1) | int(b)
    return out


TAG_BITS = np.array(_int_bits(TOOL_TAG, 8), dtype=np.uint8)
"""The tool tag as bits: the first 8 bits of every payload."""


@dataclass(frozen=True)
class WatermarkPayload:
    """The 64 watermark bits: tool tag (8), command kind (4), model id (18), run id (18), CRC-16 (16).

    Args:
        kind: generating command, one of `KINDS`.
        model_id: short id of the model (18 bits; `short_id` of the weights' SHA-256 or the model name).
        run_id: short id of this generation run (18 bits; also written in the C2PA manifest).
    """

    kind: str
    model_id: int
    run_id: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; one of {KINDS}")
        for name in ("model_id", "run_id"):
            v = getattr(self, name)
            if not 0 <= v < (1 << ID_BITS):
                raise ValueError(f"{name} must fit in {ID_BITS} bits, got {v}")

    def to_bits(self) -> np.ndarray:
        """(64,) uint8 bits, MSB first."""
        body = np.array(
            _int_bits(TOOL_TAG, 8)
            + _int_bits(KINDS.index(self.kind), 4)
            + _int_bits(self.model_id, ID_BITS)
            + _int_bits(self.run_id, ID_BITS),
            dtype=np.uint8,
        )
        return np.concatenate([body, np.array(_int_bits(_crc16(body), 16), dtype=np.uint8)])

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> WatermarkPayload | None:
        """Parse 64 bits; None when the tool tag, kind or CRC do not match."""
        bits = np.asarray(bits, dtype=np.uint8)
        if _bits_int(bits[:8]) != TOOL_TAG:
            return None
        if _crc16(bits[:48]) != _bits_int(bits[48:]):
            return None
        kind = _bits_int(bits[8:12])
        if kind >= len(KINDS):
            return None
        return cls(KINDS[kind], _bits_int(bits[12:30]), _bits_int(bits[30:48]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": "deepfake-lab",
            "kind": self.kind,
            "model_id": f"{self.model_id:05x}",
            "run_id": f"{self.run_id:05x}",
        }


def short_id(text: str) -> int:
    """18-bit id from a string (e.g. a weights SHA-256 hex or a model name)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:3], "big") >> (24 - ID_BITS)
