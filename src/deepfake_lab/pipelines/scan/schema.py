"""The JSON document written by `deepfake-lab detect --json` (schema `deepfake-lab/scan`, version 2).

Version 2 (calibrated verdicts) over version 1: file verdicts "authentic" / "uncertain" / "manipulated" /
"not_evaluated" / "no_face" / "error" with a `reason` for "not_evaluated"; a top-level `verdicts` object (the
band, where it came from, the not-evaluated limits); per face `sharpness` and `reason` (prob null when not
scored); per frame status "not_evaluated"; per track `verdict`, `reason`, `not_evaluated` counts (score null
when no face of the track was scored); per file `frames_evaluated`, `faces_not_evaluated`; summary counts
per verdict; `options.threshold` null when the band comes from the detector card.

`SCAN_SCHEMA` is a JSON Schema (draft 2020-12 subset) of `ScanResult.to_dict()`; `validate` checks a document
against it with a small built-in validator (keywords used here: type, properties, required,
additionalProperties, items, enum, const, minimum, maximum, minItems, maxItems), so no extra dependency is
needed. The README section "Scanning" describes the same fields in words.

Example:
    >>> validate({"schema": "deepfake-lab/scan"})[0]
    "$: missing required key 'schema_version'"
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCAN_SCHEMA", "validate", "check"]

_PROB = {"type": ["number", "null"], "minimum": 0.0, "maximum": 1.0}
_NUM = {"type": "number"}
_INT0 = {"type": "integer", "minimum": 0}
_REASONS = ["face_too_small", "face_too_blurry", "too_few_frames"]
_REASON = {"enum": [*_REASONS, None]}
_FACE_REASON = {"enum": ["face_too_small", "face_too_blurry", None]}
_REASON_COUNTS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"face_too_small": _INT0, "face_too_blurry": _INT0},
}
_VERDICTS = ["authentic", "uncertain", "manipulated", "not_evaluated", "no_face", "error"]

_FACE = {
    "type": "object",
    "required": ["track", "box", "prob", "tracked", "sharpness", "reason"],
    "additionalProperties": False,
    "properties": {
        "track": _INT0,
        "box": {"type": "array", "items": _NUM, "minItems": 4, "maxItems": 4},
        "prob": _PROB,
        "tracked": {"type": "boolean"},
        "sharpness": {"type": ["number", "null"], "minimum": 0.0},
        "reason": _FACE_REASON,
    },
}

_FRAME = {
    "type": "object",
    "required": ["index", "time", "status", "prob", "faces"],
    "additionalProperties": False,
    "properties": {
        "index": _INT0,
        "time": _NUM,
        "status": {"enum": ["faces", "not_evaluated", "no_face"]},
        "prob": _PROB,
        "faces": {"type": "array", "items": _FACE},
    },
}

_TRACK = {
    "type": "object",
    "required": [
        "track",
        "faces",
        "first_time",
        "last_time",
        "score",
        "mean",
        "max",
        "verdict",
        "reason",
        "not_evaluated",
    ],
    "additionalProperties": False,
    "properties": {
        "track": _INT0,
        "faces": _INT0,
        "first_time": _NUM,
        "last_time": _NUM,
        "score": _PROB,
        "mean": _PROB,
        "max": _PROB,
        "verdict": {"enum": ["authentic", "uncertain", "manipulated", "not_evaluated"]},
        "reason": _REASON,
        "not_evaluated": _REASON_COUNTS,
    },
}

_INFO = {
    "type": ["object", "null"],
    "required": ["width", "height", "fps", "frame_count", "duration", "codec"],
    "properties": {
        "width": _INT0,
        "height": _INT0,
        "fps": _NUM,
        "frame_count": {"type": ["integer", "null"]},
        "duration": {"type": ["number", "null"]},
        "codec": {"type": "string"},
    },
}

# `provenance` of a file: `deepfake_lab.provenance.ProvenanceReport.to_dict()` (its own `format_version`), or
# {"error": "..."} when the check failed, or null (--no-provenance, live sources). Only the fields below are
# checked; optional ones (not in `required`) were added later and may be missing from older documents:
# `watermark.sample_limit` (the most frames the check would decode), `watermark.frames_checked` (how many it
# did: the scan stops once 3 frames agree on a payload), `watermark.stopped_early`, `watermark.sampling`
# ("scan" for videos since 2026-12: every n-th of the frames the scan decoded; "keyframes" before: key frames at
# evenly spaced times) and `watermark.frame_indices`.
_WATERMARK = {
    "type": "object",
    "required": ["frames_checked", "frames_found", "fraction", "payload"],
    "properties": {
        "frames_checked": _INT0,
        "frames_found": _INT0,
        "fraction": _PROB,
        "payload": {"type": ["object", "null"]},
        "sampling": {"enum": ["even", "keyframes", "scan"]},
        "sample_limit": _INT0,
        "stopped_early": {"type": "boolean"},
        "frame_indices": {"type": "array", "items": _INT0},
    },
}

_PROVENANCE = {
    "type": ["object", "null"],
    "properties": {
        "kind": {"enum": ["image", "video"]},
        "c2pa": {"type": "object"},
        "watermark": _WATERMARK,
        "labelled_synthetic": {"type": "boolean"},
        "summary": {"type": "string"},
        "error": {"type": "string"},
    },
}

_FILE = {
    "type": "object",
    "required": [
        "source",
        "kind",
        "status",
        "message",
        "info",
        "score",
        "verdict",
        "reason",
        "frames_scanned",
        "frames_with_faces",
        "frames_without_faces",
        "frames_evaluated",
        "frames_dropped",
        "faces_scored",
        "faces_not_evaluated",
        "seconds",
        "fps",
        "tracks",
        "frames",
        "provenance",
        "annotated",
    ],
    "additionalProperties": False,
    "properties": {
        "source": {"type": "string"},
        "kind": {"enum": ["", "video", "image", "sequence", "live"]},
        "status": {"enum": ["ok", "partial", "error"]},
        "message": {"type": "string"},
        "info": _INFO,
        "score": _PROB,
        "verdict": {"enum": _VERDICTS},
        "reason": _REASON,
        "frames_scanned": _INT0,
        "frames_with_faces": _INT0,
        "frames_without_faces": _INT0,
        "frames_evaluated": _INT0,
        "frames_dropped": _INT0,
        "faces_scored": _INT0,
        "faces_not_evaluated": _REASON_COUNTS,
        "seconds": _NUM,
        "fps": _NUM,
        "tracks": {"type": "array", "items": _TRACK},
        "frames": {"type": "array", "items": _FRAME},
        "provenance": _PROVENANCE,
        "annotated": {"type": ["string", "null"]},
    },
}

SCAN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "deepfake-lab/scan/2",
    "title": "deepfake-lab scan result",
    "type": "object",
    "required": [
        "schema",
        "schema_version",
        "tool",
        "created",
        "model",
        "options",
        "aggregation",
        "verdicts",
        "summary",
        "files",
    ],
    "additionalProperties": False,
    "properties": {
        "schema": {"const": "deepfake-lab/scan"},
        "schema_version": {"const": 2},
        "tool": {"type": "string"},
        "created": {"type": "string"},
        "model": {
            "type": "object",
            "required": ["name", "model", "weights", "weights_sha256", "crop", "precision", "card"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "model": {"type": "string"},
                "weights": {"type": "string"},
                "weights_sha256": {"type": "string"},
                "crop": {
                    "type": "object",
                    "required": ["size", "margin"],
                    "properties": {"size": {"type": "integer", "minimum": 1}, "margin": _NUM},
                },
                "precision": {"enum": ["fp32", "bf16"]},
                "backend": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"enum": ["onnxruntime", "torch"]},
                        "version": {"type": "string"},
                        "file": {"type": "string"},
                        "sha256": {"type": "string"},
                        "threads": {"type": "integer", "minimum": 1},
                        "reason": {"type": "string"},
                    },
                },
                "card": {"type": "object", "required": ["kind", "model", "family"]},
            },
        },
        "options": {"type": "object", "required": ["detect_every", "every", "aggregation", "threshold"]},
        "aggregation": {
            "type": "object",
            "required": ["rule", "frame", "track", "file", "threshold"],
            "additionalProperties": False,
            "properties": {
                "rule": {"enum": ["confident", "mean", "max"]},
                "frame": {"type": "string"},
                "track": {"type": "string"},
                "file": {"type": "string"},
                "threshold": {"type": "number", "minimum": 0.0, "maximum": 1.0},
            },
        },
        "verdicts": {
            "type": "object",
            "required": [
                "threshold",
                "authentic_below",
                "source",
                "source_text",
                "calibration",
                "rule",
                "min_face_size",
                "min_sharpness",
                "min_frames",
                "not_evaluated",
            ],
            "additionalProperties": False,
            "properties": {
                "threshold": {"type": "number", "minimum": 0.0, "maximum": 1.0},
                "authentic_below": {"type": "number", "minimum": 0.0, "maximum": 1.0},
                "source": {"enum": ["card", "default", "option"]},
                "source_text": {"type": "string"},
                "calibration": {
                    "type": ["object", "null"],
                    "required": ["threshold"],
                    "properties": {
                        "threshold": _NUM,
                        "authentic_below": _NUM,
                        "target_fpr": {"type": ["number", "null"], "minimum": 0.0, "maximum": 1.0},
                        "fpr": {"type": ["number", "null"], "minimum": 0.0, "maximum": 1.0},
                        "tpr": {"type": ["number", "null"], "minimum": 0.0, "maximum": 1.0},
                        "n_real": {"type": ["integer", "null"], "minimum": 0},
                        "n_real_identities": {"type": ["integer", "null"], "minimum": 0},
                        "n_fake": {"type": ["integer", "null"], "minimum": 0},
                        "split": {"type": "string"},
                    },
                },
                "rule": {"type": "string"},
                "min_face_size": {"type": "number", "minimum": 0.0},
                "min_sharpness": {"type": "number", "minimum": 0.0},
                "min_frames": {"type": "integer", "minimum": 1},
                "not_evaluated": {
                    "type": "object",
                    "required": _REASONS,
                    "additionalProperties": False,
                    "properties": {r: {"type": "string"} for r in _REASONS},
                },
            },
        },
        "summary": {
            "type": "object",
            "required": ["files", "errors", *_VERDICTS, "max_score"],
            "additionalProperties": False,
            "properties": {"files": _INT0, "errors": _INT0, **{v: _INT0 for v in _VERDICTS}, "max_score": _PROB},
        },
        "files": {"type": "array", "items": _FILE},
    },
}
"""JSON Schema of the scan document (version 2)."""

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[name])


def validate(doc: Any, schema: dict[str, Any] | None = None, path: str = "$") -> list[str]:
    """Problems of `doc` against `schema` (default `SCAN_SCHEMA`), one line each; empty when valid."""
    s = SCAN_SCHEMA if schema is None else schema
    errs: list[str] = []
    if "const" in s and doc != s["const"]:
        return [f"{path}: expected {s['const']!r}, got {doc!r}"]
    if "enum" in s and doc not in s["enum"]:
        return [f"{path}: {doc!r} is not one of {s['enum']}"]
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_is(doc, t) for t in types):
            return [f"{path}: expected {' or '.join(types)}, got {type(doc).__name__}"]
    if isinstance(doc, (int, float)) and not isinstance(doc, bool):
        if "minimum" in s and doc < s["minimum"]:
            errs.append(f"{path}: {doc} < minimum {s['minimum']}")
        if "maximum" in s and doc > s["maximum"]:
            errs.append(f"{path}: {doc} > maximum {s['maximum']}")
    if isinstance(doc, dict):
        for key in s.get("required", []):
            if key not in doc:
                errs.append(f"{path}: missing required key {key!r}")
        props = s.get("properties", {})
        for key, value in doc.items():
            if key in props:
                errs.extend(validate(value, props[key], f"{path}.{key}"))
            elif s.get("additionalProperties") is False:
                errs.append(f"{path}: unexpected key {key!r}")
    if isinstance(doc, list):
        if "minItems" in s and len(doc) < s["minItems"]:
            errs.append(f"{path}: fewer than {s['minItems']} items")
        if "maxItems" in s and len(doc) > s["maxItems"]:
            errs.append(f"{path}: more than {s['maxItems']} items")
        if "items" in s:
            for i, item in enumerate(doc):
                errs.extend(validate(item, s["items"], f"{path}[{i}]"))
    return errs


def check(doc: Any) -> None:
    """Raise ValueError listing the first problems when `doc` is not a valid scan document."""
    errs = validate(doc)
    if errs:
        raise ValueError("invalid scan document: " + "; ".join(errs[:5]))
