"""`deepfake-lab demo`: held-out clip → swap with the shipped swap model → scan both → one HTML page.

Uses the tiny detector fixture of conftest.py (`--model`), so it runs before the default detector ships; the
corpus video comes from the sample cache (skipped when it is missing).
"""

# ruff: noqa: F811  (pytest fixtures imported from other test modules are redefined as arguments)

from __future__ import annotations

import json
import re

import av
import pytest

from deepfake_lab.cli import main
from deepfake_lab.models.cards import read_card
from deepfake_lab.pipelines import scan as scan_mod
from deepfake_lab.pipelines.demo import DEFAULT_SWAP_MODEL, held_out_frames, run_demo
from deepfake_lab.pipelines.scan import DEFAULT_DETECTOR
from deepfake_lab.pipelines.scan import detector as detector_mod
from deepfake_lab.pipelines.scan.schema import check


def test_held_out_frames_from_the_swap_card() -> None:
    card = read_card(DEFAULT_SWAP_MODEL.with_suffix(".json"))
    assert held_out_frames(card) == (58, 71)
    assert held_out_frames({}, frame_count=100) == (80, 99)


def test_demo_end_to_end(man_video, tiny_detector, tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--out", str(out), "--model", str(tiny_detector)])
    assert exc.value.code in (0, None)
    stdout = capsys.readouterr().out
    assert f"open {(out / 'index.html').resolve()}" in stdout and "scores: original" in stdout
    page = (out / "index.html").read_text()
    for link in (
        "original-report.html",
        "swapped-report.html",
        "annotated/original.annotated.mp4",
        "annotated/swapped.annotated.mp4",
        "scan.json",
    ):
        assert f'"{link}"' in page and (out / link).is_file(), link
    assert not re.search(r'src="https?://', page)
    with av.open(str(out / "original.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 14  # frames 58..71, never seen by the swap model
    sidecar = json.loads((out / "swapped.mp4.json").read_text())
    assert sidecar["synthetic"] is True and sidecar["faces_replaced"] == 14
    doc = json.loads((out / "scan.json").read_text())
    check(doc)
    assert [f["faces_scored"] for f in doc["files"]] == [14, 14]
    meta = json.loads((out / "demo.json").read_text())
    assert meta["frames"] == [58, 71] and set(meta["scores"]) == {"original", "swapped"}
    # running it again replaces the earlier demo; a foreign non-empty folder is refused
    res = run_demo(out, tiny_detector)
    assert res.page.is_file() and res.original.faces_scored == 14
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--out", str(tmp_path / "mine"), "--model", str(tiny_detector)])
    assert exc.value.code == 2 and "not an earlier demo folder" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_demo_without_a_detector_is_a_clear_error(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.delenv(scan_mod.DETECTOR_ENV, raising=False)
    monkeypatch.setattr(detector_mod, "DEFAULT_DETECTOR", tmp_path / "detector-default.safetensors")
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--out", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "no default detector is installed" in err
    assert not (tmp_path / "d").exists()  # failed before writing anything


@pytest.mark.skipif(not DEFAULT_DETECTOR.is_file(), reason="the default detector is not installed")
def test_demo_with_the_shipped_detector_flags_the_swap(man_video, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(scan_mod.DETECTOR_ENV, raising=False)
    res = run_demo(tmp_path / "demo")
    assert res.original.verdict == "authentic" and res.original.score < 0.2
    assert res.swapped.verdict == "manipulated" and res.swapped.score > 0.8
    assert res.swapped.provenance is not None and res.original.provenance is not None


def test_demo_page_escapes_names(tmp_path) -> None:
    from types import SimpleNamespace

    from deepfake_lab.pipelines.demo import DemoResult, _write_page

    hostile = "<script>alert(1)</script>"
    clip = dict(score=0.5, reason=None, provenance={"summary": f"signed by {hostile}"})
    original = SimpleNamespace(**clip, verdict="authentic", annotated=str(tmp_path / "o<script>.mp4"))
    swapped = SimpleNamespace(**clip, verdict="manipulated", annotated=None)
    det = SimpleNamespace(name=f"det{hostile}", card={"model": hostile},
                          summary=lambda: {"crop": {"size": 128, "margin": 0.1}})  # fmt: skip
    res = DemoResult(out=tmp_path, page=tmp_path / "index.html", original=original, swapped=swapped,
                     frames=(58, 71), seconds=3.0, steps={"cut": 1.0})  # fmt: skip
    _write_page(res, det, f"swap{hostile}", 14, band=f"band {hostile}")
    page = res.page.read_text()
    assert "<script>" not in page
    esc = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for text in (f"<b>swap{esc}</b>", f"<b>det{esc}</b>", f"({esc},", f"Face-swapped by swap{esc}",
                 f"provenance: signed by {esc}", f"band {esc}", 'href="annotated/o&lt;script&gt;.mp4"'):  # fmt: skip
        assert text in page, text
    assert '<span class="verdict manipulated">50.0% · likely manipulated</span>' in page
    assert ".verdict.manipulated{background:" in page  # the trusted CSS is not escaped
    assert '"original-report.html"' in page and '"swapped.mp4"' in page and "(cut 1.0 s)" in page
