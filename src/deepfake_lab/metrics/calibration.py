"""Calibrated verdict bands: a decision threshold chosen for a stated false-positive rate on held-out REAL faces.

A detector's probability is only meaningful against the scores it gives to real faces of people it never saw.
`calibrate` picks, from such held-out real scores, the threshold at which at most `target_fpr` of them would be
called manipulated, and a lower edge (`authentic_below`, the same rule at a looser rate `uncertain_fpr`) below
which a score is as low as most real faces get. `verdict_for` turns a score into one of three words:

    score <  authentic_below              -> "authentic"
    authentic_below <= score < threshold  -> "uncertain"
    score >= threshold                    -> "manipulated"

The dict `calibrate` returns is the detector card's "calibration" entry (see the README, "Scanning"); cards
without it get `default_calibration()` (threshold 0.5, band from 0.3: NOT calibrated, and said so).

Example:
    >>> cal = calibrate([0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.9], target_fpr=0.1, uncertain_fpr=0.3)
    >>> cal["fpr"], verdict_for(0.55, cal), verdict_for(0.95, cal)
    (0.1, 'uncertain', 'manipulated')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepfake_lab.errors import BadInputError

__all__ = [
    "DEFAULT_AUTHENTIC_BELOW",
    "DEFAULT_THRESHOLD",
    "VERDICTS",
    "calibrate",
    "check_calibration",
    "default_calibration",
    "fpr_threshold",
    "verdict_for",
]

VERDICTS = ("authentic", "uncertain", "manipulated")
"""The three verdicts a score can get (the scanner adds "not_evaluated", "no_face" and "error")."""
DEFAULT_THRESHOLD = 0.5
"""Threshold for detectors whose card has no "calibration" (uncalibrated)."""
DEFAULT_AUTHENTIC_BELOW = 0.3
"""Lower band edge for detectors whose card has no "calibration" (uncalibrated)."""
MAX_UNCERTAIN_FPR = 0.5
"""Cap of the default `uncertain_fpr` (4 x target_fpr)."""


def _scores(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.isfinite(arr).all():
        raise BadInputError(f"{what} must be finite")
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise BadInputError(f"{what} must be probabilities in 0..1")
    return arr


def fpr_threshold(real_scores: Sequence[float] | np.ndarray, fpr: float) -> float:
    """Smallest threshold t with (#real scores >= t) / n <= `fpr`.

    With the real scores sorted high to low (d_0 >= d_1 >= ...) and k = floor(fpr * n) reals allowed at or
    above t, every t <= d_k takes in at least k + 1 of them, so the smallest admissible t is the next float
    above d_k (ties at d_k all fall below it). Exact, conservative on the calibration set; when fpr * n < 1
    the threshold lies just above the highest real score.

    Args:
        real_scores: (N,) probabilities of FAKE for real faces, N >= 1.
        fpr: allowed false-positive rate, 0 < fpr < 1.

    Returns:
        The threshold (a float just above one of the real scores, at most nextafter(1.0)).
    """
    r = _scores(real_scores, "real scores")
    if r.size == 0:
        raise BadInputError("calibration needs at least one real score")
    if not 0.0 < fpr < 1.0:
        raise BadInputError(f"a false-positive rate must be in (0, 1), got {fpr}")
    d = np.sort(r)[::-1]
    k = int(math.floor(fpr * r.size + 1e-9))
    if k >= r.size:
        return 0.0
    return float(np.nextafter(d[k], np.inf))


def calibrate(
    real_scores: Sequence[float] | np.ndarray,
    fake_scores: Sequence[float] | np.ndarray | None = None,
    *,
    target_fpr: float = 0.05,
    uncertain_fpr: float | None = None,
    n_real_identities: int | None = None,
    split: str = "",
) -> dict[str, Any]:
    """The model card's "calibration" dict from held-out real (and optionally fake) scores.

    Args:
        real_scores: (N,) per-face (or per-video) probabilities of FAKE on held-out REAL faces of people not
            seen in training.
        fake_scores: (M,) the same on held-out fakes (only to report the true-positive rate), or None.
        target_fpr: false-positive rate at `threshold` (fraction of real scores >= threshold).
        uncertain_fpr: rate defining `authentic_below` (default min(4 * target_fpr, 0.5)); >= target_fpr.
        n_real_identities: number of distinct people among the reals (recorded).
        split: what the held-out set was (recorded, e.g. "identity-disjoint test split of bench X").

    Returns:
        {"threshold", "authentic_below", "target_fpr", "uncertain_fpr", "fpr" (measured at threshold on the
        reals), "tpr" (on the fakes, or None), "n_real", "n_real_identities", "n_fake", "split"}.
        Store it unrounded: the threshold sits just above a real score.
    """
    r = _scores(real_scores, "real scores")
    f = _scores(fake_scores, "fake scores") if fake_scores is not None else np.zeros(0)
    if uncertain_fpr is None:
        uncertain_fpr = min(4.0 * target_fpr, MAX_UNCERTAIN_FPR)
    if uncertain_fpr < target_fpr:
        raise BadInputError(f"uncertain_fpr ({uncertain_fpr}) must be >= target_fpr ({target_fpr})")
    threshold = fpr_threshold(r, target_fpr)
    below = min(fpr_threshold(r, uncertain_fpr), threshold)
    return {
        "threshold": threshold,
        "authentic_below": below,
        "target_fpr": float(target_fpr),
        "uncertain_fpr": float(uncertain_fpr),
        "fpr": float((r >= threshold).mean()),
        "tpr": float((f >= threshold).mean()) if f.size else None,
        "n_real": int(r.size),
        "n_real_identities": None if n_real_identities is None else int(n_real_identities),
        "n_fake": int(f.size),
        "split": str(split),
    }


def default_calibration() -> dict[str, Any]:
    """Band for a detector card without "calibration": threshold 0.5, authentic below 0.3 (not calibrated)."""
    return {"threshold": DEFAULT_THRESHOLD, "authentic_below": DEFAULT_AUTHENTIC_BELOW}


def check_calibration(calibration: Any) -> dict[str, Any]:
    """Validate a card's "calibration" entry; returns it. Raises `BadInputError` naming the problem."""
    if not isinstance(calibration, dict):
        raise BadInputError("the detector card's 'calibration' must be an object")
    t = calibration.get("threshold")
    a = calibration.get("authentic_below", t)
    for name, v in (("threshold", t), ("authentic_below", a)):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 <= float(v) <= 1.0 + 1e-12:
            raise BadInputError(f"the detector card's calibration.{name} must be a number in 0..1, got {v!r}")
    if float(a) > float(t):
        raise BadInputError(f"the detector card's calibration.authentic_below ({a}) exceeds its threshold ({t})")
    return calibration


def verdict_for(score: float, calibration: dict[str, Any]) -> str:
    """The verdict ("authentic", "uncertain" or "manipulated") of a probability of FAKE under a band.

    Args:
        score: the probability (finite).
        calibration: a dict with "threshold" and optionally "authentic_below" (default: the threshold, i.e.
            no uncertain band).

    Example:
        >>> verdict_for(0.4, {"threshold": 0.5, "authentic_below": 0.3})
        'uncertain'
    """
    s = float(score)
    if not math.isfinite(s):
        raise BadInputError(f"a verdict needs a finite score, got {score!r}")
    t = float(calibration["threshold"])
    a = float(calibration.get("authentic_below", t))
    if s >= t:
        return "manipulated"
    if s >= a:
        return "uncertain"
    return "authentic"
