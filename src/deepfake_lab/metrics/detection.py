"""Detection metrics: frame-level AUC, AP, EER, accuracy, log-loss; video-level aggregation; bootstrap CIs.

Labels are 0 = real, 1 = fake; scores are probabilities of FAKE (any monotone score works for AUC/AP/EER).
AUC, AP and the ROC curve come from scikit-learn (imported inside the functions, so that commands that never
compute them do not pay its import); EER, the DFDC "confident strategy" and the video-level rules are ours.

Example:
    >>> detection_report([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])["eer"]
    0.5
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence

import numpy as np

from deepfake_lab.errors import BadInputError

AGGREGATIONS = ("mean", "max", "confident")


def _check(y: Sequence[int] | np.ndarray, s: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y).reshape(-1)
    s_arr = np.asarray(s, dtype=np.float64).reshape(-1)
    if y_arr.shape != s_arr.shape:
        raise BadInputError(f"labels and scores differ in length: {len(y_arr)} vs {len(s_arr)}")
    if len(y_arr) == 0:
        raise BadInputError("no labels/scores given")
    if not np.isin(y_arr, (0, 1)).all():
        raise BadInputError("labels must be 0 (real) or 1 (fake)")
    if not np.isfinite(s_arr).all():
        raise BadInputError("scores must be finite")
    return y_arr.astype(np.int64), s_arr


def _both_classes(y: np.ndarray, what: str) -> None:
    if y.min() == y.max():
        raise BadInputError(f"{what} needs both real and fake examples")


def roc_curve(y: Sequence[int], s: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC at every distinct score threshold (score >= t is called fake), starting at (0, 0).

    Returns:
        fpr [T+1], tpr [T+1], thresholds [T+1] (the first threshold is +inf).
    """
    y_arr, s_arr = _check(y, s)
    _both_classes(y_arr, "a ROC curve")
    from sklearn.metrics import roc_curve as sk_roc_curve  # here, not at the top: see `roc_auc`

    fpr, tpr, thresholds = sk_roc_curve(y_arr, s_arr, drop_intermediate=False)
    thresholds[0] = np.inf  # scikit-learn < 1.3 wrote max(score) + 1 there
    return fpr, tpr, thresholds


def roc_auc(y: Sequence[int], s: Sequence[float]) -> float:
    """Area under the ROC curve = P(score of a fake > score of a real) + ½ P(tie) (Mann–Whitney U)."""
    y_arr, s_arr = _check(y, s)
    _both_classes(y_arr, "AUC")
    # here, not at the top: importing scikit-learn (and SciPy under it) costs ~1 s of every `detect`
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y_arr, s_arr))


def roc_auc_or_nan(y: Sequence[int], s: Sequence[float]) -> float:
    """`roc_auc`, or NaN when only one class is present (a split or subset without reals or fakes)."""
    y_arr, s_arr = _check(y, s)
    return roc_auc(y_arr, s_arr) if y_arr.min() != y_arr.max() else float("nan")


def average_precision(y: Sequence[int], s: Sequence[float]) -> float:
    """AP = Σ_n (R_n − R_{n−1}) P_n over distinct thresholds (no interpolation; scikit-learn's definition)."""
    y_arr, s_arr = _check(y, s)
    if y_arr.sum() == 0:
        raise BadInputError("average precision needs at least one fake example")
    from sklearn.metrics import average_precision_score  # here, not at the top: see `roc_auc`

    return float(average_precision_score(y_arr, s_arr))


def equal_error_rate(y: Sequence[int], s: Sequence[float]) -> float:
    """EER: the error rate where the false-positive rate equals the false-negative rate (1 − TPR).

    Found on the ROC polyline: the first segment where FPR − FNR changes sign, linearly interpolated.
    """
    fpr, tpr, _ = roc_curve(y, s)
    fnr = 1.0 - tpr
    d = fpr - fnr  # increases from -1 to +1 along the curve
    i = int(np.flatnonzero(d >= 0)[0])
    if d[i] == 0 or i == 0:
        return float(fpr[i])
    t = -d[i - 1] / (d[i] - d[i - 1])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def accuracy(y: Sequence[int], p: Sequence[float], threshold: float = 0.5) -> float:
    """Fraction of correct calls with p > threshold called fake."""
    y_arr, p_arr = _check(y, p)
    return float(np.mean((p_arr > threshold).astype(np.int64) == y_arr))


def log_loss(y: Sequence[int], p: Sequence[float], eps: float = 1e-15) -> float:
    """Mean binary cross-entropy −[y log p + (1−y) log(1−p)], p clipped to [eps, 1 − eps] (the DFDC metric)."""
    y_arr, p_arr = _check(y, p)
    if (p_arr < 0).any() or (p_arr > 1).any():
        raise BadInputError("log-loss needs probabilities in [0, 1]")
    q = np.clip(p_arr, eps, 1 - eps)
    return float(-np.mean(y_arr * np.log(q) + (1 - y_arr) * np.log(1 - q)))


