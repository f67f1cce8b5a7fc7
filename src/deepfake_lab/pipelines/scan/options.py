"""How to scan: `ScanOptions`, every field declared once with what a front end needs to offer it.

Each field's metadata holds an `OptionSpec` (help text, CLI flag, environment variable, choices, bounds, whether
the web form offers it); the CLI (`cli.options.dataclass_options`) and the web service (`web.app`) build their
options and form fields from it, and `ScanOptions.validate` checks the bounds and choices it declares. Messages
name options by their field name (`OptionError`), so each front end can show its own spelling
(`--detect-every`, `detect_every`).

Torch-, numpy- and OpenCV-free, so the CLI can build `detect --help` from it without loading the scanner.

Example:
    >>> from deepfake_lab.errors import cli_flag
    >>> try:
    ...     ScanOptions(detect_every=0).validate()
    ... except OptionError as exc:
    ...     print(exc, "|", exc.render(cli_flag))
    detect_every must be >= 1, got 0 | --detect-every must be >= 1, got 0
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field, fields
from typing import Any

from deepfake_lab.errors import OptionError, Ref  # re-exported: the scan options raise them
from deepfake_lab.pipelines.scan.verdicts import MIN_FACE_SIZE, MIN_FRAMES, MIN_SHARPNESS

__all__ = ["PRECISION_ENV", "OptionError", "OptionSpec", "Ref", "ScanOptions", "option_specs", "option_types"]

PRECISION_ENV = "DEEPFAKE_LAB_PRECISION"
"""Environment variable that forces the detector precision ("fp32" or "bf16"; see `detector.auto_precision`)."""


@dataclass(frozen=True)
class OptionSpec:
    """What a front end needs to offer one option field.

    Attributes:
        help: one line for `--help` and the web form.
        flag: the CLI flag (e.g. "--detect-every"); None: not a command-line option.
        env: environment variable the CLI reads the option from (listed in `--help`).
        choices: the allowed values, in the order they are shown.
        min: the smallest allowed value (inclusive); with `max`: the range `min..max`.
        max: the largest allowed value (inclusive).
        above: values must be greater than this (exclusive lower bound).
        web: the web upload form accepts it as a field of the same name.
    """

    help: str
    flag: str | None = None
    env: str | None = None
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    above: float | None = None
    web: bool = False

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value` (" must be >= 1, got 0", to follow the option's name), or None."""
        if value is None:
            return None
        if self.choices is not None and value not in self.choices:
            return f" must be one of {', '.join(self.choices)}, got {value!r}"
        if self.min is not None and self.max is not None and not self.min <= value <= self.max:
            return f" must be in {self.min:g}..{self.max:g}, got {value}"
        if self.min is not None and self.max is None and value < self.min:
            return f" must be >= {self.min:g}, got {value}"
        if self.above is not None and value <= self.above:
            return f" must be > {self.above:g}, got {value}"
        return None


def _option(default: Any, help: str, **spec: Any) -> Any:
    return field(default=default, metadata={"option": OptionSpec(help, **spec)})


