"""`face_gan`: GAN faces in the face benchmark are trained on the train people only, sampled into calib/test at
every compression level, and scored apart from the swap/blend methods (AUC and AP per generator)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines.bench.face_gan import (
    GanOptions,
    add_face_gans,
    gan_cross_probe,
    gan_training_set,
    parse_gans,
    resample_through,
)
from deepfake_lab.pipelines.bench.face_protocol import evaluate_detector_on_protocol, protocol_report
from deepfake_lab.pipelines.bench.manifest import ManifestRow, read_manifest
from support.face_bench import S, tiny_face_bench


class Brightness(torch.nn.Module):
    """probs = mean pixel value: a 'detector' whose score we set through the image."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        p = x.mean((1, 2, 3))
        return {"logits": p, "probs": p, "features": p[:, None]}


def test_gans_train_on_the_train_people_only_and_sample_into_calib_and_test(tmp_path) -> None:
    tiny_face_bench(tmp_path)
    before = read_manifest(tmp_path)
    info = add_face_gans(tmp_path, GanOptions(gans=("dcgan", "progan"), steps=2, samples=3))
    assert set(info) == {"gan-dcgan", "gan-progan"}
    for g in info.values():
        assert g["training_people"] == ["ann", "bob"] and g["training_images"] == 20 and g["steps"] == 2
        assert g["samples"] == {"calib": 3, "test": 3}
    # the training folder holds exactly the train people's c0 reals, byte for byte
    train = [r for r in before if r.split == "train" and r.label == 0]
    used = sorted((tmp_path / "models" / "gan-train-faces").glob("*.png"))
    assert len(used) == len(train) == 20
    assert sorted(p.read_bytes() for p in used) == sorted((tmp_path / r.path).read_bytes() for r in train)
    rows = read_manifest(tmp_path)
    gan = [r for r in rows if r.method.startswith("gan-")]
    assert {(r.method, r.split, r.compression) for r in gan} == {
        (m, s, c) for m in info for s in ("calib", "test") for c in ("c0", "c23")
    }
    assert len(gan) == 2 * 2 * 2 * 3 and all(r.label == 1 and r.identity == "" for r in gan)
    img = cv2.imread(str(tmp_path / gan[0].path))
    assert img.shape == (S, S, 3)
    assert [r for r in rows if not r.method.startswith("gan-")] == before  # the other methods are untouched
    faces = json.loads((tmp_path / "faces.json").read_text())
    assert faces["gans"]["gan-dcgan"]["generator"] == "dcgan-32" and faces["images"]["c23/test/gan-progan"] == 3
    # a second run replaces the GAN methods instead of adding to them
    add_face_gans(tmp_path, GanOptions(gans=("dcgan",), steps=1, samples=2))
    again = [r for r in read_manifest(tmp_path) if r.method.startswith("gan-")]
    assert {r.method for r in again} == {"gan-dcgan"} and len(again) == 2 * 2 * 2
    assert not list(tmp_path.glob("*/*/fake/gan-progan"))


def test_the_training_set_refuses_a_person_of_the_unseen_splits() -> None:
    rows = [ManifestRow("a.png", 0, "real", "v", "ann:train", "ann", "", 0, "c0", "train"),
            ManifestRow("b.png", 0, "real", "v", "ann:test", "ann", "", 0, "c0", "test")]  # fmt: skip
    with pytest.raises(BadInputError, match="ann"):
        gan_training_set(rows)
    assert gan_training_set(rows[:1]) == rows[:1]


def test_bad_generator_names_and_steps_are_refused() -> None:
    assert parse_gans("progan, dcgan,dcgan") == ("progan", "dcgan")
    with pytest.raises(BadInputError, match="stylegan"):
        parse_gans("dcgan,stylegan")
    with pytest.raises(BadInputError, match="gan-steps"):
        GanOptions(steps=0).check()
    with pytest.raises(BadInputError, match="gan-samples"):
        GanOptions(samples=0).check()


