"""`deepfake-lab bench faces --gan ...` refuses bad GAN options in one line before touching the output folder;
`bench faces-eval` reports the GAN methods of a face benchmark apart, with AP per generator."""

from __future__ import annotations

import json

import pytest

from support.cli import assert_one_line_error, run_cli
from support.face_bench import tiny_face_bench


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--gan", "dcgan,stylegan"], ["--gan", "stylegan"]),
        (["--gan", ","], ["--gan"]),
        (["--gan", "dcgan", "--gan-steps", "0"], ["--gan-steps", ">= 1"]),
        (["--gan", "progan", "--gan-samples", "0"], ["--gan-samples"]),
        (["--gan-steps", "5"], ["--gan"]),
    ],
)
def test_bad_gan_options_are_one_line_errors(tmp_path, capsys, args, words) -> None:
    tiny_face_bench(tmp_path / "faces")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    code, _, err = run_cli(["bench", "faces", "-o", tmp_path / "faces", *args], capsys)
    assert_one_line_error(code, err, *words)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing rebuilt or removed


def test_faces_eval_reports_ap_per_generator(tmp_path, capsys) -> None:
    tiny_face_bench(tmp_path, {"gan-dcgan": 250, "gan-progan": 30})
    code, out, err = run_cli(["bench", "faces-eval", tmp_path], capsys)
    assert code == 0, err
    rep = json.loads(out)
    assert set(rep["test"]["gan_ap"]) == {"gan-dcgan", "gan-progan"}
    for c in ("c0", "c23"):
        assert set(rep["test"][c]["gan"]) == {"gan-dcgan", "gan-progan"}
        assert set(rep["test"][c]["per_method_auc"]) == {"self-blend"}  # GAN methods not mixed in
        for g in rep["test"][c]["gan"].values():
            assert 0.0 <= g["ap"] <= 1.0 and 0.0 <= g["auc"] <= 1.0 and g["n"] == 4
    probe = rep["gan_probe"]  # train-on-X / test-on-Y
    assert set(probe["ap"]) == {"gan-dcgan", "gan-progan", "resampled"}  # + the no-GAN low-resolution control
    assert set(probe["ap"]["resampled"]) == set(probe["ap"]["gan-dcgan"]) == {"gan-dcgan", "gan-progan"}
    assert rep["gans"]["gan-dcgan"]["generator"] == "grey"
