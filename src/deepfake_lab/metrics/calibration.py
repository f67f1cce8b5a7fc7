"""Calibrated verdict bands: a decision threshold chosen for a stated false-positive rate on held-out REAL faces.

A detector's probability is only meaningful against the scores it gives to real faces of people it never saw.
`calibrate` picks, from such held-out real scores, the threshold at which at most `target_fpr` of them would be
called manipulated, and a lower edge (`authentic_below`, the same rule at a looser rate `uncertain_fpr`) below
which a score is as low as most real faces get. `verdict_for` turns a score into one of three words:

    score <  authentic_below              -> "authentic"
    authentic_below <= score < threshold  -> "uncertain"
    score >= threshold                    -> "manipulated"

Which real scores a threshold is fit on matters more than how many: one person's video gives hundreds of
near-identical faces, so a quantile over pooled faces is set by the people with the most faces, not by the
people a user scans. With `identities` (one name per real score) `calibrate` fits the threshold per person
(`RULES`):

    "pooled"            the quantile over all faces (every face counts once; the rule before 2026-12-01)
    "person-mean"       smallest t whose false-positive rate averaged over people (each person weighs the
                        same, whatever their number of faces) is <= target_fpr
    "person-conformal"  each person's own threshold t_i for target_fpr; the threshold is the
                        ceil((n + 1) * coverage)-th smallest t_i (a conformal quantile over n people: for a new
                        person exchangeable with them, P(their rate <= target_fpr) >= coverage; the largest t_i
                        when n is too small for that)

and reports every person's rate at the threshold and, leave-one-person-out, the rate on each person at a
threshold fit on the others (`leave_one_out`): how far the stated rate holds on people it was not fit on.

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
    "RULES",
    "VERDICTS",
    "calibrate",
    "check_calibration",
    "default_calibration",
    "fpr_threshold",
    "leave_one_out",
    "person_fprs",
    "rule_threshold",
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
RULES = ("pooled", "person-mean", "person-conformal")
"""How a threshold is fit on real scores (see the module doc)."""


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


def _groups(real_scores: np.ndarray, identities: Sequence[str]) -> dict[str, np.ndarray]:
    ids = [str(i) for i in identities]
    if len(ids) != real_scores.size:
        raise BadInputError(f"{len(ids)} identities for {real_scores.size} real scores: give one per score")
    if any(not i for i in ids):
        raise BadInputError("every real score needs a non-empty identity")
    order = sorted(set(ids))
    arr = np.asarray(ids, dtype=object)
    return {p: real_scores[arr == p] for p in order}


def person_fprs(groups: dict[str, np.ndarray], threshold: float) -> dict[str, float]:
    """Each person's false-positive rate at `threshold`: {identity: share of their real scores >= threshold}."""
    return {p: float((v >= threshold).mean()) for p, v in groups.items()}


def rule_threshold(
    groups: dict[str, np.ndarray], fpr: float, rule: str = "person-mean", coverage: float = 0.8
) -> float:
    """The threshold of a rule (`RULES`) on real scores grouped by person.

    Args:
        groups: {identity: (N_i,) probabilities of FAKE on that person's real faces}, N_i >= 1.
        fpr: allowed false-positive rate, 0 < fpr < 1.
        rule: "pooled", "person-mean" or "person-conformal".
        coverage: "person-conformal" only: the share of new people whose rate should hold, 0 < coverage < 1.

    Returns:
        The threshold (as `fpr_threshold`: just above one real score, or 0.0).

    Example:
        >>> g = {"a": np.array([0.1, 0.2, 0.3, 0.4]), "b": np.array([0.9, 0.95])}
        >>> rule_threshold(g, 0.25, "person-mean") > 0.9  # b alone would otherwise be a 100 % false positive
        True
    """
    if rule not in RULES:
        raise BadInputError(f"the calibration rule must be one of {', '.join(RULES)}, got {rule!r}")
    if not groups or any(v.size == 0 for v in groups.values()):
        raise BadInputError("calibration needs at least one real score per person")
    if not 0.0 < fpr < 1.0:
        raise BadInputError(f"a false-positive rate must be in (0, 1), got {fpr}")
    if rule == "pooled":
        return fpr_threshold(np.concatenate(list(groups.values())), fpr)
    if rule == "person-conformal":
        if not 0.0 < coverage < 1.0:
            raise BadInputError(f"the coverage must be in (0, 1), got {coverage}")
        ts = sorted(fpr_threshold(v, fpr) for v in groups.values())
        k = math.ceil((len(ts) + 1) * coverage - 1e-9)
        return float(ts[min(k, len(ts)) - 1])
    # person-mean: the mean over people of (scores >= t).mean() only steps down just above a real score
    cands = np.concatenate([[0.0], np.nextafter(np.unique(np.concatenate(list(groups.values()))), np.inf)])

    def mean_fpr(t: float) -> float:
        return float(np.mean([(v >= t).mean() for v in groups.values()]))

    lo, hi = 0, len(cands) - 1  # mean_fpr(cands[-1]) == 0 <= fpr: the last candidate is always admissible
    while lo < hi:
        mid = (lo + hi) // 2
        if mean_fpr(float(cands[mid])) <= fpr + 1e-12:
            hi = mid
        else:
            lo = mid + 1
    return float(cands[lo])


