"""Calibrated verdicts in the scanner: bands from the detector card / default / options, `not_evaluated` with
its reason (face too small, too blurry, too few frames) on tiny real media, the JSON schema of the new fields,
plain vs sharded summaries and the CLI's exit codes (`--fail-on`)."""


from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines import scan as scan_mod
from deepfake_lab.pipelines.scan import (
    FileScan,
    FrameScore,
    ScanOptions,
    ScanResult,
    load_detector,
    scan_file,
    scan_paths,
    verdict_band,
)
from deepfake_lab.pipelines.scan.schema import check, validate
from support.scan import N_BLANK, N_FAKE, N_REAL

CAL = {"threshold": 0.7, "authentic_below": 0.2, "target_fpr": 0.05, "uncertain_fpr": 0.2, "fpr": 0.05,
       "tpr": 0.9, "n_real": 400, "n_real_identities": 40, "n_fake": 300, "split": "unit-test reals"}  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model(tiny_detector):
    det = load_detector(tiny_detector)
    det.choose_precision("fp32")
    return det


@pytest.fixture(scope="module")
def calibrated(tiny_detector, tmp_path_factory):
    """The tiny detector's export with a "calibration" entry in its card."""
    d = tmp_path_factory.mktemp("caldet")
    for p in Path(tiny_detector).iterdir():
        (d / p.name).write_bytes(p.read_bytes())
    (card_path,) = d.glob("*.json")
    card = json.loads(card_path.read_text())
    card["calibration"] = CAL
    card_path.write_text(json.dumps(card))
    return d


def _file(probs_by_track: dict[int, list[float]], kind: str = "video") -> FileScan:
    f = FileScan(source="x", kind=kind, status="ok")
    n = max(len(v) for v in probs_by_track.values())
    for i in range(n):
        faces = [scan_mod.FaceScore(t, (0, 0, 90, 90), p[i]) for t, p in probs_by_track.items() if i < len(p)]
        f.frames.append(FrameScore(i, i / 10, faces))
    return f


# ------------------------------------------------------------------------------------------------ bands


def test_bands_from_card_default_and_options() -> None:
    card = {"calibration": CAL}
    b = verdict_band(card, ScanOptions())
    assert (b["threshold"], b["authentic_below"], b["source"], b["calibration"]) == (0.7, 0.2, "card", CAL)
    d = verdict_band({}, ScanOptions())
    assert (d["threshold"], d["authentic_below"], d["source"], d["calibration"]) == (0.5, 0.3, "default", None)
    o = verdict_band(card, ScanOptions(threshold=0.6))  # explicit threshold alone: no uncertain band
    assert (o["threshold"], o["authentic_below"], o["source"]) == (0.6, 0.6, "option")
    o2 = verdict_band(card, ScanOptions(authentic_below=0.1))  # lower edge only: the card's threshold stays
    assert (o2["threshold"], o2["authentic_below"], o2["source"]) == (0.7, 0.1, "option")
    # the library names the option by its field; the CLI shows its flag (--authentic-below, tested below)
    with pytest.raises(BadInputError, match="authentic_below"):
        verdict_band(card, ScanOptions(authentic_below=0.9))
    with pytest.raises(BadInputError, match="authentic_below"):
        ScanOptions(threshold=0.4, authentic_below=0.5).validate()
    with pytest.raises(BadInputError, match="calibration"):
        verdict_band({"calibration": {"threshold": 2.0}}, ScanOptions())


@pytest.mark.parametrize(("prob", "verdict"), [(0.1, "authentic"), (0.2, "uncertain"), (0.69, "uncertain"),
                                                (0.7, "manipulated"), (0.95, "manipulated")])  # fmt: skip
def test_file_and_track_verdicts_follow_the_band(prob: float, verdict: str) -> None:
    f = _file({0: [prob] * 8})
    f.finish(ScanOptions(aggregation="mean"), verdict_band({"calibration": CAL}))
    assert f.verdict == verdict and f.reason is None and f.score == pytest.approx(prob)
    assert f.tracks[0].verdict == verdict