def detection_report(y: Sequence[int], p: Sequence[float], threshold: float = 0.5) -> dict[str, float]:
    """Frame-level report: auc, ap, eer, accuracy (@threshold), log_loss, n_real, n_fake.

    Rank metrics (auc, ap, eer) are NaN when only one class is present.
    """
    y_arr, p_arr = _check(y, p)
    out = {
        "accuracy": accuracy(y_arr, p_arr, threshold),
        "log_loss": log_loss(y_arr, np.clip(p_arr, 0, 1)),
        "n_real": float((y_arr == 0).sum()),
        "n_fake": float((y_arr == 1).sum()),
    }
    if y_arr.min() != y_arr.max():
        out.update(auc=roc_auc(y_arr, p_arr), ap=average_precision(y_arr, p_arr), eer=equal_error_rate(y_arr, p_arr))
    else:
        out.update(auc=float("nan"), ap=float("nan"), eer=float("nan"))
    return out


# ---------------------------------------------------------------- video level
def confident_strategy(p: Sequence[float], threshold: float = 0.8, min_fakes: int = 11) -> float:
    """The "confident strategy" of the DFDC 1st-place solution (S. Seferbekov, 2020).

    Source: github.com/selimsef/dfdc_deepfake_challenge, README "Averaging predictions" and
    `kernel_utils.confident_strategy` (32 frames per video, t = 0.8)::

        fakes = count(p > t)
        if fakes > n // 2.5 and fakes > 11:    mean of the p > t frames
        elif count(p < 0.2) > 0.9 * n:         mean of the p < 0.2 frames
        else:                                  mean of all frames

    (`n // 2.5` is Python floor division of a float: floor(n / 2.5).) A few confidently fake frames (the
    face swap failing in part of the video) thus decide for fake, while a video is only pulled towards real
    when nearly all frames agree.

    Args:
        p: per-frame fake probabilities of one video.
        threshold: t, the "confidently fake" level.
        min_fakes: the absolute minimum count of confident fakes (11 in the original, tuned for 32 frames).
    """
    arr = np.asarray(p, dtype=np.float64).reshape(-1)
    if len(arr) == 0:
        raise BadInputError("a video needs at least one frame score")
    n = len(arr)
    fakes = int(np.count_nonzero(arr > threshold))
    if fakes > n // 2.5 and fakes > min_fakes:
        return float(arr[arr > threshold].mean())
    if np.count_nonzero(arr < 0.2) > 0.9 * n:
        return float(arr[arr < 0.2].mean())
    return float(arr.mean())


def aggregate(p: Sequence[float], rule: str = "mean") -> float:
    """One video score from its frame scores: "mean", "max" or "confident" (see `confident_strategy`)."""
    arr = np.asarray(p, dtype=np.float64).reshape(-1)
    if len(arr) == 0:
        raise BadInputError("a video needs at least one frame score")
    if rule == "mean":
        return float(arr.mean())
    if rule == "max":
        return float(arr.max())
    if rule == "confident":
        return confident_strategy(arr)
    raise BadInputError(f"unknown aggregation {rule!r}; choose one of {', '.join(AGGREGATIONS)}")


def video_scores(
    video_ids: Sequence[Hashable], labels: Sequence[int], p: Sequence[float], rule: str = "mean"
) -> tuple[list[Hashable], np.ndarray, np.ndarray]:
    """Group frame scores by video and aggregate them.

    Args:
        video_ids: [N] video of each frame.
        labels: [N] frame labels (must be constant within a video).
        p: [N] frame fake probabilities.
        rule: aggregation rule (see `aggregate`).

    Returns:
        (video ids in first-seen order, video labels [V], video scores [V]).
    """
    y_arr, p_arr = _check(labels, p)
    if len(video_ids) != len(y_arr):
        raise BadInputError(f"{len(video_ids)} video ids for {len(y_arr)} frame scores")
    frames: dict[Hashable, list[float]] = defaultdict(list)
    vlabel: dict[Hashable, int] = {}
    for v, yy, pp in zip(video_ids, y_arr, p_arr, strict=True):
        if vlabel.setdefault(v, int(yy)) != int(yy):
            raise BadInputError(f"video {v!r} has frames with both labels")
        frames[v].append(float(pp))
    ids = list(frames)
    return ids, np.array([vlabel[v] for v in ids]), np.array([aggregate(frames[v], rule) for v in ids])


def video_auc(video_ids: Sequence[Hashable], labels: Sequence[int], p: Sequence[float], rule: str = "mean") -> float:
    """AUC over videos after aggregating frame scores with `rule`."""
    _, y, s = video_scores(video_ids, labels, p, rule)
    return roc_auc(y, s)


def bootstrap_ci(
    metric: Callable[[np.ndarray, np.ndarray], float],
    y: Sequence[int],
    s: Sequence[float],
    *,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap (1 − alpha) interval of `metric(y, s)`, resampling items with replacement.

    Resamples that lose one class are redrawn (rank metrics need both). Returns (low, high).
    """
    y_arr, s_arr = _check(y, s)
    rng = np.random.default_rng(seed)
    vals: list[float] = []
    tries = 0
    while len(vals) < n_boot:
        tries += 1
        if tries > 20 * n_boot:
            raise BadInputError("bootstrap could not draw resamples with both classes")
        idx = rng.integers(0, len(y_arr), len(y_arr))
        if y_arr[idx].min() == y_arr[idx].max():
            continue
        vals.append(metric(y_arr[idx], s_arr[idx]))
    lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
