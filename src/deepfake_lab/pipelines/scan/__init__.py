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

Modules (one concept each): `options` (ScanOptions, declared once for CLI and web), `verdicts` (names and
limits), `detector` (loading, crop policy, precision), `result` (the result model and its JSON document),
`writers` (CSV/JSON, output checks), `annotate` (the annotated video/image), `provenance_check`, `scanner`
(the frame loop of one source), `core` (`scan_file`, `scan_paths`), `summary` (exit codes), `shards`
(resumable scans over torchrun ranks), `schema` (the JSON Schema). This package re-exports their public
names lazily, so `from deepfake_lab.pipelines.scan.verdicts import ...` and `.options` stay torch-free.

Example:
    >>> from deepfake_lab.pipelines.scan import ScanOptions, load_detector, scan_paths
    >>> result = scan_paths(["clip.mp4", "photos/"], load_detector("model.safetensors"))  # doctest: +SKIP
    >>> [(f.source, f.score, f.verdict) for f in result.files]  # doctest: +SKIP
    >>> result.to_dict()["schema_version"]  # doctest: +SKIP
    2
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "options": ("PRECISION_ENV", "OptionError", "OptionSpec", "Ref", "ScanOptions", "option_specs", "option_types"),
    "verdicts": ("FILE_VERDICTS", "MIN_FACE_SIZE", "MIN_FRAMES", "MIN_SHARPNESS", "NOT_EVALUATED_REASONS"),
    "detector": (
        "BF16_CPU_FLAGS", "DEFAULT_DETECTOR", "DETECTOR_ENV", "Detector", "DetectorModel", "auto_precision",
        "crop_policy", "crop_text", "load_torch_detector", "resolve_detector_path",
    ),
    "onnx_backend": ("OnnxDetector", "load_onnx_detector", "try_load_onnx"),
    "load": ("BACKENDS", "BACKEND_ENV", "load_detector"),
    "result": (
        "SCHEMA_ID", "SCHEMA_VERSION", "FaceScore", "FileScan", "FrameScore", "ScanResult", "Suspicious",
        "TrackScore", "band_source_text", "reason_text", "summary_dict", "verdict_band", "verdicts_dict",
    ),
    "writers": ("CSV_COLUMNS", "OUTPUT_MARK", "check_output", "is_scan_output", "write_csv", "write_json"),
    "annotate": ("draw_annotations", "prob_colour"),
    "provenance_check": ("check_provenance",),
    "core": ("scan_file", "scan_paths"),
    "summary": ("ScanOutcome", "scan_outcome"),
    "shards": ("scan_sharded",),
}  # fmt: skip
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    """Import the submodule that defines `name` on first use (torch loads only with the scanner itself)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