def leave_one_out(
    groups: dict[str, np.ndarray], fpr: float, rule: str = "person-mean", coverage: float = 0.8
) -> dict[str, float]:
    """Leave-one-person-out: {identity: that person's false-positive rate at the threshold the rule fits on
    the other people} (empty with fewer than 2 people). How much the stated rate holds on people the threshold
    was not fit on."""
    if len(groups) < 2:
        return {}
    out: dict[str, float] = {}
    for p, v in groups.items():
        t = rule_threshold({q: w for q, w in groups.items() if q != p}, fpr, rule, coverage)
        out[p] = float((v >= t).mean())
    return out


def calibrate(
    real_scores: Sequence[float] | np.ndarray,
    fake_scores: Sequence[float] | np.ndarray | None = None,
    *,
    target_fpr: float = 0.05,
    uncertain_fpr: float | None = None,
    n_real_identities: int | None = None,
    split: str = "",
    identities: Sequence[str] | None = None,
    rule: str = "pooled",
    coverage: float = 0.8,
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
        identities: (N,) who each real score shows; needed by the person rules (default: none).
        rule: how the threshold is fit (`RULES`); both band edges use it.
        coverage: "person-conformal" only (see `rule_threshold`).

    Returns:
        {"threshold", "authentic_below", "target_fpr", "uncertain_fpr", "fpr" (measured at threshold on the
        reals), "tpr" (on the fakes, or None), "n_real", "n_real_identities", "n_fake", "split", "rule"}; with
        `identities` also "people" (sorted), "person_fpr" ({identity: rate at the threshold}),
        "person_mean_fpr", "loo_fpr" (leave-one-person-out, see `leave_one_out`), "loo_mean_fpr",
        "loo_max_fpr" (None with one person), and "coverage" for "person-conformal".
        Store it unrounded: the threshold sits just above a real score.
    """
    r = _scores(real_scores, "real scores")
    f = _scores(fake_scores, "fake scores") if fake_scores is not None else np.zeros(0)
    if uncertain_fpr is None:
        uncertain_fpr = min(4.0 * target_fpr, MAX_UNCERTAIN_FPR)
    if uncertain_fpr < target_fpr:
        raise BadInputError(f"uncertain_fpr ({uncertain_fpr}) must be >= target_fpr ({target_fpr})")
    if rule not in RULES:
        raise BadInputError(f"the calibration rule must be one of {', '.join(RULES)}, got {rule!r}")
    if r.size == 0:
        raise BadInputError("calibration needs at least one real score")
    if identities is None:
        if rule != "pooled":
            raise BadInputError(f"the {rule!r} rule needs the identity of every real score")
        groups = None
        threshold = fpr_threshold(r, target_fpr)
        below = min(fpr_threshold(r, uncertain_fpr), threshold)
    else:
        groups = _groups(r, identities)
        threshold = rule_threshold(groups, target_fpr, rule, coverage)
        below = min(rule_threshold(groups, uncertain_fpr, rule, coverage), threshold)
        if n_real_identities is None:
            n_real_identities = len(groups)
    out: dict[str, Any] = {
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
        "rule": rule,
    }
    if groups is not None:
        per = person_fprs(groups, threshold)
        loo = leave_one_out(groups, target_fpr, rule, coverage)
        out.update(
            people=sorted(groups),
            person_fpr=per,
            person_mean_fpr=float(np.mean(list(per.values()))),
            loo_fpr=loo,
            loo_mean_fpr=float(np.mean(list(loo.values()))) if loo else None,
            loo_max_fpr=max(loo.values()) if loo else None,
        )
        if rule == "person-conformal":
            out["coverage"] = float(coverage)
    return out


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