def test_not_evaluated_faces_tracks_and_too_few_frames() -> None:
    band = verdict_band({"calibration": CAL})
    opt = ScanOptions(aggregation="mean", min_frames=5)
    f = _file({0: [0.1] * 8, 1: [0.9] * 8})
    for fr in f.frames:  # track 1 is too small to score in every frame
        fr.faces[1].prob, fr.faces[1].reason = float("nan"), "face_too_small"
    f.finish(opt, band)
    assert f.verdict == "authentic" and f.faces_scored == 8 and f.faces_not_evaluated == {"face_too_small": 8}
    t0, t1 = f.tracks
    assert (t1.faces, t1.score, t1.verdict, t1.reason, t1.not_evaluated) == (
        0, None, "not_evaluated", "face_too_small", {"face_too_small": 8})  # fmt: skip
    assert all(fr.status == "faces" and fr.prob == pytest.approx(0.1) for fr in f.frames)
    # all faces unscorable: the file is not evaluated (no number), frames say so
    g = _file({0: [0.9] * 6})
    for i, fr in enumerate(g.frames):
        fr.faces[0].prob, fr.faces[0].reason = float("nan"), "face_too_blurry" if i else "face_too_small"
    g.finish(opt, band)
    assert (g.verdict, g.reason, g.score) == ("not_evaluated", "face_too_blurry", None)
    assert g.frames[0].status == "not_evaluated" and g.frames[0].prob is None
    # a video with fewer scored frames than min_frames: not evaluated; an image needs one
    short = _file({0: [0.95] * 3})
    short.finish(opt, band)
    assert (short.verdict, short.reason, short.score) == ("not_evaluated", "too_few_frames", None)
    assert short.tracks[0].verdict == "not_evaluated" and short.tracks[0].score == pytest.approx(0.95)
    image = _file({0: [0.95]}, kind="image")
    image.finish(opt, band)
    assert image.verdict == "manipulated"


# ------------------------------------------------------------------------------------ on tiny real media


def test_real_media_not_evaluated_reasons(scan_media, model, tmp_path) -> None:
    face = np.asarray(Image.open(scan_media["face"]).convert("RGB"))
    ok = scan_file(scan_media["face"], model, ScanOptions(), provenance=False)
    fc = ok.frames[0].faces[0]
    assert ok.verdict in ("authentic", "uncertain", "manipulated") and fc.reason is None
    assert fc.sharpness is not None and fc.sharpness > ScanOptions.min_sharpness  # a sharp photo passes
    size = max(fc.box[2] - fc.box[0], fc.box[3] - fc.box[1])

    small = scan_file(scan_media["face"], model, ScanOptions(min_face_size=size + 1), provenance=False)
    assert (small.verdict, small.reason, small.score) == ("not_evaluated", "face_too_small", None)
    assert small.frames[0].faces[0].reason == "face_too_small" and small.frames[0].status == "not_evaluated"

    Image.fromarray(cv2.GaussianBlur(face, (0, 0), 3.5)).save(tmp_path / "blurred.png")
    blurred = scan_file(tmp_path / "blurred.png", model, ScanOptions(), provenance=False)
    assert blurred.frames[0].faces, "the face detector should still find the blurred face"
    assert (blurred.verdict, blurred.reason) == ("not_evaluated", "face_too_blurry")
    assert blurred.frames[0].faces[0].sharpness < ScanOptions.min_sharpness

    # a video with only 3 frames (max_seconds at 8 fps): too few frames for a verdict
    few = scan_file(scan_media["real"], model, ScanOptions(max_seconds=0.3), provenance=False)
    assert len(few.frames) == 3 and (few.verdict, few.reason) == ("not_evaluated", "too_few_frames")
    assert few.status == "ok" and not few.message  # stopping at --max-seconds is not a truncated file
    fine = scan_file(scan_media["real"], model, ScanOptions(max_seconds=0.3, min_frames=3), provenance=False)
    assert fine.verdict == "authentic"

    doc = ScanResult([ok, small, blurred, few], model, ScanOptions()).to_dict()
    check(doc)
    assert doc["schema_version"] == 2
    s = doc["summary"]
    assert (s["not_evaluated"], s["authentic"] + s["uncertain"] + s["manipulated"], s["files"]) == (3, 1, 4)
    f_small = doc["files"][1]
    assert f_small["reason"] == "face_too_small" and f_small["faces_not_evaluated"] == {"face_too_small": 1}
    assert f_small["frames"][0]["faces"][0]["prob"] is None and f_small["frames"][0]["status"] == "not_evaluated"
    assert f_small["tracks"][0]["verdict"] == "not_evaluated" and f_small["tracks"][0]["faces"] == 0
    assert doc["verdicts"]["source"] == "default" and "NOT calibrated" in doc["verdicts"]["source_text"]
    assert doc["verdicts"]["not_evaluated"]["face_too_small"] == "face smaller than 32 px"
    # annotation of a not-scored face: grey box, no percentage
    out = scan_mod.draw_annotations(face, small.frames[0])
    assert out.shape == face.shape and not np.array_equal(out, face)