@dataclass
class ScanOptions:
    """How to scan (each field's short help, flag and bounds are in its `OptionSpec`, see `option_specs`).

    Args:
        detect_every: run face detection + landmarks on one processed frame in this many (key frames),
            interpolate landmarks in between, follow faces that enter or leave (1 = every frame).
        every: process one frame in this many (1 = all frames; others are decoded but not scored).
        aggregation: "confident", "mean" or "max" (per track; see the `pipelines.scan` docstring).
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
        batch_megabytes: a batch is also sent once the decoded RGB frames its faces are in hold this many MiB
            (with annotation, every frame of the batch counts, since all are kept for drawing): on large frames
            (4K: 23.7 MiB each) fewer frames wait in memory. It bounds the batch being filled; the batches in
            flight (one per worker, one queued) hold their frames until their faces are aligned. The scores do
            not change (beyond the float rounding any batch size moves).
        precision: "auto" (`auto_precision`: bf16 where the hardware computes it natively), "fp32" or "bf16".
        threads: inference threads per detector call, torch or ONNX Runtime (1 leaves a core for decoding and
            face detection).
        max_faces: score at most this many faces per frame (largest); None = all.
        min_size: ignore faces smaller than this (longer side of the landmark box, source pixels).
        model_range: MediaPipe detector range ("auto", "short", "full", "both").
        realtime: process at the source's native frame rate, dropping frames to bound latency.
        max_latency: in realtime mode, frames waiting longer than this (seconds) are dropped.
        max_seconds: stop each source after this much media time (None = to the end; live sources run
            until Ctrl-C otherwise).
        keep_suspicious: how many of the most suspicious face crops to keep per file (for reports).
    """

    detect_every: int = _option(
        5, "Face detection on 1 frame in N; landmarks interpolated in between.", flag="--detect-every", min=1,
        web=True,
    )  # fmt: skip
    every: int = _option(1, "Score one frame in N.", flag="--every", min=1, web=True)
    aggregation: str = _option(
        "confident",
        "How a face track's frame scores become its score: confident (DFDC rule: the mean of the confident "
        "frames when there are many, else the mean) | mean | max. The file takes its highest track.",
        flag="--aggregation", choices=("confident", "mean", "max"), web=True,
    )  # fmt: skip
    threshold: float | None = _option(
        None,
        "Score from which the verdict is manipulated (overrides the detector card's calibrated threshold; "
        "alone it leaves no uncertain band).",
        flag="--threshold", min=0.0, max=1.0, web=True,
    )  # fmt: skip
    authentic_below: float | None = _option(
        None, "Score below which the verdict is authentic (default: the card's band).", flag="--authentic-below",
        min=0.0, max=1.0, web=True,
    )  # fmt: skip
    min_face_size: float = _option(
        MIN_FACE_SIZE, "Faces smaller than this (px) are not scored.", flag="--min-face-size", min=0.0
    )
    min_sharpness: float = _option(
        MIN_SHARPNESS, "Faces blurrier than this are not scored (0: off).", flag="--min-sharpness", min=0.0
    )
    min_frames: int = _option(
        MIN_FRAMES, "Videos with fewer scored frames are not_evaluated.", flag="--min-frames", min=1
    )
    min_track_faces: int = _option(3, "Tracks with fewer scored faces do not decide the file score.")
    batch_size: int = _option(32, "Face crops per detector call.", flag="--batch-size", min=1)
    batch_megabytes: float = _option(
        64.0, "A batch is also sent once its frames hold this many MiB (smaller batches on large frames).",
        flag="--batch-megabytes", above=0.0,
    )  # fmt: skip
    precision: str = _option(
        "auto", "auto: bf16 on native-bf16 hardware.", flag="--precision", env=PRECISION_ENV,
        choices=("auto", "fp32", "bf16"),
    )  # fmt: skip
    threads: int = _option(1, "Inference threads for the detector (torch or ONNX Runtime).", flag="--threads", min=1)
    max_faces: int | None = _option(
        None, "Score at most N faces per frame (largest).", flag="--max-faces", min=1, web=True
    )
    min_size: float = _option(24.0, "Ignore faces smaller than this (pixels).", flag="--min-size", web=True)
    model_range: str = _option(
        "auto", "Face detector range (both: slower, finds small faces).", flag="--range",
        choices=("auto", "short", "full", "both"),
    )  # fmt: skip
    realtime: bool = _option(
        False, "Run at the source's frame rate, dropping frames to keep latency bounded.", flag="--realtime"
    )
    max_latency: float = _option(0.5, "Realtime: drop frames older than this (s).", flag="--max-latency", above=0.0)
    max_seconds: float | None = _option(
        None, "Stop each source after this much media time (live: else until Ctrl-C).", flag="--max-seconds",
        above=0.0, web=True,
    )  # fmt: skip
    keep_suspicious: int = _option(24, "Most suspicious face crops kept per file (for reports).")

    def validate(self) -> None:
        """Raise `OptionError` (a `BadInputError`) for a value outside its `OptionSpec` bounds or choices, or
        an `authentic_below` above the `threshold`."""
        for name, spec in option_specs(type(self)).items():
            problem = spec.problem(getattr(self, name))
            if problem:
                raise OptionError(Ref(name), problem)
        if self.threshold is not None and self.authentic_below is not None and self.authentic_below > self.threshold:
            raise OptionError(
                Ref("authentic_below"), f" ({self.authentic_below}) must not exceed ", Ref("threshold"),
                f" ({self.threshold})",
            )  # fmt: skip


def option_specs(cls: type) -> dict[str, OptionSpec]:
    """Field name → `OptionSpec` of a dataclass declared with them (fields without one are left out)."""
    return {f.name: f.metadata["option"] for f in fields(cls) if "option" in f.metadata}


def option_types(cls: type) -> dict[str, tuple[type, bool]]:
    """Field name → (value type, whether None is allowed) of a dataclass's fields (`int | None` → (int, True))."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in fields(cls):
        args = typing.get_args(hints[f.name])
        kinds = [a for a in args if a is not type(None)] or [hints[f.name]]
        out[f.name] = (kinds[0], type(None) in args)
    return out

