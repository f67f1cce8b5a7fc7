"""Scan media for manipulated faces (the "Video Authenticator" job): per-frame, per-track, per-file scores.

Pipeline per source: streaming decode (background thread) → face detection + landmarks on one processed
frame in `detect_every` ("key frames"), landmarks interpolated linearly between two key frames for the frames
in between (each track separately; a face seen at only one of the two key frames, entering or leaving, is
followed frame by frame with the face detector's landmark `track` hook) → faces aligned at the detector's
crop size and margin (its model card) → batched detector inference on a worker thread (bf16 autocast +
channels_last when that is faster) → scores.

Scores (the detector's `probs`, probability that a face is FAKE):
- face: one aligned crop of one frame;
- frame: the highest face probability in the frame, or no score and status "no_face" (never 0.5);
- track: the aggregation rule over the track's face probabilities;
- file: the highest track score over tracks with at least `min_track_faces` scored faces (all tracks when
  none is that long), so one manipulated person is not averaged away by a real one.

Verdicts (schema version 2): a score becomes "authentic" (below `authentic_below`), "uncertain" (from
`authentic_below` to below `threshold`) or "manipulated" (from `threshold`); the band is the detector card's
"calibration" (a threshold chosen for a stated false-positive rate on held-out real faces of unseen people,
`metrics.calibration`), else the uncalibrated default 0.5 / 0.3, unless `ScanOptions.threshold` /
`authentic_below` override it (`verdict_band`). A face is scored only when the model can back a number:
faces smaller than `min_face_size` source pixels or with a sharpness (`faces.quality.blur_score` of the aligned
crop) below `min_sharpness` are kept, tracked and reported with a reason but not scored ("face_too_small",
"face_too_blurry"). A file whose faces were all unscorable, or a video with fewer than `min_frames` frames
with a scored face ("too_few_frames"), is "not_evaluated" (with that reason) instead of a score; "no_face"
and "error" stay.

Aggregation rules (`AGGREGATIONS`, from `metrics.detection`): "mean"; "max"; "confident" — the DFDC
winner's confident strategy: when more than floor(n / 2.5) and more than 11 of the n probabilities exceed
0.8, the mean of those; else when more than 90 % are below 0.2, the mean of those; else the plain mean.

Example:
    >>> from deepfake_lab.pipelines.scan import ScanOptions, load_detector, scan_paths
    >>> result = scan_paths(["clip.mp4", "photos/"], load_detector("model.safetensors"))  # doctest: +SKIP
    >>> [(f.source, f.score, f.verdict) for f in result.files]  # doctest: +SKIP
    >>> result.to_dict()["schema_version"]  # doctest: +SKIP
    2
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import io
import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import av
import av.error
import cv2
import numpy as np
import torch
from PIL import Image
from torch import nn

from deepfake_lab import __version__
from deepfake_lab.errors import BadInputError, DeepfakeLabError
from deepfake_lab.faces.align import align_face
from deepfake_lab.faces.detect import FaceDetector, create_detector
from deepfake_lab.faces.quality import blur_score
from deepfake_lab.faces.track import FaceAnalyzer
from deepfake_lab.faces.types import Face, landmark_box
from deepfake_lab.metrics.calibration import check_calibration, default_calibration, verdict_for
from deepfake_lab.metrics.detection import AGGREGATIONS, aggregate, confident_strategy
from deepfake_lab.models.cards import resolve_export
from deepfake_lab.pipelines.callbacks import ScanProgress
from deepfake_lab.pipelines.extract import ExtractOptions, collect_sources
from deepfake_lab.pipelines.scan_verdicts import (
    FILE_VERDICTS,
    MIN_FACE_SIZE,
    MIN_FRAMES,
    MIN_SHARPNESS,
    NOT_EVALUATED_REASONS,
)
from deepfake_lab.train.checkpoint import load_exported
from deepfake_lab.video.image import IMAGE_EXTENSIONS
from deepfake_lab.video.reader import Frame, MediaInfo, MediaReader, Prefetcher, VideoReader, open_media
from deepfake_lab.video.writer import VideoWriter

__all__ = [
    "auto_precision",
    "AGGREGATIONS",
    "DEFAULT_DETECTOR",
    "DETECTOR_ENV",
    "SCHEMA_ID",
    "SCHEMA_VERSION",
    "FILE_VERDICTS",
    "NOT_EVALUATED_REASONS",
    "DetectorModel",
    "FaceScore",
    "FileScan",
    "FrameScore",
    "ScanOptions",
    "ScanProgress",
    "ScanResult",
    "Suspicious",
    "TrackScore",
    "aggregate",
    "check_output",
    "confident_strategy",
    "draw_annotations",
    "is_live_source",
    "is_scan_output",
    "load_detector",
    "scan_file",
    "scan_paths",
    "reason_text",
    "verdict_band",
]

SCHEMA_ID = "deepfake-lab/scan"
SCHEMA_VERSION = 2
DEFAULT_DETECTOR = Path(__file__).resolve().parent.parent / "assets" / "detector-default.safetensors"
"""The shipped detector (weights; its card is the `.json` beside it)."""
OUTPUT_MARK = "deepfake-lab detect"
"""Marks files a scan writes (HTML generator, video comment, image comment) so that re-runs may replace them."""
DETECTOR_ENV = "DEEPFAKE_LAB_DETECTOR"
"""Environment variable naming an exported detector to use instead of the shipped one."""
_CAPTURE_FORMATS = ("v4l2", "video4linux2", "avfoundation", "dshow", "gdigrab", "x11grab", "lavfi", "kmsgrab")


# --------------------------------------------------------------------------------------------------------
# The detector


@dataclass
class DetectorModel:
    """A loaded detector with its card and the crop policy it expects.

    Attributes:
        net: the detector (eval mode), returning {"logits", "probs", "features"}.
        card: its model card.
        weights: the .safetensors file.
        sha256: SHA-256 of the weights.
        crop_size: side of the face crop fed to it (its input size).
        margin: alignment margin of the crop (see `faces.align`).
        channels: input channels (3 = RGB, 1 = gray).
        precision: "fp32" or "bf16" (autocast), set by `choose_precision`.
        align_size: side the face is aligned at before it is resized to `crop_size` (the card's crop size,
            when its training crops were made larger than the model input); None = aligned at `crop_size`.
    """

    net: nn.Module
    card: dict[str, Any]
    weights: Path
    sha256: str
    crop_size: int
    margin: float
    channels: int = 3
    precision: str = "fp32"
    align_size: int | None = None
    device: str = "cpu"

    @property
    def name(self) -> str:
        return str(self.card.get("name") or self.card.get("model"))

    def prepare(self, crops: np.ndarray) -> torch.Tensor:
        """(N, S, S, 3) uint8 RGB -> [N, C, S, S] float in [0, 1] (channels_last)."""
        x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255)
        if self.channels == 1:
            x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        return x.contiguous(memory_format=torch.channels_last).to(self.device)

    @torch.inference_mode()
    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities of FAKE: (N, S, S, 3) uint8 RGB crops -> (N,) float32."""
        if len(crops) == 0:
            return np.zeros(0, np.float32)
        x = self.prepare(crops)
        with torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            probs = self.net(x)["probs"]
        return probs.float().reshape(-1).cpu().numpy().astype(np.float32)

    def choose_precision(self, mode: str = "auto", batch: int = 16) -> str:
        """Set `precision`: "fp32", "bf16", or "auto" = `auto_precision(device)`, a property of the machine
        (never a timing race, so the same input, model and options give the same scores run after run);
        bf16 falls back to fp32 when a layer has no bf16 kernel here. `batch` is kept for compatibility."""
        if mode not in ("auto", "fp32", "bf16"):
            raise BadInputError(f"--precision must be auto, fp32 or bf16, got {mode!r}")
        self.net.to(memory_format=torch.channels_last)
        if mode != "auto":
            self.precision = mode
            return mode
        # a card may name its precision (bf16 autocast is ~10x slower for depthwise convolutions here);
        # DEEPFAKE_LAB_PRECISION still overrides it, an explicit --precision too
        hint = (self.card.get("inference") or {}).get("precision") if isinstance(self.card, dict) else None
        forced = os.environ.get("DEEPFAKE_LAB_PRECISION", "").strip().lower() in ("fp32", "bf16")
        self.precision = str(hint) if hint in ("fp32", "bf16") and not forced else auto_precision(self.device)
        if self.precision == "bf16":
            try:
                self.predict(np.zeros((1, self.crop_size, self.crop_size, 3), np.uint8))
            except RuntimeError:  # no bf16 kernels for some layer on this machine
                self.precision = "fp32"
        return self.precision

    def summary(self) -> dict[str, Any]:
        """What identifies the model in a scan result (name, weights hash, crop, precision, the card)."""
        return {
            "name": self.name,
            "model": self.card.get("model"),
            "weights": self.weights.name,
            "weights_sha256": self.sha256,
            "crop": {"size": self.align_size or self.crop_size, "margin": self.margin, "input_size": self.crop_size},
            "precision": self.precision,
            "card": self.card,
        }