def test_calibrated_card_decides_and_is_reported(scan_media, calibrated, tmp_path) -> None:
    det = load_detector(calibrated)
    det.choose_precision("fp32")
    res = scan_paths([scan_media["real"], scan_media["fake"]], det, ScanOptions(), provenance=False)
    real, fake = res.files
    assert real.verdict == "authentic" and fake.verdict == "manipulated"
    doc = res.to_dict()
    check(doc)
    v = doc["verdicts"]
    assert (v["threshold"], v["authentic_below"], v["source"], v["calibration"]) == (0.7, 0.2, "card", CAL)
    assert doc["aggregation"]["threshold"] == 0.7 and doc["options"]["threshold"] is None
    # a fake score between the edges becomes uncertain; an explicit threshold is stated as the user's
    mid = (fake.score + real.score) / 2
    res2 = scan_paths([scan_media["fake"]], det, ScanOptions(threshold=1.0, authentic_below=mid), provenance=False)
    assert res2.files[0].verdict == "uncertain" and res2.to_dict()["verdicts"]["source"] == "option"

    from deepfake_lab.pipelines.report import render_report

    page = render_report(res)
    assert "calibrated in the detector card for 5 % false positives on 400 held-out real faces of 40 people" in page
    assert 'class="verdict authentic"' in page and "dotted: uncertain from" in page


def test_schema_rejects_bad_verdict_fields(scan_media, model) -> None:
    res = scan_paths([scan_media["face"]], model, ScanOptions(), provenance=False)
    doc = res.to_dict()
    assert validate(doc) == []
    bad = json.loads(json.dumps(doc))
    bad["files"][0]["verdict"] = "maybe"
    bad["files"][0]["reason"] = "too_dark"
    bad["files"][0]["frames"][0]["faces"][0]["reason"] = "too_few_frames"  # not a per-face reason
    del bad["summary"]["uncertain"]
    bad["verdicts"]["source"] = "guess"
    bad["schema_version"] = 1
    errs = "\n".join(validate(bad))
    for part in ("verdict: 'maybe'", "reason: 'too_dark'", "faces[0].reason", "'uncertain'", "source: 'guess'",
                 "schema_version"):  # fmt: skip
        assert part in errs, (part, errs)


def test_sharded_summary_matches_the_plain_scan(scan_media, model, tmp_path) -> None:
    from deepfake_lab.pipelines.scan.shards import scan_sharded

    inputs = [scan_media["real"], scan_media["fake"], scan_media["blank"]]
    opt = ScanOptions(min_frames=N_REAL + N_FAKE + 1)  # real.mp4 and fake.mp4 have fewer: not evaluated
    plain = scan_paths(inputs, model, opt, provenance=False).to_dict()
    doc = scan_sharded(inputs, model, opt, tmp_path / "s.jsonl", provenance=False)
    assert doc is not None and validate(doc) == []
    assert doc["summary"] == plain["summary"]
    assert plain["summary"]["not_evaluated"] == 2 and plain["summary"]["no_face"] == 1
    assert [f["reason"] for f in doc["files"]] == ["too_few_frames", "too_few_frames", None]
    # resuming over records of schema version 1 (no verdict reason): those files are scanned again
    out = tmp_path / "s.jsonl"
    head, *files = [json.loads(x) for x in out.read_text().splitlines()]
    old = {k: v for k, v in files[0].items() if k not in ("reason", "frames_evaluated", "faces_not_evaluated")}
    marked = [dict(f, seconds=12345.0) for f in (old, *files[1:])]
    out.write_text("\n".join(json.dumps(x) for x in [dict(head, schema_version=1), *marked]) + "\n")
    again = scan_sharded(inputs, model, opt, out, provenance=False)
    assert again is not None and validate(again) == []
    assert [f["seconds"] == 12345.0 for f in again["files"]] == [False, True, True]
    assert N_BLANK > 0


# ------------------------------------------------------------------------------------------------- CLI


