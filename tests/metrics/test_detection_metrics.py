"""Detection metrics against scikit-learn on known inputs; EER and the DFDC rule on hand-computable cases."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from deepfake_lab.errors import BadInputError
from deepfake_lab.metrics.detection import (
    accuracy,
    aggregate,
    average_precision,
    bootstrap_ci,
    confident_strategy,
    detection_report,
    equal_error_rate,
    log_loss,
    roc_auc,
    roc_curve,
    video_auc,
    video_scores,
)


@pytest.mark.parametrize("seed", range(4))
def test_against_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    s = np.clip(np.round(rng.normal(0.4 + 0.2 * y, 0.2), 2), 0.01, 0.99)  # rounded: many ties
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    assert log_loss(y, s) == pytest.approx(skm.log_loss(y, s), abs=1e-12)
    assert accuracy(y, s) == pytest.approx(skm.accuracy_score(y, s > 0.5))
    fpr, tpr, thr = roc_curve(y, s)
    fpr2, tpr2, thr2 = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, fpr2)
    np.testing.assert_allclose(tpr, tpr2)
    np.testing.assert_allclose(thr[1:], thr2[1:])


def test_equal_error_rate_by_hand():
    # thresholds 0.9, 0.6, 0.4, 0.1 -> (FPR, FNR) = (0, .5), (.5, .5), (.5, 0), (1, 0): EER = 0.5
    assert equal_error_rate([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9]) == pytest.approx(0.5)
    # one real above one fake out of three each: at t = 0.7, FPR = FNR = 1/3
    assert equal_error_rate([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.7, 0.3, 0.8, 0.9]) == pytest.approx(1 / 3)
    # crossing inside a segment: (FPR, FNR) goes (0, 1/2) -> (1/2, 0) in one step: linear interpolation 1/4
    assert equal_error_rate([0, 0, 1, 1], [0.1, 0.5, 0.5, 0.9]) == pytest.approx(0.25)
    assert equal_error_rate([0, 1], [0.2, 0.8]) == 0.0
    assert equal_error_rate([0, 1], [0.8, 0.2]) == 1.0


def test_report_and_errors():
    rep = detection_report([0, 1, 1], [0.2, 0.7, 0.4])
    assert rep["auc"] == 1.0 and rep["accuracy"] == pytest.approx(2 / 3) and rep["n_fake"] == 2
    one_class = detection_report([1, 1], [0.2, 0.9])
    assert np.isnan(one_class["auc"]) and one_class["accuracy"] == 0.5
    with pytest.raises(BadInputError, match="both"):
        roc_auc([1, 1], [0.1, 0.2])
    with pytest.raises(BadInputError, match="length"):
        roc_auc([0, 1], [0.1])
    with pytest.raises(BadInputError, match="0 \\(real\\) or 1"):
        roc_auc([0, 2], [0.1, 0.2])


def test_confident_strategy_follows_the_dfdc_winner():
    n = 32
    # 14 confident fakes (> 32 // 2.5 = 12 and > 11): the mean of those
    p = np.r_[np.full(14, 0.9), np.full(18, 0.3)]
    assert confident_strategy(p) == pytest.approx(0.9)
    # 12 confident fakes is not more than floor(32 / 2.5) = 12: falls through to the mean
    p = np.r_[np.full(12, 0.9), np.full(20, 0.5)]
    assert confident_strategy(p) == pytest.approx(p.mean())
    # > 90 % confidently real: the mean of those
    p = np.r_[np.full(30, 0.1), np.full(2, 0.6)]
    assert confident_strategy(p) == pytest.approx(0.1)
    # few frames: the "> 11 fakes" rule can never fire
    assert confident_strategy([0.95] * 10) == pytest.approx(0.95)
    assert aggregate([0.2, 0.9], "max") == 0.9 and aggregate([0.2, 0.8], "mean") == 0.5
    assert len(p) == n
    with pytest.raises(BadInputError, match="unknown aggregation"):
        aggregate([0.1], "median")


def test_video_level_auc():
    vids = ["a", "a", "a", "b", "b", "c", "c", "d"]
    y = [0, 0, 0, 1, 1, 0, 0, 1]
    p = [0.1, 0.2, 0.9, 0.6, 0.7, 0.3, 0.4, 0.5]
    ids, vy, vs = video_scores(vids, y, p, "mean")
    assert ids == ["a", "b", "c", "d"] and vy.tolist() == [0, 1, 0, 1]
    np.testing.assert_allclose(vs, [0.4, 0.65, 0.35, 0.5])
    assert video_auc(vids, y, p, "mean") == 1.0
    assert video_auc(vids, y, p, "max") == 0.5  # video a's one 0.9 frame outranks both fakes
    with pytest.raises(BadInputError, match="both labels"):
        video_scores(["a", "a"], [0, 1], [0.1, 0.2])


def test_bootstrap_ci_brackets_the_estimate():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = rng.normal(y, 1.0)
    lo, hi = bootstrap_ci(roc_auc, y, s, n_boot=200)
    assert lo < roc_auc(y, s) < hi and hi - lo < 0.3