def _cpu_flags() -> set[str]:
    """CPU feature flags from /proc/cpuinfo (Linux); empty elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
"""CPU features that compute bf16 natively (Intel AMX, AVX-512 BF16): where `auto` picks bf16 on a CPU."""


def auto_precision(device: str = "cpu") -> str:
    """What `--precision auto` means on this machine: "bf16" where the hardware computes it natively (a CUDA
    GPU that supports bf16; a CPU with AMX-BF16 or AVX-512 BF16), else "fp32".

    Decided from capabilities only, so it is the same on every run of one machine (a timing probe could pick
    differently from run to run and the scores differ by up to a few percent between the two).
    `DEEPFAKE_LAB_PRECISION=fp32|bf16` overrides it.
    """
    forced = os.environ.get("DEEPFAKE_LAB_PRECISION", "").strip().lower()
    if forced in ("fp32", "bf16"):
        return forced
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if any(f in _cpu_flags() for f in BF16_CPU_FLAGS) else "fp32"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _crop_policy(card: dict[str, Any]) -> tuple[int, int | None, float]:
    """(input size, align size or None, margin) of a detector card.

    The card's `crop: {size, margin}` says how its training faces were aligned; the input size is the model's
    `image_size` (or `input.shape`). When the two sizes differ (e.g. 128 px crops resized to 64 px for training),
    faces are aligned at the crop size and resized like the training loader does (PIL bilinear). Without a
    `crop` entry: aligned directly at the input size with the extract default margin.
    """
    crop = card.get("crop") or card.get("crop_policy") or {}
    crop_size = crop.get("size") if isinstance(crop, dict) else None
    margin = crop.get("margin") if isinstance(crop, dict) else None
    size = card.get("model_kwargs", {}).get("image_size")
    if size is None:
        shape = card.get("input", {}).get("shape") or []
        size = shape[-1] if shape else None
    size = int(size or crop_size or 256)
    align = int(crop_size) if crop_size is not None and int(crop_size) != size else None
    return size, align, float(ExtractOptions.margin if margin is None else margin)


def load_detector(path: str | Path | None = None, device: str = "cpu") -> DetectorModel:
    """Load an exported detector (run dir, export dir, .safetensors or card), or the default one, onto `device`.

    The default is `$DEEPFAKE_LAB_DETECTOR` when set, else the shipped `assets/detector-default.safetensors`;
    a bare name such as ``fast`` picks the shipped ``assets/detector-fast.safetensors`` (the Meso-4 preset).

    Raises:
        BadInputError: no such export, not a detector, weights that do not match the card, or no default.
    """
    if path is None:
        env = os.environ.get(DETECTOR_ENV)
        if env:
            path = Path(env)
        elif DEFAULT_DETECTOR.is_file() and DEFAULT_DETECTOR.with_suffix(".json").is_file():
            path = DEFAULT_DETECTOR
        else:
            raise BadInputError(
                f"no default detector is installed ({DEFAULT_DETECTOR.name} is missing from deepfake_lab/assets); "
                f"pass --model PATH (an exported detector, e.g. runs/NAME/export) or set {DETECTOR_ENV}"
            )
    name = str(path)  # `--model fast`: a shipped preset (assets/detector-fast.safetensors)
    if name and "/" not in name and not Path(name).exists():
        shipped = DEFAULT_DETECTOR.with_name(f"detector-{name}.safetensors")
        path = shipped if shipped.is_file() else path
    st, _ = resolve_export(Path(path))
    net, card = load_exported(
        Path(path),
        family="detector",
        what="a detector",
        hint="train one with `deepfake-lab train meso4 --data FOLDER` (FOLDER with real/ and fake/)",
    )
    net.to(device)
    size, align, margin = _crop_policy(card)
    shape = card.get("input", {}).get("shape") or []
    channels = int(card.get("model_kwargs", {}).get("in_channels", shape[0] if len(shape) == 3 else 3))
    return DetectorModel(
        net=net,
        card=card,
        weights=st,
        sha256=_sha256(st),
        crop_size=size,
        margin=margin,
        channels=channels,
        align_size=align,
        device=device,
    )


# --------------------------------------------------------------------------------------------------------
# Options and results


@dataclass
class ScanOptions:
    """How to scan.

    Args:
        detect_every: run face detection + landmarks on one processed frame in this many (key frames),
            interpolate landmarks in between, follow faces that enter or leave (1 = every frame).
        every: process one frame in this many (1 = all frames; others are decoded but not scored).
        aggregation: "confident", "mean" or "max" (per track; see the module docstring).
        threshold: a score from this is "manipulated"; None = the detector card's calibration (else 0.5).
            An explicit threshold without `authentic_below` leaves no "uncertain" band.
        authentic_below: a score below this is "authentic", from it to `threshold` "uncertain"; None = the
            card's calibration band (or, with an explicit `threshold`, the threshold itself).
        min_face_size: faces smaller than this (longer side of the landmark box, source pixels) are tracked
            and reported but not scored (reason "face_too_small").
        min_sharpness: faces whose aligned crop has a `blur_score` below this are not scored
            ("face_too_blurry"); 0 = no sharpness check.
        min_frames: a video, sequence or live source with fewer frames holding a scored face is
            "not_evaluated" ("too_few_frames"); images need one.
        min_track_faces: tracks with fewer scored faces do not decide the file score (unless all are short).
        batch_size: crops per detector call.
        precision: "auto" (`auto_precision`: bf16 where the hardware computes it natively), "fp32" or "bf16".
        threads: torch threads for the detector (1 leaves a core for decoding and face detection).
        max_faces: score at most this many faces per frame (largest); None = all.
        min_size: ignore faces smaller than this (longer side of the landmark box, source pixels).
        model_range: MediaPipe detector range ("auto", "short", "full", "both").
        realtime: process at the source's native frame rate, dropping frames to bound latency.
        max_latency: in realtime mode, frames waiting longer than this (seconds) are dropped.
        max_seconds: stop each source after this much media time (None = to the end; live sources run
            until Ctrl-C otherwise).
        keep_suspicious: how many of the most suspicious face crops to keep per file (for reports).
    """

    detect_every: int = 5
    every: int = 1
    aggregation: str = "confident"
    threshold: float | None = None
    authentic_below: float | None = None
    min_face_size: float = MIN_FACE_SIZE
    min_sharpness: float = MIN_SHARPNESS
    min_frames: int = MIN_FRAMES
    min_track_faces: int = 3
    batch_size: int = 32
    precision: str = "auto"
    threads: int = 1
    max_faces: int | None = None
    min_size: float = 24.0
    model_range: str = "auto"
    realtime: bool = False
    max_latency: float = 0.5
    max_seconds: float | None = None
    keep_suspicious: int = 24

    def validate(self) -> None:
        """Raise `BadInputError` for impossible values."""
        if self.detect_every < 1:
            raise BadInputError(f"--detect-every must be >= 1, got {self.detect_every}")
        if self.every < 1:
            raise BadInputError(f"--every must be >= 1, got {self.every}")
        if self.aggregation not in AGGREGATIONS:
            raise BadInputError(f"--aggregate must be one of {', '.join(AGGREGATIONS)}, got {self.aggregation!r}")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise BadInputError(f"--threshold must be in 0..1, got {self.threshold}")
        if self.authentic_below is not None and not 0.0 <= self.authentic_below <= 1.0:
            raise BadInputError(f"--authentic-below must be in 0..1, got {self.authentic_below}")
        if self.threshold is not None and self.authentic_below is not None and self.authentic_below > self.threshold:
            raise BadInputError(
                f"--authentic-below ({self.authentic_below}) must not exceed --threshold ({self.threshold})"
            )
        if self.min_face_size < 0:
            raise BadInputError(f"--min-face-size must be >= 0, got {self.min_face_size}")
        if self.min_sharpness < 0:
            raise BadInputError(f"--min-sharpness must be >= 0, got {self.min_sharpness}")
        if self.min_frames < 1:
            raise BadInputError(f"--min-frames must be >= 1, got {self.min_frames}")
        if self.batch_size < 1:
            raise BadInputError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise BadInputError(f"--precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.max_faces is not None and self.max_faces < 1:
            raise BadInputError(f"--max-faces must be >= 1, got {self.max_faces}")
        if self.model_range not in ("auto", "short", "full", "both"):
            raise BadInputError(f"--range must be auto, short, full or both, got {self.model_range!r}")
        if self.max_latency <= 0:
            raise BadInputError(f"--max-latency must be > 0, got {self.max_latency}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise BadInputError(f"--max-seconds must be > 0, got {self.max_seconds}")
        if self.threads < 1:
            raise BadInputError(f"--threads must be >= 1, got {self.threads}")


def verdict_band(card: dict[str, Any] | None, options: ScanOptions | None = None) -> dict[str, Any]:
    """The verdict band a scan uses: {"threshold", "authentic_below", "source", "calibration"}.

    `source` says where the band came from: "card" (the detector card's "calibration", see
    `metrics.calibration`), "default" (no calibration in the card: threshold 0.5, authentic below 0.3,
    uncalibrated) or "option" (`threshold` / `authentic_below` given explicitly; an explicit threshold alone
    leaves no uncertain band, an explicit lower edge above the card's threshold is refused). `calibration` is
    the card's dict (None without one).

    Raises:
        BadInputError: a malformed card calibration, or an `authentic_below` above the threshold.
    """
    opt = options or ScanOptions()
    cal = (card or {}).get("calibration")
    if cal is not None:
        cal = check_calibration(cal)
        base = {
            "threshold": float(cal["threshold"]),
            "authentic_below": float(cal.get("authentic_below", cal["threshold"])),
        }
    else:
        base = default_calibration()
    band = {**base, "source": "card" if cal is not None else "default", "calibration": cal}
    if opt.threshold is not None:
        band.update(threshold=float(opt.threshold), authentic_below=float(opt.threshold), source="option")
    if opt.authentic_below is not None:
        band.update(authentic_below=float(opt.authentic_below), source="option")
    if band["authentic_below"] > band["threshold"]:
        raise BadInputError(
            f"--authentic-below ({band['authentic_below']:g}) must not exceed the threshold ({band['threshold']:g})"
        )
    return band


def reason_text(reason: str | None, options: ScanOptions | None = None) -> str:
    """Words for a not-evaluated reason (with the limit that applied), e.g. "face smaller than 32 px"."""
    opt = options or ScanOptions()
    return {
        "face_too_small": f"face smaller than {opt.min_face_size:g} px",
        "face_too_blurry": f"face too blurry (sharpness below {opt.min_sharpness:g})",
        "too_few_frames": f"fewer than {opt.min_frames} frames with a scorable face",
        None: "",
    }.get(reason, str(reason))


@dataclass
class FaceScore:
    """One face: track id, box (x0, y0, x1, y1 frame pixels), probability of FAKE (NaN when not evaluated),
    whether its landmarks were interpolated (True) or detected (False), the sharpness of its aligned crop
    (`blur_score`, None when not measured) and why it was not scored (None: scored)."""

    track: int
    box: tuple[float, float, float, float]
    prob: float = float("nan")
    tracked: bool = False
    sharpness: float | None = None
    reason: str | None = None

    @property
    def evaluated(self) -> bool:
        return self.reason is None and bool(np.isfinite(self.prob))


@dataclass
class FrameScore:
    """One processed frame: index, time (s), faces; `prob` is the highest probability of its scored faces
    (None: no face, or none scorable)."""

    index: int
    time: float
    faces: list[FaceScore] = field(default_factory=list)

    @property
    def prob(self) -> float | None:
        probs = [f.prob for f in self.faces if f.evaluated]
        return max(probs) if probs else None

    @property
    def status(self) -> str:
        """The frame's status: "faces" (a scored face), "not_evaluated" (faces, none scorable), "no_face"."""
        if not self.faces:
            return "no_face"
        return "faces" if any(f.evaluated for f in self.faces) else "not_evaluated"


@dataclass
class TrackScore:
    """A face track: aggregated score, mean and max probability over its scored faces (None when it has
    none), number of scored faces, first/last time, faces not scored by reason, verdict (and its reason)."""

    track: int
    faces: int
    first_time: float
    last_time: float
    score: float | None
    mean: float | None
    max: float | None
    not_evaluated: dict[str, int] = field(default_factory=dict)
    verdict: str = "not_evaluated"
    reason: str | None = None


@dataclass
class Suspicious:
    """A kept face crop with a high probability (for reports): (S, S, 3) uint8 RGB `crop`."""

    prob: float
    index: int
    time: float
    track: int
    crop: np.ndarray


@dataclass
class FileScan:
    """Result for one source.

    Attributes:
        source: the path or URL as given.
        kind: "video", "image", "sequence" or "live" ("" when it could not be opened).
        status: "ok", "partial" (truncated/corrupt: decodable frames scanned) or "error".
        message: one-line problem description for "partial" / "error".
        info: width, height, fps, frame_count, duration, codec (None on error).
        frames: processed frames in order.
        frames_dropped: frames skipped in realtime mode to keep latency bounded.
        seconds: wall time of the scan (opening, decoding, faces, detector; not the provenance check).
        tracks: per-track scores (filled by `finish`).
        score: file score (None when no face was scored, or the file is not evaluated).
        verdict: one of `FILE_VERDICTS`.
        reason: why the verdict is "not_evaluated" (one of `NOT_EVALUATED_REASONS`), else None.
        band: the verdict band used (`verdict_band`).
        suspicious: the most suspicious crops (not in the JSON).
        provenance: provenance findings (dict) or None.
        annotated: path of the annotated output, if any.
    """

    source: str
    kind: str = ""
    status: str = "ok"
    message: str = ""
    info: dict[str, Any] | None = None
    frames: list[FrameScore] = field(default_factory=list)
    frames_dropped: int = 0
    seconds: float = 0.0
    tracks: list[TrackScore] = field(default_factory=list)
    score: float | None = None
    verdict: str = "error"
    reason: str | None = None
    band: dict[str, Any] = field(default_factory=dict)
    suspicious: list[Suspicious] = field(default_factory=list)
    provenance: dict[str, Any] | None = None
    annotated: str | None = None

    @property
    def frames_without_faces(self) -> int:
        return sum(1 for f in self.frames if not f.faces)

    @property
    def faces_scored(self) -> int:
        return sum(1 for fr in self.frames for f in fr.faces if f.evaluated)

    @property
    def frames_evaluated(self) -> int:
        """Frames with at least one scored face."""
        return sum(1 for fr in self.frames if fr.status == "faces")

    @property
    def faces_not_evaluated(self) -> dict[str, int]:
        """Faces found but not scored, by reason."""
        out: dict[str, int] = {}
        for fr in self.frames:
            for f in fr.faces:
                if not f.evaluated:
                    key = f.reason or "face_too_small"
                    out[key] = out.get(key, 0) + 1
        return out

    @property
    def fps(self) -> float:
        return len(self.frames) / self.seconds if self.seconds > 0 else 0.0

    def finish(self, opt: ScanOptions, band: dict[str, Any] | None = None) -> None:
        """Compute per-track scores, the file score and the verdicts from the frames.

        Args:
            opt: the scan options (aggregation rule, `min_track_faces`, `min_frames`).
            band: the verdict band (`verdict_band`); default: `verdict_band(None, opt)`.
        """
        self.band = band if band is not None else verdict_band(None, opt)
        by_track: dict[int, list[tuple[float, FaceScore]]] = {}
        for fr in self.frames:
            for f in fr.faces:
                by_track.setdefault(f.track, []).append((fr.time, f))
        video = self.kind in ("video", "sequence", "live")
        self.tracks = []
        for tid, items in sorted(by_track.items()):
            p = np.array([f.prob for _, f in items if f.evaluated], np.float64)
            skipped: dict[str, int] = {}
            for _, f in items:
                if not f.evaluated:
                    skipped[f.reason or "face_too_small"] = skipped.get(f.reason or "face_too_small", 0) + 1
            t = TrackScore(tid, len(p), items[0][0], items[-1][0], None, None, None, skipped)
            if len(p):
                t.score, t.mean, t.max = aggregate(p, opt.aggregation), float(p.mean()), float(p.max())
            if not len(p):
                t.verdict, t.reason = "not_evaluated", max(skipped, key=lambda k: skipped[k])
            elif video and len(p) < opt.min_frames:
                t.verdict, t.reason = "not_evaluated", "too_few_frames"
            else:
                t.verdict = verdict_for(t.score, self.band)  # type: ignore[arg-type]
            self.tracks.append(t)
        self.score, self.reason = None, None
        if self.status == "error":
            self.verdict = "error"
            return
        if not self.tracks:
            self.verdict = "no_face"
            return
        scored = [t for t in self.tracks if t.faces]
        if not scored:
            skipped = self.faces_not_evaluated
            self.verdict, self.reason = "not_evaluated", max(skipped, key=lambda k: skipped[k])
            return
        if video and self.frames_evaluated < opt.min_frames:
            self.verdict, self.reason = "not_evaluated", "too_few_frames"
            return
        longest = max(t.faces for t in scored)
        deciding = [t for t in scored if t.faces >= min(opt.min_track_faces, longest)]
        self.score = max(t.score for t in deciding)  # type: ignore[type-var]
        self.verdict = verdict_for(self.score, self.band)  # type: ignore[arg-type]


@dataclass
class ScanResult:
    """All files of one scan, the model and the options; `to_dict()` is the versioned JSON document."""

    files: list[FileScan]
    model: DetectorModel
    options: ScanOptions
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    interrupted: bool = False
    """True when Ctrl-C stopped the scan: `files` holds the sources finished before it."""

    @property
    def errors(self) -> list[FileScan]:
        """Files that failed or could be read only in part."""
        return [f for f in self.files if f.status in ("error", "partial")]

    def flagged(self, above: float) -> list[FileScan]:
        """Files whose score exceeds `above`."""
        return [f for f in self.files if f.score is not None and f.score > above]

    @property
    def band(self) -> dict[str, Any]:
        """The verdict band of this scan (`verdict_band` of the model card and the options)."""
        return verdict_band(self.model.card, self.options)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (schema `deepfake-lab/scan` version `SCHEMA_VERSION`, see `scan_schema`)."""
        opt = self.options
        band = self.band
        return {
            "schema": SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "tool": f"deepfake-lab {__version__}",
            "created": self.created,
            "model": self.model.summary(),
            "options": asdict(opt),
            "aggregation": {
                "rule": opt.aggregation,
                "frame": "max over the frame's faces; frames without faces have no score",
                "track": _RULE_TEXT[opt.aggregation],
                "file": f"max over track scores of tracks with >= {opt.min_track_faces} scored faces "
                "(all tracks when none is that long)",
                "threshold": band["threshold"],
            },
            "verdicts": verdicts_dict(band, opt),
            "summary": summary_dict([_file_dict(f, verbose=False) for f in self.files]),
            "files": [_file_dict(f) for f in self.files],
        }


def verdicts_dict(band: dict[str, Any], opt: ScanOptions) -> dict[str, Any]:
    """The document's "verdicts" entry: the band, where it came from, and the not-evaluated limits."""
    source = {
        "card": "the detector card's calibration (threshold for a stated false-positive rate on held-out real faces)",
        "default": "default band: the detector card has no calibration, so these numbers are NOT calibrated",
        "option": "set by the user (--threshold / --authentic-below)",
    }[band["source"]]
    return {
        "threshold": band["threshold"],
        "authentic_below": band["authentic_below"],
        "source": band["source"],
        "source_text": source,
        "calibration": band["calibration"],
        "rule": "score < authentic_below: authentic; authentic_below <= score < threshold: uncertain; "
        "score >= threshold: manipulated",
        "min_face_size": opt.min_face_size,
        "min_sharpness": opt.min_sharpness,
        "min_frames": opt.min_frames,
        "not_evaluated": {r: reason_text(r, opt) for r in NOT_EVALUATED_REASONS},
    }


def summary_dict(files: list[dict[str, Any]]) -> dict[str, Any]:
    """The document's "summary" from its file objects: counts per verdict, errors, highest score."""
    scores = [f["score"] for f in files if f.get("score") is not None]
    out: dict[str, Any] = {
        "files": len(files),
        "errors": sum(1 for f in files if f.get("status") in ("error", "partial")),
    }
    for v in FILE_VERDICTS:
        out[v] = sum(1 for f in files if f.get("verdict") == v)
    out["max_score"] = _r(max(scores)) if scores else None
    return out


_RULE_TEXT = {
    "mean": "mean of the track's face probabilities",
    "max": "max of the track's face probabilities",
    "confident": "DFDC confident strategy: if more than floor(n/2.5) and more than 11 of the n probabilities "
    "exceed 0.8, their mean; else if more than 90% are below 0.2, their mean; else the mean",
}


def _r(v: float | None, nd: int = 4) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


def _file_dict(f: FileScan, verbose: bool = True) -> dict[str, Any]:
    out = {
        "source": f.source,
        "kind": f.kind,
        "status": f.status,
        "message": f.message,
        "info": f.info,
        "score": _r(f.score),
        "verdict": f.verdict,
        "reason": f.reason,
        "frames_scanned": len(f.frames),
        "frames_with_faces": len(f.frames) - f.frames_without_faces,
        "frames_without_faces": f.frames_without_faces,
        "frames_evaluated": f.frames_evaluated,
        "frames_dropped": f.frames_dropped,
        "faces_scored": f.faces_scored,
        "faces_not_evaluated": f.faces_not_evaluated,
        "seconds": round(f.seconds, 3),
        "fps": round(f.fps, 2),
    }
    if not verbose:
        return out
    out["tracks"] = [
        {
            "track": t.track,
            "faces": t.faces,
            "first_time": round(t.first_time, 4),
            "last_time": round(t.last_time, 4),
            "score": _r(t.score),
            "mean": _r(t.mean),
            "max": _r(t.max),
            "verdict": t.verdict,
            "reason": t.reason,
            "not_evaluated": t.not_evaluated,
        }
        for t in f.tracks
    ]
    out["frames"] = [
        {
            "index": fr.index,
            "time": round(fr.time, 4),
            "status": fr.status,
            "prob": _r(fr.prob),
            "faces": [
                {
                    "track": fc.track,
                    "box": [round(float(v), 1) for v in fc.box],
                    "prob": _r(fc.prob),
                    "tracked": fc.tracked,
                    "sharpness": _r(fc.sharpness, 1),
                    "reason": fc.reason,
                }
                for fc in fr.faces
            ],
        }
        for fr in f.frames
    ]
    out["provenance"] = f.provenance
    out["annotated"] = f.annotated
    return out


CSV_COLUMNS = (
    "source",
    "frame",
    "time",
    "status",
    "track",
    "x0",
    "y0",
    "x1",
    "y1",
    "prob",
    "tracked",
    "file_score",
    "verdict",
    "reason",
)


def write_csv(result: ScanResult, path: str | Path) -> Path:
    """One row per face (empty prob and a reason when it was not scored), one per frame without a face (empty
    prob), one per failed file; `reason` is the face's not-evaluated reason, else the file's."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for f in result.files:
        tail = ["" if f.score is None else f"{f.score:.4f}", f.verdict]
        if not f.frames:
            w.writerow([f.source, "", "", f.status, "", "", "", "", "", "", "", *tail, f.reason or ""])
        for fr in f.frames:
            if not fr.faces:
                w.writerow(
                    [f.source, fr.index, f"{fr.time:.4f}", "no_face", "", "", "", "", "", "", "", *tail, f.reason or ""]
                )
            for fc in fr.faces:
                box = [f"{v:.1f}" for v in fc.box]
                w.writerow(
                    [
                        f.source,
                        fr.index,
                        f"{fr.time:.4f}",
                        "face",
                        fc.track,
                        *box,
                        f"{fc.prob:.4f}" if fc.evaluated else "",
                        int(fc.tracked),
                        *tail,
                        fc.reason or f.reason or "",
                    ]
                )
    out = Path(path)
    out.write_text(buf.getvalue(), encoding="utf-8")
    return out


# --------------------------------------------------------------------------------------------------------
# Aggregation


# --------------------------------------------------------------------------------------------------------
# Sources


def is_live_source(source: str) -> bool:
    """True for a stream URL (`rtsp://`, `http://`, `file://` ...), a capture device (`/dev/video0`) or a
    `FORMAT:DEVICE` capture spec such as `v4l2:/dev/video0` or `lavfi:testsrc`."""
    s = str(source)
    if "://" in s or s.startswith("/dev/video"):
        return True
    fmt = s.split(":", 1)[0]
    return ":" in s and fmt in _CAPTURE_FORMATS


class LiveReader(MediaReader):
    """Frames of a stream or capture device opened by PyAV (frame count unknown; never seeks).

    Args:
        source: URL, `/dev/videoN`, or `FORMAT:DEVICE` (e.g. `v4l2:/dev/video0`).
        open_timeout: seconds to wait for the source to open.
    """

    def __init__(self, source: str, open_timeout: float = 10.0) -> None:
        self.source = source
        fmt: str | None = None
        target = source
        if "://" not in source:
            if source.startswith("/dev/video"):
                fmt = "v4l2"
            else:
                fmt, target = source.split(":", 1)
        try:
            self._container = av.open(target, mode="r", format=fmt, timeout=(open_timeout, open_timeout))
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise BadInputError(f"{source}: cannot open live source ({_reason(exc)})") from None
        if not self._container.streams.video:
            self._container.close()
            raise BadInputError(f"{source}: no video stream")
        vs = self._container.streams.video[0]
        vs.thread_type = "AUTO"
        self._stream = vs
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else 25.0
        if not np.isfinite(fps) or fps <= 0 or fps > 1000:
            fps = 25.0
        ctx = vs.codec_context
        self.info = MediaInfo(
            path=Path(source),
            kind="video",
            width=int(ctx.width or 0),
            height=int(ctx.height or 0),
            fps=fps,
            frame_count=None,
            duration=None,
            rotation=0,
            codec=getattr(ctx.codec, "name", "") or "",
            has_audio=False,
        )
        self._tb = vs.time_base
        self._start: int | None = None

    def iter_frames(self, every: int = 1) -> Iterator[Frame]:
        every = max(1, int(every))
        index = 0
        try:
            for packet in self._container.demux(self._stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    continue
                for f in frames:
                    i, index = index, index + 1
                    if i % every:
                        continue
                    if f.pts is not None and self._start is None:
                        self._start = int(f.pts)
                    t = float((int(f.pts) - (self._start or 0)) * self._tb) if f.pts is not None else i / self.info.fps
                    yield Frame(image=f.to_ndarray(format="rgb24"), index=i, time=t, pts=f.pts)
        except av.error.FFmpegError as exc:
            if index == 0:
                raise BadInputError(f"{self.source}: live source failed ({_reason(exc)})") from None

    def seek(self, time: float) -> None:
        raise BadInputError(f"{self.source}: a live source cannot seek")

    def close(self) -> None:
        self._container.close()


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[0].strip().lower() if text else type(exc).__name__


class _Realtime:
    """Frames delivered at wall-clock pace by a reader thread; the consumer gets the oldest frame not older
    than `max_latency`, and frames that waited longer are dropped (counted in `dropped`).

    Frames are released at their timestamps (a file plays at its native frame rate; a live source, which
    delivers at that rate anyway, is only smoothed).
    """

    def __init__(self, frames: Iterator[Frame], max_latency: float, pace: bool) -> None:
        self._frames = frames
        self._max_latency = max_latency
        self._pace = pace
        self._q: deque[tuple[float, Frame]] = deque()
        self._cv = threading.Condition()
        self._done = False
        self._error: BaseException | None = None
        self._stop = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="realtime-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        t0: float | None = None
        try:
            for fr in self._frames:
                if self._stop:
                    break
                now = time.perf_counter()
                if self._pace:
                    if t0 is None:
                        t0 = now - fr.time
                    wait = t0 + fr.time - now
                    if wait > 0:
                        time.sleep(wait)
                    now = time.perf_counter()
                with self._cv:
                    while self._q and now - self._q[0][0] > self._max_latency:
                        self._q.popleft()
                        self.dropped += 1
                    self._q.append((now, fr))
                    self._cv.notify()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._error = exc
        finally:
            with self._cv:
                self._done = True
                self._cv.notify()

    def __iter__(self) -> Iterator[Frame]:
        while True:
            with self._cv:
                while not self._q and not self._done:
                    self._cv.wait(0.1)
                if not self._q:
                    if self._error is not None:
                        raise self._error
                    return
                now = time.perf_counter()
                while len(self._q) > 1 and now - self._q[0][0] > self._max_latency:
                    self._q.popleft()
                    self.dropped += 1
                _, fr = self._q.popleft()
            yield fr

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)


# --------------------------------------------------------------------------------------------------------
# Scanning one source


def _between_faces(
    detector: FaceDetector, frames: list[Frame], a: list[Face], b: list[Face], t0: float, t1: float
) -> list[list[tuple[int, np.ndarray]]]:
    """(track, mesh) per face for each frame between a key frame at `t0` with faces `a` and one at `t1` with `b`.

    A track seen at both key frames: landmarks interpolated linearly in time. A track seen at one key frame
    only (a face leaving or entering): followed frame by frame from that key frame with the detector's
    `track` hook (landmarks on the previous box) until it is lost.
    """
    fa = {f.track_id: f for f in a if f.mesh is not None}
    fb = {f.track_id: f for f in b if f.mesh is not None}
    out: list[dict[int, np.ndarray]] = [{} for _ in frames]
    span = max(t1 - t0, 1e-6)
    for k, fr in enumerate(frames):
        alpha = (fr.time - t0) / span
        if not 0.0 <= alpha <= 1.0:  # odd timestamps: fall back to the position
            alpha = (k + 1) / (len(frames) + 1)
        for tid in fa.keys() & fb.keys():
            out[k][tid] = (1 - alpha) * fa[tid].mesh + alpha * fb[tid].mesh  # type: ignore[operator]
    for tid in fa.keys() - fb.keys():  # leaving: follow forwards
        cur = fa[tid]
        for k, fr in enumerate(frames):
            found = detector.track(fr.image, [cur])
            if not found:
                break
            cur = found[0]
            out[k][tid] = cur.mesh  # type: ignore[assignment]
    for tid in fb.keys() - fa.keys():  # entering: follow backwards
        cur = fb[tid]
        for k in range(len(frames) - 1, -1, -1):
            found = detector.track(frames[k].image, [cur])
            if not found:
                break
            cur = found[0]
            out[k][tid] = cur.mesh  # type: ignore[assignment]
    return [sorted(d.items()) for d in out]


@dataclass
class _Pending:
    """A frame whose faces are known and whose crops wait for the detector."""

    rec: FrameScore
    image: np.ndarray | None  # kept only for annotation


class _Scanner:
    """Scan of one source: key-frame analysis, interpolation, batching, asynchronous inference."""

    def __init__(
        self,
        model: DetectorModel,
        analyzer: FaceAnalyzer,
        opt: ScanOptions,
        result: FileScan,
        progress: ScanProgress,
        pool: ThreadPoolExecutor,
        annotate: VideoWriter | None,
        exhaustive: bool,
    ) -> None:
        self.model, self.analyzer, self.opt, self.res = model, analyzer, opt, result
        self.progress, self.pool, self.writer = progress, pool, annotate
        self.exhaustive = exhaustive
        self.key_faces: list[Face] | None = None
        self.key_time = 0.0
        self.between: list[Frame] = []
        self.crops: list[np.ndarray] = []
        self.owners: list[tuple[FaceScore, FrameScore]] = []
        self.batch_frames: list[_Pending] = []
        self.inflight: deque[
            tuple[Future[np.ndarray], list[tuple[FaceScore, FrameScore]], list[_Pending], list[np.ndarray]]
        ] = deque()
        self.n = 0
        self.sus: list[tuple[float, int, Suspicious]] = []
        self._tie = itertools.count()
        self.flush_wait = 0.1 if opt.realtime else None
        self.oldest = 0.0

    # -- frames in ------------------------------------------------------------------------------------
    def push(self, frame: Frame) -> None:
        is_key = self.opt.detect_every == 1 or self.n % self.opt.detect_every == 0 or self.key_faces is None
        self.n += 1
        if is_key:
            self._key(frame)
        else:
            self.between.append(frame)

    def end(self) -> None:
        """Source ended: the last waiting frame becomes a key frame; everything is scored."""
        if self.between:
            last = self.between.pop()
            self._key(last)
        self._flush(final=True)
        while self.inflight:
            self._collect()

    def _faces(self, image: np.ndarray) -> list[Face]:
        faces = [f for f in self.analyzer(image, self.exhaustive) if f.mesh is not None]
        return [f for f in faces if f.size >= self.opt.min_size]

    def _key(self, frame: Frame) -> None:
        faces = self._faces(frame.image)
        if self.between:
            det = self.analyzer.detector
            per_frame = _between_faces(det, self.between, self.key_faces or [], faces, self.key_time, frame.time)
            for fr, found in zip(self.between, per_frame, strict=True):
                self._emit(fr, [(t, m, True) for t, m in found])
            self.between = []
        self._emit(frame, [(f.track_id, f.mesh, False) for f in faces])  # type: ignore[misc]
        self.key_faces, self.key_time = faces, frame.time

    def _emit(self, frame: Frame, faces: list[tuple[int, np.ndarray, bool]]) -> None:
        rec = FrameScore(index=frame.index, time=float(frame.time))
        s, m = self.model.crop_size, self.model.margin
        for tid, mesh, tracked in faces:
            box = tuple(float(v) for v in landmark_box(mesh))
            fs = FaceScore(track=int(tid), box=box, tracked=tracked)  # type: ignore[arg-type]
            rec.faces.append(fs)
            if max(box[2] - box[0], box[3] - box[1]) < self.opt.min_face_size:
                fs.reason = "face_too_small"  # not aligned, not scored
                continue
            big = None
            if self.model.align_size:
                big = align_face(frame.image, mesh, self.model.align_size, m).image
                crop = np.asarray(Image.fromarray(big).resize((s, s), Image.BILINEAR))
            else:
                crop = align_face(frame.image, mesh, s, m).image
            fs.sharpness = blur_score(big if big is not None else crop)
            if fs.sharpness < self.opt.min_sharpness:
                fs.reason = "face_too_blurry"
                continue
            self.crops.append(crop)
            self.owners.append((fs, rec))
        if not self.batch_frames:
            self.oldest = time.perf_counter()
        self.batch_frames.append(_Pending(rec, frame.image if self.writer is not None else None))
        full = len(self.crops) >= self.opt.batch_size or len(self.batch_frames) >= 2 * self.opt.batch_size
        late = self.flush_wait is not None and time.perf_counter() - self.oldest > self.flush_wait
        if full or late:
            self._flush()

    # -- inference ------------------------------------------------------------------------------------
    def _flush(self, final: bool = False) -> None:
        if not self.batch_frames:
            return
        crops = np.stack(self.crops) if self.crops else np.zeros((0, 1, 1, 3), np.uint8)
        fut = self.pool.submit(self.model.predict, crops)
        self.inflight.append((fut, self.owners, self.batch_frames, self.crops))
        self.crops, self.owners, self.batch_frames = [], [], []
        # one batch on the worker while the next one is prepared; annotation holds frames: keep it at one
        limit = 1 if self.writer is not None or self.opt.realtime else 2
        while len(self.inflight) > limit or (final and self.inflight):
            self._collect()

    def _collect(self) -> None:
        fut, owners, frames, crops = self.inflight.popleft()
        probs = fut.result()
        for (fs, rec), p, crop in zip(owners, probs, crops, strict=True):
            fs.prob = float(p)
            self._keep(fs, rec, crop)
        recs = [p.rec for p in frames]
        self.res.frames.extend(recs)
        if self.writer is not None:
            for p in frames:
                self.writer.write(draw_annotations(p.image, p.rec), time=p.rec.time)  # type: ignore[arg-type]
        self.progress.frames_done(recs, self._running(), self.res.frames_dropped)

    def _keep(self, fs: FaceScore, rec: FrameScore, crop: np.ndarray) -> None:
        if self.opt.keep_suspicious <= 0:
            return
        item = (fs.prob, next(self._tie), Suspicious(fs.prob, rec.index, rec.time, fs.track, crop))
        if len(self.sus) < self.opt.keep_suspicious:
            heapq.heappush(self.sus, item)
        elif fs.prob > self.sus[0][0]:
            heapq.heapreplace(self.sus, item)

    def _running(self) -> float | None:
        probs = [f.prob for fr in self.res.frames[-300:] for f in fr.faces if f.evaluated]
        return aggregate(np.array(probs), self.opt.aggregation) if probs else None

    def suspicious(self) -> list[Suspicious]:
        return [s for _, _, s in sorted(self.sus, key=lambda x: (-x[0], x[1]))]


def _info_dict(info: MediaInfo) -> dict[str, Any]:
    return {
        "width": info.width,
        "height": info.height,
        "fps": round(float(info.fps), 4),
        "frame_count": info.frame_count,
        "duration": None if info.duration is None else round(float(info.duration), 4),
        "codec": info.codec,
    }


PROVENANCE_FRAMES = 16
"""Most video frames the provenance check of a scan decodes (key frames spread over the file first)."""
PROVENANCE_CONFIRM = 3
"""The check stops once this many sampled frames carried the same watermark payload."""


def _provenance(path: Path) -> dict[str, Any] | None:
    """Findings of `deepfake_lab.provenance.inspect_provenance` (None when that module is not installed).

    Bounded: the C2PA manifest, then at most `PROVENANCE_FRAMES` frames (key frames at evenly spaced times,
    one seek each), stopping after `PROVENANCE_CONFIRM` frames agree on a payload; the report's
    `watermark.frames_checked` / `sample_limit` / `stopped_early` say what it cost."""
    try:
        from deepfake_lab.provenance import inspect_provenance  # type: ignore[attr-defined]
    except ImportError:
        return None
    try:
        rep = inspect_provenance(path, max_frames=PROVENANCE_FRAMES, confirm=PROVENANCE_CONFIRM, sampling="keyframes")
        return dict(rep.to_dict())
    except DeepfakeLabError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a failing check must not cost the scan
        return {"error": f"provenance check failed: {type(exc).__name__}: {str(exc)[:200]}"}


def scan_file(
    source: str | Path,
    model: DetectorModel,
    options: ScanOptions | None = None,
    *,
    detector: FaceDetector | None = None,
    annotate: str | Path | None = None,
    progress: ScanProgress | None = None,
    provenance: bool = True,
) -> FileScan:
    """Scan one video, image, image folder/sequence or live source.

    Args:
        source: a path, or a stream URL / capture device (see `is_live_source`).
        model: the loaded detector (`load_detector`); its precision should be chosen already.
        options: `ScanOptions`.
        detector: a ready face detector (default: MediaPipe, created and closed here).
        annotate: write the frames with boxes and percentages here (.mp4/.mov/.mkv for videos, an image
            suffix for images; the source's audio is kept).
        progress: callbacks.
        provenance: look for provenance findings (watermark / C2PA) when that module is installed.

    Returns:
        `FileScan`; a bad source gives status "error" and a one-line `message` (no exception).

    Raises:
        KeyboardInterrupt: re-raised for files (the result so far is lost); a live source ends cleanly.
    """
    opt = options or ScanOptions()
    opt.validate()
    band = verdict_band(model.card, opt)
    progress = progress or ScanProgress()
    src = str(source)
    res = FileScan(source=src)
    live = is_live_source(src)
    t0 = time.perf_counter()
    own = detector is None
    det = detector or create_detector("mediapipe", model_range=opt.model_range)
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(opt.threads)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scan-infer")
    writer: VideoWriter | None = None
    try:
        reader: MediaReader = LiveReader(src) if live else open_media(src)
        with reader:
            info = reader.info
            res.kind = "live" if live else info.kind
            res.info = _info_dict(info)
            is_image = info.kind == "image"
            if annotate is not None:
                writer = _open_annotation(Path(annotate), src, info, live)
            total = None if info.frame_count is None else -(-info.frame_count // opt.every)
            if opt.max_seconds is not None and info.fps and total is not None:
                total = min(total, int(np.ceil(opt.max_seconds * info.fps / opt.every)))
            progress.file_started(src, info, total)
            analyzer = FaceAnalyzer(det, detect_every=1, max_faces=opt.max_faces)
            det.ensure_loaded()  # before frames start to flow (realtime: loading would count as latency)
            scanner = _Scanner(model, analyzer, opt, res, progress, pool, writer, exhaustive=is_image)
            image: np.ndarray | None = None
            frames: Iterable[Frame]
            rt: _Realtime | None = None
            pre: Prefetcher | None = None
            if opt.realtime and not is_image:
                rt = _Realtime(reader.iter_frames(opt.every), opt.max_latency, pace=True)
                frames = rt
            else:
                pre = Prefetcher(reader.iter_frames(opt.every), depth=8)
                frames = pre
            stopped = False  # --max-seconds ended the source early: not a truncated file
            try:
                for frame in frames:
                    if opt.max_seconds is not None and frame.time > opt.max_seconds + 1e-6:
                        stopped = True
                        break
                    if progress.cancelled():
                        break
                    if is_image and annotate is not None:
                        image = frame.image
                    scanner.push(frame)
                    if rt is not None:
                        res.frames_dropped = rt.dropped
                scanner.end()
            except KeyboardInterrupt:
                if not live:
                    raise
                scanner.end()
                res.status, res.message = "ok", "stopped by the user"
            finally:
                if rt is not None:
                    res.frames_dropped = rt.dropped
                    rt.close()
                if pre is not None:
                    pre.close()
            if not res.frames:
                raise BadInputError(f"{src}: no decodable frames")
            res.suspicious = scanner.suspicious()
            if is_image and annotate is not None:
                _write_image(Path(annotate), draw_annotations(image, res.frames[0]))  # type: ignore[arg-type]
                res.annotated = str(annotate)
            elif writer is not None:
                res.annotated = str(annotate)
            problem = reader.incomplete() if isinstance(reader, VideoReader) and not stopped else None
            if problem:
                res.status, res.message = "partial", f"{src}: {problem} (the decodable frames were scanned)"
    except BadInputError as exc:
        res.status, res.message = "error", str(exc)
    finally:
        if writer is not None:
            writer.close()
            if res.annotated is None:  # nothing scanned: do not leave an empty video behind
                Path(annotate).unlink(missing_ok=True)  # type: ignore[arg-type]
        pool.shutdown(wait=True)
        torch.set_num_threads(prev_threads)
        if own:
            det.close()
    if res.status == "error" and res.frames:
        res.status = "partial"
    res.seconds = time.perf_counter() - t0  # the scan itself; the provenance check is a separate cost
    if provenance and not live and res.status != "error":
        res.provenance = _provenance(Path(src))
    res.finish(opt, band)
    progress.file_finished(res)
    return res


def _open_annotation(path: Path, src: str, info: MediaInfo, live: bool) -> VideoWriter | None:
    if info.kind == "image":
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            raise BadInputError(f"--annotate {path.name}: an image input needs an image suffix (.png, .jpg)")
        return None
    if path.suffix.lower() not in (".mp4", ".mov", ".mkv"):
        raise BadInputError(f"--annotate {path.name}: a video input needs .mp4, .mov or .mkv")
    if not live and path.resolve() == Path(src).resolve():
        raise BadInputError("--annotate must not overwrite the source")
    path.parent.mkdir(parents=True, exist_ok=True)
    has_audio = info.has_audio and info.kind == "video" and not live
    return VideoWriter(
        path,
        fps=info.fps,
        crf=23,
        preset="veryfast",
        audio_from=src if has_audio else None,
        metadata={"comment": f"{OUTPUT_MARK}: annotated scan of {Path(src).name}"},
    )


def _write_image(path: Path, image: np.ndarray) -> None:
    """Write an annotated image (PNG text chunk / JPEG comment marks it as a scan output)."""
    from PIL import PngImagePlugin

    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(image)
    suffix = path.suffix.lower()
    try:
        if suffix == ".png":
            meta = PngImagePlugin.PngInfo()
            meta.add_text("Comment", OUTPUT_MARK)
            im.save(path, pnginfo=meta)
        elif suffix in (".jpg", ".jpeg"):
            im.save(path, quality=92, comment=OUTPUT_MARK.encode())
        else:
            im.save(path)
    except (OSError, ValueError, KeyError) as exc:
        raise BadInputError(f"cannot write {path.name} ({exc})") from None


def is_scan_output(path: str | Path) -> bool:
    """Whether an existing file was written by a scan (JSON, CSV, HTML report, annotated video or image)."""
    p = Path(path)
    try:
        head = p.read_bytes()[:4096] if p.suffix.lower() in (".json", ".jsonl", ".csv", ".html", ".htm") else b""
    except OSError:
        return False
    suffix = p.suffix.lower()
    if suffix in (".json", ".jsonl"):
        return f'"schema": "{SCHEMA_ID}"'.encode() in head
    if suffix == ".csv":
        return head.startswith(",".join(CSV_COLUMNS[:-1]).encode())  # schema 1 files lack "reason"
    if suffix in (".html", ".htm"):
        return f'<meta name="generator" content="{OUTPUT_MARK}">'.encode() in head
    if suffix in IMAGE_EXTENSIONS:
        try:
            with Image.open(p) as im:
                mark = im.info.get("Comment") or im.info.get("comment") or b""
        except (OSError, ValueError):
            return False
        return (mark.decode(errors="ignore") if isinstance(mark, bytes) else str(mark)) == OUTPUT_MARK
    try:
        with av.open(str(p), metadata_errors="ignore") as c:
            return str(c.metadata.get("comment", "")).startswith(OUTPUT_MARK)
    except (av.error.FFmpegError, OSError, ValueError):
        return False


def check_output(path: str | Path, overwrite: bool = False, what: str = "output") -> None:
    """Refuse to replace an existing file that is not an earlier scan output (unless `overwrite`)."""
    p = Path(path)
    if p.is_dir():
        raise BadInputError(f"{what} {p} is a folder; give a file name")
    if p.exists() and not overwrite and not is_scan_output(p):
        raise BadInputError(f"{what} {p} exists and is not a deepfake-lab scan output; pass --overwrite to replace it")


def prob_colour(p: float) -> tuple[int, int, int]:
    """RGB colour of a probability: green (0) through yellow (0.5) to red (1)."""
    p = float(np.clip(p, 0.0, 1.0))
    return (int(255 * min(1.0, 2 * p)), int(255 * min(1.0, 2 * (1 - p))), 0)


def draw_annotations(image: np.ndarray, rec: FrameScore) -> np.ndarray:
    """Copy of an RGB frame with each face's box coloured by its probability and the percentage drawn."""
    out = image.copy()
    h = out.shape[0]
    thick = max(2, h // 240)
    scale = max(0.5, h / 720)
    for f in rec.faces:
        x0, y0, x1, y1 = (int(round(v)) for v in f.box)
        c = prob_colour(f.prob) if f.evaluated else (160, 160, 160)
        cv2.rectangle(out, (x0, y0), (x1, y1), c, thick)
        short = {"face_too_small": "too small", "face_too_blurry": "too blurry"}
        label = f"{100 * f.prob:.0f}% fake" if f.evaluated else f"not scored: {short.get(f.reason or '', '?')}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        ty = y0 - 4 if y0 - th - base - 4 > 0 else y1 + th + 4
        cv2.rectangle(out, (x0, ty - th - base), (x0 + tw + 4, ty + base // 2), c, -1)
        cv2.putText(out, label, (x0 + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    if not rec.faces:
        cv2.putText(
            out, "no face", (8, int(28 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA
        )
    return out


# --------------------------------------------------------------------------------------------------------
# Many sources


def _annotation_path(annotate: Path, source: str, kind_hint: str, many: bool) -> Path:
    if not many:
        return annotate
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(source).stem)[:60] or "source"
    suffix = Path(source).suffix.lower() if kind_hint == "image" else ".mp4"
    return annotate / f"{stem}.annotated{suffix}"


def scan_paths(
    inputs: Iterable[str | Path],
    model: DetectorModel,
    options: ScanOptions | None = None,
    *,
    annotate: str | Path | None = None,
    progress: ScanProgress | None = None,
    provenance: bool = True,
    on_file: Callable[[FileScan], None] | None = None,
    overwrite: bool = False,
) -> ScanResult:
    """Scan videos, images, folders (recursively) and live sources; bad ones become "error" entries.

    Args:
        inputs: paths, folders, stream URLs or capture devices.
        model: loaded detector (`load_detector`); `options.precision` is applied to it here.
        options: `ScanOptions`.
        annotate: with one source, the annotated output file; with several, a folder that receives
            `<stem>.annotated.mp4` (or the image suffix) per source.
        progress: callbacks.
        provenance: look for provenance findings per file.
        on_file: called with each finished `FileScan`.
        overwrite: replace existing annotated files even when they are not earlier scan outputs.

    Returns:
        `ScanResult` (use `.to_dict()` for the JSON document).

    Raises:
        BadInputError: unusable options or output locations.
        KeyboardInterrupt: Ctrl-C during the first source (later: the result so far, `interrupted=True`).
    """
    opt = options or ScanOptions()
    opt.validate()
    band = verdict_band(model.card, opt)  # a bad card calibration fails before any scanning
    progress = progress or ScanProgress()
    items: list[tuple[str, Path | None, str]] = []
    plain: list[str | Path] = []
    for raw in inputs:
        if is_live_source(str(raw)):
            if plain:
                items.extend(collect_sources(plain))
                plain = []
            items.append((str(raw), None, ""))
        else:
            plain.append(raw)
    if plain:
        items.extend(collect_sources(plain))
    many = len(items) > 1
    ann = Path(annotate) if annotate is not None else None
    if ann is not None and many:
        if ann.suffix and not ann.is_dir():
            raise BadInputError(f"--annotate {ann}: with several inputs give a folder for the annotated files")
        ann.mkdir(parents=True, exist_ok=True)
    inputs_resolved = {p.resolve() for _, p, _ in items if p is not None}
    targets: dict[int, Path] = {}
    if ann is not None:
        for i, (raw, path, error) in enumerate(items):
            if error:
                continue
            kind = "image" if path is not None and path.suffix.lower() in IMAGE_EXTENSIONS else "video"
            targets[i] = _annotation_path(ann, str(path) if path is not None else raw, kind, many)
            if targets[i].resolve() in inputs_resolved:
                raise BadInputError("--annotate must not overwrite an input")
            check_output(targets[i], overwrite, "--annotate")
    model.choose_precision(opt.precision, batch=min(opt.batch_size, 16))
    progress.sources_found(len(items))
    files: list[FileScan] = []
    interrupted = False
    with create_detector("mediapipe", model_range=opt.model_range) as det:
        for i, (raw, path, error) in enumerate(items):
            if error:
                res = FileScan(source=raw, status="error", message=error)
                res.finish(opt, band)
                progress.file_finished(res)
            else:
                src = str(path) if path is not None else raw
                try:
                    res = scan_file(
                        src, model, opt, detector=det, annotate=targets.get(i), progress=progress, provenance=provenance
                    )
                except KeyboardInterrupt:
                    if not files:
                        raise
                    interrupted = True  # keep what is finished; the file in progress is dropped
                    break
            files.append(res)
            if on_file is not None:
                on_file(res)
    return ScanResult(files=files, model=model, options=opt, interrupted=interrupted)