def _cli(args, capsys) -> tuple[int, str, str]:
    from deepfake_lab.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["detect", *(str(a) for a in args), "-q", "--no-provenance"])
    out = capsys.readouterr()
    code = exc.value.code if isinstance(exc.value.code, int) else 0
    return code, out.out, out.err


def test_cli_exit_codes_and_verdict_text(scan_media, tiny_detector, calibrated, capsys) -> None:
    code, out, err = _cli([scan_media["fake"], "-m", tiny_detector], capsys)
    assert code == 0 and "manipulated" in out and err == ""  # a verdict alone never fails the command
    assert "verdicts: manipulated from 0.500, uncertain from 0.300" in out and "NOT calibrated" in out
    code, _, err = _cli([scan_media["fake"], "-m", tiny_detector, "--fail-on", "manipulated"], capsys)
    assert code == 1 and "--fail-on: fake.mp4 (manipulated)" in err
    code, _, _ = _cli([scan_media["real"], "-m", tiny_detector, "--fail-on", "manipulated,uncertain"], capsys)
    assert code == 0
    code, out, err = _cli(
        [scan_media["face"], "-m", tiny_detector, "--min-face-size", "2000", "--fail-on", "not_evaluated"], capsys
    )
    assert code == 1 and "not_evaluated" in out and "face.jpg (not_evaluated)" in err
    assert "face.jpg: not evaluated: face smaller than 2000 px" in out
    code, out, err = _cli([scan_media["real"], "-m", tiny_detector, "--max-seconds", ".3", "--min-frames", "2"], capsys)
    assert code == 0 and "real.mp4: not evaluated" not in out, (out, err)
    code, out, _ = _cli([scan_media["real"], "-m", tiny_detector, "--max-seconds", "0.3"], capsys)
    assert code == 0 and "real.mp4: not evaluated: fewer than 5 frames with a scorable face" in out
    code, _, _ = _cli([scan_media["blank"], "-m", tiny_detector, "--fail-on", "no_face"], capsys)
    assert code == 1
    code, _, err = _cli([scan_media["fake"], "-m", tiny_detector, "--fail-on", "fake"], capsys)
    assert code == 2 and err.startswith("error: --fail-on") and err.count("\n") == 1
    code, _, err = _cli([scan_media["fake"], "-m", tiny_detector, "--threshold", "0.4", "--authentic-below", "0.6"],
                        capsys)  # fmt: skip
    assert code == 2 and err.startswith("error: --authentic-below") and err.count("\n") == 1
    code, out, _ = _cli([scan_media["real"], "-m", calibrated], capsys)
    assert code == 0 and "calibrated in the detector card for 5% false positives on 400" in out
    code, out, _ = _cli([scan_media["real"], "-m", calibrated, "--threshold", "0.9"], capsys)
    assert code == 0 and "set with --threshold" in out and "manipulated from 0.900, uncertain from 0.900" in out


# ------------------------------------------------------------------------------------------------- web


def test_web_end_event_and_result_carry_the_verdict(model, scan_media, tmp_path) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from deepfake_lab.web.app import create_app
    from support.web import _events, _upload, _wait

    with TestClient(create_app(model, jobs_dir=tmp_path / "jobs")) as c:
        job = _upload(c, scan_media["face"]).json()["id"]
        end = _events(c, job)[-1]
        st = _wait(c, job)
        assert end[0] == "end" and end[1]["verdict"] == st["result"]["files"][0]["verdict"] == "authentic"
        assert end[1]["reason"] is None and validate(st["result"]) == []
        assert st["result"]["verdicts"]["source"] == "default"
        job = _upload(c, scan_media["face"], threshold="0.9", authentic_below="0.0").json()["id"]
        st = _wait(c, job)
        band = st["result"]["verdicts"]
        assert (band["threshold"], band["authentic_below"], band["source"]) == (0.9, 0.0, "option")
        assert st["result"]["files"][0]["verdict"] == "uncertain"
        bad = _upload(c, scan_media["face"], threshold="0.2", authentic_below="0.5")
        assert bad.status_code == 400 and "authentic_below" in bad.json()["error"]


# ------------------------------------------------------------------------------------------- calibrate


