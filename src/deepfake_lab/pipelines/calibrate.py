"""Calibrate a detector's verdict band on real media of people it never saw, and store it in its model card.

`calibrate_detector` scans held-out REAL media (and optionally fakes, for the true-positive rate) with the
scanner's own options, takes the scores the verdicts are given on (per file, or per scored face), and returns
`metrics.calibration.calibrate`'s dict; `write_calibration` stores it as the card's "calibration" entry, which
`detect`, the web service and the demo then use (`pipelines.scan.verdict_band`).

Example:
    >>> from deepfake_lab.pipelines.calibrate import calibrate_detector, write_calibration
    >>> cal, _ = calibrate_detector(load_detector("runs/x/export"), ["reals/"], target_fpr=0.05)  # doctest: +SKIP
    >>> write_calibration("runs/x/export", cal)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_lab.errors import BadInputError, OptionError, Ref
from deepfake_lab.fsutil import atomic_write_text
from deepfake_lab.metrics.calibration import RULES, calibrate
from deepfake_lab.models.cards import read_card, resolve_export
from deepfake_lab.pipelines.callbacks import ScanProgress
from deepfake_lab.pipelines.scan import Detector, ScanOptions, ScanResult, scan_paths

__all__ = ["UNITS", "CalibrationRun", "calibrate_detector", "identities_of", "scores_of", "write_calibration"]

UNITS = ("file", "face")
"""What one calibration score is: a file's score (what a file verdict is given on) or one scored face."""


@dataclass
class CalibrationRun:
    """The scans a calibration was computed from, and the scores it used ((N,) and (M,) float64)."""

    reals: ScanResult
    fakes: ScanResult | None
    real_scores: np.ndarray
    fake_scores: np.ndarray


def scores_of(result: ScanResult, unit: str = "file") -> np.ndarray:
    """Scores of a scan: each scored file's score ("file") or each scored face's probability ("face")."""
    if unit not in UNITS:
        raise OptionError(Ref("unit"), f" must be one of {', '.join(UNITS)}, got {unit!r}")
    if unit == "file":
        vals = [f.score for f in result.files if f.score is not None]
    else:
        vals = [fc.prob for f in result.files for fr in f.frames for fc in fr.faces if fc.evaluated]
    return np.asarray(vals, dtype=np.float64)


def identities_of(result: ScanResult, reals: Sequence[str | Path], unit: str = "file") -> list[str]:
    """Who each score of `scores_of(result, unit)` shows, when each REALS argument is one person: the argument
    (a file, or a folder of that person's media) the scored file came from."""
    args = [(str(a), Path(a).resolve()) for a in reals]

    def owner(source: str) -> str:
        src = Path(source).resolve()
        for name, a in args:
            if src == a or a in src.parents:
                return name
        return str(source)

    out: list[str] = []
    for f in result.files:
        if unit == "file":
            if f.score is not None:
                out.append(owner(f.source))
        else:
            out += [owner(f.source)] * sum(1 for fr in f.frames for fc in fr.faces if fc.evaluated)
    return out


def calibrate_detector(
    model: Detector,
    reals: Sequence[str | Path],
    fakes: Sequence[str | Path] | None = None,
    *,
    target_fpr: float = 0.05,
    uncertain_fpr: float | None = None,
    unit: str = "file",
    options: ScanOptions | None = None,
    split: str = "",
    n_real_identities: int | None = None,
    progress: ScanProgress | None = None,
    rule: str = "pooled",
    coverage: float = 0.8,
) -> tuple[dict[str, Any], CalibrationRun]:
    """Scan held-out real (and fake) media and compute the card's "calibration" dict from their scores.

    Args:
        model: the detector (`load_detector`).
        reals: files/folders of REAL media of people the detector never saw in training.
        fakes: files/folders of manipulated media (only for the reported true-positive rate), or None.
        target_fpr, uncertain_fpr: see `metrics.calibration.calibrate`.
        unit: "file" (the score a file verdict is given on) or "face" (each scored face).
        options: scan options (the same gates as `detect`: faces not evaluated give no score).
        split: what the reals were (default: the unit, the count and the paths).
        n_real_identities: how many different people the reals show, when known.
        rule: "pooled" (every score counts once) or a person rule ("person-mean", "person-conformal", see
            `metrics.calibration`): then each argument of `reals` is one person (a file or a folder of theirs).
        coverage: "person-conformal" only.

    Returns:
        (calibration dict, `CalibrationRun` with the scans and scores).

    Raises:
        BadInputError: bad unit or rates, or no real score at all.
    """
    if unit not in UNITS:
        raise OptionError(Ref("unit"), f" must be one of {', '.join(UNITS)}, got {unit!r}")
    if not 0.0 < target_fpr < 1.0:
        raise OptionError(Ref("target_fpr"), f" must be in (0, 1), got {target_fpr}")
    if rule not in RULES:
        raise OptionError(Ref("rule"), f" must be one of {', '.join(RULES)}, got {rule!r}")
    if rule == "person-conformal" and not 0.0 < coverage < 1.0:
        raise OptionError(Ref("coverage"), f" must be in (0, 1), got {coverage}")
    opt = options or ScanOptions()
    real_scan = scan_paths(list(reals), model, opt, progress=progress, provenance=False)
    real = scores_of(real_scan, unit)
    if real.size == 0:
        raise BadInputError("no real face was scored (none found, or none could be evaluated): nothing to calibrate on")
    fake_scan = scan_paths(list(fakes), model, opt, progress=progress, provenance=False) if fakes else None
    fake = scores_of(fake_scan, unit) if fake_scan is not None else np.zeros(0)
    text = split or (
        f"per {unit}: {real.size} scores of held-out real media ({', '.join(str(p) for p in reals)[:300]}), "
        f"scanned with detect's defaults"
    )
    ids = identities_of(real_scan, reals, unit) if rule != "pooled" else None
    cal = calibrate(real, fake if fake.size else None, target_fpr=target_fpr, uncertain_fpr=uncertain_fpr,
                    n_real_identities=n_real_identities, split=text, identities=ids, rule=rule,
                    coverage=coverage)  # fmt: skip
    cal["unit"] = unit
    return cal, CalibrationRun(real_scan, fake_scan, real, fake)


def write_calibration(model_path: str | Path, calibration: dict[str, Any]) -> Path:
    """Store `calibration` as the "calibration" entry of an exported detector's card (other keys kept).

    The card is rewritten atomically (`fsutil.atomic_write_text`). Returns the card's path.
    """
    _, card_path = resolve_export(Path(model_path))
    card = read_card(card_path)
    card["calibration"] = calibration
    atomic_write_text(card_path, json.dumps(card, indent=2) + "\n")
    return card_path