def test_eval_reports_ap_per_generator_apart_from_the_other_methods(tmp_path) -> None:
    plain, withgan = tmp_path / "plain", tmp_path / "gan"
    tiny_face_bench(plain)
    tiny_face_bench(withgan, {"gan-bright": 250, "gan-dark": 30})

    def score(x: torch.Tensor) -> np.ndarray:
        return x.float().mean((1, 2, 3)).div(255).numpy()

    a = evaluate_detector_on_protocol(score, plain, threshold=0.5, size=S)
    b = evaluate_detector_on_protocol(score, withgan, threshold=0.5, size=S)
    for c in ("c0", "c23"):  # the swap/blend figures do not see the GAN methods
        for k in ("auc", "per_method_auc", "fpr", "tpr", "n_real", "n_fake", "person_fpr", "fake_scores"):
            assert a[c][k] == b[c][k], k
        g = b[c]["gan"]
        assert g["gan-bright"]["auc"] == g["gan-bright"]["ap"] == g["gan-bright"]["tpr"] == 1.0
        assert g["gan-dark"]["auc"] == 0.0 and g["gan-dark"]["ap"] < 0.5 and g["gan-dark"]["tpr"] == 0.0
        assert g["gan-bright"]["n"] == 4  # 2 per test person's block x 2 test people
    assert "gan" not in a["c0"] and "gan_ap" not in a
    assert set(b["gan_ap"]) == {"gan-bright", "gan-dark"} and set(b["gan_ap"]["gan-bright"]) == {"c0", "c23"}
    # the calibrated report: threshold and calib AUC unchanged, GAN figures under test
    ra = protocol_report(Brightness(), S, plain, 0.05)
    rb = protocol_report(Brightness(), S, withgan, 0.05)
    assert ra["calibration"]["threshold"] == rb["calibration"]["threshold"] and ra["calib_auc"] == rb["calib_auc"]
    assert rb["test"]["gan_ap"]["gan-bright"] == {"c0": 1.0, "c23": 1.0}
    assert rb["test"]["c23"]["gan"]["gan-dark"]["auc"] == 0.0 and "gan" not in ra["test"]["c23"]
    assert rb["gans"]["gan-bright"]["generator"] == "grey" and "gans" not in ra


def test_cross_generator_probe_is_fit_on_calib_people_and_tested_on_test_people(tmp_path) -> None:
    tiny_face_bench(tmp_path, {"gan-bright": 250, "gan-dark": 30})
    probe = gan_cross_probe(Brightness(), S, tmp_path)
    assert probe["features"] == 1 and probe["fit"]["gan-bright"] == (2 * 4, 2 * 2)  # calib: 1 person, c0 + c23
    ap, auc = probe["ap"], probe["auc"]
    for g in ("gan-bright", "gan-dark"):  # the generator it was fit on: separated
        assert ap[g][g] == {"c0": 1.0, "c23": 1.0} and auc[g][g]["c0"] == 1.0
    # fit on bright fakes, tested on dark ones: the probe ranks them below every real
    assert auc["gan-bright"]["gan-dark"]["c0"] == 0.0 and ap["gan-bright"]["gan-dark"]["c0"] < 0.5
    assert probe["fit"]["resampled"] == (8, 8) and set(ap["resampled"]) == {"gan-bright", "gan-dark"}
    tiny_face_bench(tmp_path / "plain")
    assert gan_cross_probe(Brightness(), S, tmp_path / "plain") == {}


def test_resample_through_keeps_only_the_low_resolution() -> None:
    x = torch.zeros(2, 3, 32, 32, dtype=torch.uint8)
    x[..., ::2, :] = 200  # one-pixel stripes: gone at 8 px
    y = resample_through(x, 8, 16)
    assert y.shape == (2, 3, 16, 16) and y.dtype == torch.uint8
    assert float(y.float().std()) < 5 and abs(float(y.float().mean()) - 100) < 5
    smooth = torch.full((1, 3, 32, 32), 120, dtype=torch.uint8)
    assert torch.equal(resample_through(smooth, 8, 32), smooth)