def test_calibrate_detector_on_real_media(scan_media, model) -> None:
    from deepfake_lab.pipelines.calibrate import calibrate_detector, scores_of

    cal, run = calibrate_detector(model, [scan_media["real"]], [scan_media["fake"]], target_fpr=0.1, unit="face")
    assert cal["n_real"] == N_REAL + N_FAKE == run.real_scores.size and cal["unit"] == "face"
    assert cal["fpr"] <= 0.1 and (run.real_scores >= cal["threshold"]).mean() == pytest.approx(cal["fpr"])
    assert cal["tpr"] == pytest.approx((run.fake_scores >= cal["threshold"]).mean()) and cal["n_fake"] == 20
    assert "per face: 20 scores" in cal["split"]
    per_file = scores_of(run.reals, "file")
    assert per_file.size == 1 and per_file[0] == pytest.approx(run.reals.files[0].score)
    with pytest.raises(BadInputError, match="nothing to calibrate"):
        calibrate_detector(model, [scan_media["blank"]])
    with pytest.raises(BadInputError, match="unit must be one of"):
        calibrate_detector(model, [scan_media["real"]], unit="frame")


def test_calibrate_cli_writes_the_card_that_detect_then_uses(scan_media, tiny_detector, tmp_path, capsys) -> None:
    from deepfake_lab.cli import main

    det = tmp_path / "det"
    det.mkdir()
    for p in Path(tiny_detector).iterdir():
        (det / p.name).write_bytes(p.read_bytes())

    def run(args):
        with pytest.raises(SystemExit) as exc:
            main([str(a) for a in args])
        out = capsys.readouterr()
        return (exc.value.code if isinstance(exc.value.code, int) else 0), out.out, out.err

    code, out, err = run(["calibrate", scan_media["real"], "-m", det, "--unit", "face", "--target-fpr", "0.1",
                          "--identities", "1", "--write", "-q"])  # fmt: skip
    assert code == 0, err
    assert "false-positive rate" in out and "calibration stored" in out
    card = json.loads(next(det.glob("*.json")).read_text())
    assert card["calibration"]["n_real"] == 20 and card["calibration"]["n_real_identities"] == 1
    assert card["name"] == "tiny-meso4-rb-swap"  # the rest of the card is kept
    code, out, _ = run(["detect", scan_media["real"], "-m", det, "-q", "--no-provenance"])
    assert code == 0 and "calibrated in the detector card for 10% false positives on 20 held-out real faces" in out
    code, _, err = run(["calibrate", scan_media["blank"], "-m", det, "-q"])
    assert code == 2 and "nothing to calibrate" in err and err.count("\n") == 1
    code, _, err = run(["calibrate", scan_media["real"], "--write", "-q"])
    assert code == 2 and "--write needs --model" in err
    code, _, err = run(["calibrate", scan_media["face"], "-m", det, "-q"])  # 1 score: the note says so
    assert code == 0 and "allows no false positive" in err


def test_calibrate_per_person_rule_one_person_per_argument(scan_media, model, tiny_detector, capsys) -> None:
    from deepfake_lab.cli import main
    from deepfake_lab.pipelines.calibrate import calibrate_detector, identities_of

    args = [scan_media["real"], scan_media["face"]]
    cal, run = calibrate_detector(model, args, unit="face", target_fpr=0.1, rule="person-mean")
    ids = identities_of(run.reals, args, "face")
    assert len(ids) == run.real_scores.size and ids.count(str(scan_media["face"])) == 1
    assert cal["rule"] == "person-mean" and cal["people"] == sorted(str(a) for a in args)
    assert cal["n_real_identities"] == 2 and cal["person_mean_fpr"] <= 0.1 and set(cal["loo_fpr"]) == set(cal["people"])
    pooled, _ = calibrate_detector(model, args, unit="face", target_fpr=0.1)
    assert pooled["rule"] == "pooled" and "people" not in pooled
    with pytest.raises(BadInputError, match="rule must be one of"):
        calibrate_detector(model, args, rule="median")

    def cli(argv):
        with pytest.raises(SystemExit) as exc:
            main([str(a) for a in argv])
        out = capsys.readouterr()
        return (exc.value.code if isinstance(exc.value.code, int) else 0), out.out, out.err

    code, out, err = cli(["calibrate", *args, "-m", tiny_detector, "--unit", "face", "--rule", "person-mean", "-q"])
    assert code == 0 and "leave-one-person-out" in err and '"rule": "person-mean"' in out
    code, _, err = cli(["calibrate", *args, "-m", tiny_detector, "--rule", "person-conformal", "--coverage", "2", "-q"])
    assert code == 2 and err.startswith("error: ") and "coverage" in err and err.count("\n") == 1
