"""The result model of a scan and its JSON document: face → frame → track → file scores with verdicts.

`FileScan.finish` turns the per-frame face probabilities into track and file scores and verdicts (the rules
are in the `pipelines.scan` docstring); `ScanResult.to_dict` is the versioned document (`schema.SCAN_SCHEMA`),
`FileScan.to_dict` one of its file objects (also the line format of sharded scans).

Example:
    >>> f = FileScan(source="clip.mp4", kind="video")
    >>> f.finish(ScanOptions())
    >>> f.verdict, f.to_dict()["frames_scanned"]
    ('no_face', 0)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from deepfake_lab import __version__
from deepfake_lab.metrics.calibration import check_calibration, default_calibration, verdict_for
from deepfake_lab.metrics.detection import aggregate
from deepfake_lab.pipelines.scan.options import OptionError, Ref, ScanOptions
from deepfake_lab.pipelines.scan.verdicts import FILE_VERDICTS, NOT_EVALUATED_REASONS

if TYPE_CHECKING:  # pragma: no cover
    from deepfake_lab.pipelines.scan.detector import Detector

__all__ = [
    "SCHEMA_ID", "SCHEMA_VERSION", "FaceScore", "FileScan", "FrameScore", "ScanResult", "Suspicious", "TrackScore",
    "band_source_text", "reason_text", "summary_dict", "verdict_band", "verdicts_dict",
]  # fmt: skip

SCHEMA_ID = "deepfake-lab/scan"
SCHEMA_VERSION = 2


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
        raise OptionError(
            Ref("authentic_below"),
            f" ({band['authentic_below']:g}) must not exceed the threshold ({band['threshold']:g})",
        )
    return band


def band_source_text(band: dict[str, Any], cli: bool = False) -> str:
    """Where a verdict band (`scan.verdict_band`) came from, in words: the report's wording, or with `cli` the
    terminal line's (percent sign without a space, flags named, no head count).

    Example:
        >>> band = {"source": "card", "calibration": {"target_fpr": 0.05, "n_real": 400, "n_real_identities": 40}}
        >>> band_source_text(band)
        'calibrated in the detector card for 5 % false positives on 400 held-out real faces of 40 people'
        >>> band_source_text(band, cli=True)
        'calibrated in the detector card for 5% false positives on 400 held-out real faces'
    """
    cal = band.get("calibration") or {}
    if band["source"] == "card":
        fpr = cal.get("target_fpr")
        if not isinstance(fpr, (int, float)):
            return "calibrated in the detector card"
        people = f" of {cal['n_real_identities']} people" if cal.get("n_real_identities") and not cli else ""
        how = {"person-mean": " (rate averaged over people)", "person-conformal": " (rate per person)"}
        return (
            f"calibrated in the detector card for {100 * fpr:.0f}{'' if cli else ' '}% false positives on "
            f"{cal.get('n_real', '?')} held-out real faces{people}{how.get(str(cal.get('rule')), '')}"
        )
    if band["source"] == "option":
        if cli:
            return "set with --threshold/--authentic-below (not the card's calibration)"
        return "set by the user for this scan, not the detector card's calibration"
    if cli:
        return "default: the detector card has no calibration, so the band is NOT calibrated"
    return "the default band: this detector's card has no calibration, so it is NOT calibrated"


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

    def to_dict(self, verbose: bool = True) -> dict[str, Any]:
        """The file object of the JSON document (`verbose=False`: without tracks, frames, provenance, annotated)."""
        out: dict[str, Any] = {
            "source": self.source,
            "kind": self.kind,
            "status": self.status,
            "message": self.message,
            "info": self.info,
            "score": _r(self.score),
            "verdict": self.verdict,
            "reason": self.reason,
            "frames_scanned": len(self.frames),
            "frames_with_faces": len(self.frames) - self.frames_without_faces,
            "frames_without_faces": self.frames_without_faces,
            "frames_evaluated": self.frames_evaluated,
            "frames_dropped": self.frames_dropped,
            "faces_scored": self.faces_scored,
            "faces_not_evaluated": self.faces_not_evaluated,
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 2),
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
            for t in self.tracks
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
            for fr in self.frames
        ]
        out["provenance"] = self.provenance
        out["annotated"] = self.annotated
        return out


@dataclass
class ScanResult:
    """All files of one scan, the model and the options; `to_dict()` is the versioned JSON document."""

    files: list[FileScan]
    model: Detector
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
        """The JSON document (schema `deepfake-lab/scan` version `SCHEMA_VERSION`, see `schema.SCAN_SCHEMA`)."""
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
                "track": RULE_TEXT[opt.aggregation],
                "file": f"max over track scores of tracks with >= {opt.min_track_faces} scored faces "
                "(all tracks when none is that long)",
                "threshold": band["threshold"],
            },
            "verdicts": verdicts_dict(band, opt),
            "summary": summary_dict([f.to_dict(verbose=False) for f in self.files]),
            "files": [f.to_dict() for f in self.files],
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


RULE_TEXT = {
    "mean": "mean of the track's face probabilities",
    "max": "max of the track's face probabilities",
    "confident": "DFDC confident strategy: if more than floor(n/2.5) and more than 11 of the n probabilities "
    "exceed 0.8, their mean; else if more than 90% are below 0.2, their mean; else the mean",
}


def _r(v: float | None, nd: int = 4) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


