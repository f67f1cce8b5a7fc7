"""`deepfake-lab detect` end to end: outputs (JSON validated by the schema, CSV, HTML report, annotated video
with audio), exit codes (0, 1 with --fail-above, 2 for bad input) and the faces issue's bad-input list."""


from __future__ import annotations

import csv
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from deepfake_lab.cli import main
from deepfake_lab.pipelines import scan as scan_mod
from deepfake_lab.pipelines.scan import core as core_mod
from deepfake_lab.pipelines.scan import detector as detector_mod
from deepfake_lab.pipelines.scan.schema import check
from support.media import BAD, _bomb, face_frames, write_video
from support.scan import N_BLANK, N_FAKE, N_REAL


def run_cli(args: list[object], capsys: pytest.CaptureFixture[str], provenance: bool = False) -> tuple[int, str, str]:
    """Run `deepfake-lab detect ARGS` in-process (without the provenance check unless asked: it is slow)."""
    extra = [] if provenance else ["--no-provenance"]
    with pytest.raises(SystemExit) as exc:
        main(["detect", *(str(a) for a in args), *extra])
    out = capsys.readouterr()
    code = exc.value.code if isinstance(exc.value.code, int) else 0
    return code, out.out, out.err


def test_detect_writes_json_csv_report_and_annotated_video(
    scan_media,
    tiny_detector,
    tmp_path,
    capsys,
) -> None:
    out = tmp_path / "out"
    args = [
        scan_media["real"],
        scan_media["fake"],
        "-m",
        tiny_detector,
        "-q",
        "--json",
        out / "scan.json",
        "--csv",
        out / "scan.csv",
        "--report",
        out / "report.html",
        "--annotate",
        out / "ann",
    ]
    code, stdout, err = run_cli(args, capsys, provenance=True)
    assert code == 0 and err == "", err
    assert "detector: tiny-meso4-rb-swap (meso4, faces aligned at 64 px (margin 0.1)" in stdout  # the card, echoed
    assert re.search(r"real\.mp4 +│ +\d+\.\d% │ authentic", stdout) and re.search(r"fake\.mp4 .*manipulated", stdout)
    doc = json.loads((out / "scan.json").read_text())
    check(doc)
    counts = {"authentic": 1, "uncertain": 0, "manipulated": 1, "not_evaluated": 0, "no_face": 0, "error": 0}
    assert doc["summary"] == {"files": 2, "errors": 0, **counts, "max_score": doc["files"][1]["score"]}
    assert doc["files"][0]["frames_without_faces"] == N_BLANK
    if importlib.util.find_spec("deepfake_lab.provenance") is not None:  # provenance findings of every file
        assert all(isinstance(f["provenance"], dict) and f["provenance"] for f in doc["files"])
    rows = list(csv.DictReader((out / "scan.csv").open()))
    assert len(rows) == 2 * (N_REAL + N_FAKE) + N_BLANK
    assert [r["status"] for r in rows if r["source"].endswith("real.mp4")][-N_BLANK:] == ["no_face"] * N_BLANK
    assert all(r["prob"] == "" for r in rows if r["status"] == "no_face")
    page = (out / "report.html").read_text()
    assert "<svg" in page and "data:image/png;base64," in page and "Grad-CAM" in page
    assert "likely manipulated" in page and "no manipulation found" in page and "tiny-meso4-rb-swap" in page
    assert not re.search(r'(src|href)="https?://', page)  # self-contained
    assert 'href="ann/real.annotated.mp4"' in page
    ann = out / "ann" / "real.annotated.mp4"
    with av.open(str(ann)) as c:
        assert len(c.streams.audio) == 1  # source audio kept
        assert sum(1 for _ in c.decode(video=0)) == N_REAL + N_FAKE + N_BLANK


def test_fail_above_exit_code(scan_media, tiny_detector, capsys, tmp_path) -> None:
    args = [scan_media["fake"], "-m", tiny_detector, "-q", "--fail-above", 0.8]
    code, _, err = run_cli([*args, "--json", tmp_path / "s.json"], capsys)
    assert code == 1 and "above 0.8: fake.mp4" in err
    assert json.loads((tmp_path / "s.json").read_text())["files"][0]["provenance"] is None
    code, _, _ = run_cli([scan_media["real"], "-m", tiny_detector, "-q", "--fail-above", 0.8], capsys)
    assert code == 0


def test_single_image_annotation_and_output_guards(scan_media, tiny_detector, tmp_path, capsys) -> None:
    code, stdout, _ = run_cli([scan_media["face"], "-m", tiny_detector, "-q", "--annotate", tmp_path / "a.png"], capsys)
    assert code == 0 and (tmp_path / "a.png").stat().st_size > 0
    code, _, err = run_cli([scan_media["face"], "-m", tiny_detector, "--json", scan_media["face"]], capsys)
    assert code == 2 and err.startswith("error: --json") and "overwrite" in err
    code, _, err = run_cli([scan_media["real"], "-m", tiny_detector, "-q", "--annotate", tmp_path / "a.gif"], capsys)
    assert code == 2 and err.count("\n") == 1 and ".mp4, .mov or .mkv" in err
    code, _, err = run_cli([scan_media["real"], "-m", tiny_detector, "--aggregation", "median"], capsys)
    assert code == 2 and err.startswith("error: Invalid value for '--aggregation'") and "'median'" in err  # a choice


def test_outputs_replace_earlier_scans_but_not_user_files(scan_media, tiny_detector, tmp_path, capsys) -> None:
    outs = ["--json", tmp_path / "s.json", "--csv", tmp_path / "s.csv", "--report", tmp_path / "s.html"]
    args = [scan_media["real"], "-m", tiny_detector, "-q", "--annotate", tmp_path / "a.mp4"]
    for _ in range(2):  # the second run replaces the first run's outputs
        code, _, err = run_cli([*args, *outs], capsys)
        assert code == 0, err
    for name in ("s.json", "s.csv", "s.html", "a.mp4"):
        assert scan_mod.is_scan_output(tmp_path / name), name
    mine = tmp_path / "mine.mp4"
    mine.write_bytes(scan_media["fake"].read_bytes())  # someone's own video
    (tmp_path / "notes.json").write_text('{"mine": true}')
    for flag, target in (("--annotate", mine), ("--json", tmp_path / "notes.json")):
        code, _, err = run_cli([scan_media["real"], "-m", tiny_detector, "-q", flag, target], capsys)
        assert code == 2 and "exists and is not a deepfake-lab scan output" in err and err.count("\n") == 1
    assert mine.read_bytes() == scan_media["fake"].read_bytes()
    assert (tmp_path / "notes.json").read_text() == '{"mine": true}'
    code, _, _ = run_cli([scan_media["real"], "-m", tiny_detector, "-q", "--annotate", mine, "--overwrite"], capsys)
    assert code == 0 and scan_mod.is_scan_output(mine)


def test_truncated_video_is_scanned_in_part_and_reported(tiny_detector, tmp_path, capsys) -> None:
    frames = [f.copy() for f in face_frames(24)]
    rng = np.random.default_rng(0)
    for f in frames:  # noisy background: the file is big enough for half of it to hold whole frames
        f[:, :50] = (rng.random((240, 50, 3)) * 255).astype(np.uint8)
    data = write_video(tmp_path / "fast.mp4", frames, audio=False, movflags="faststart").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: int(len(data) * 0.6)])
    code, _, err = run_cli([tmp_path / "cut.mp4", "-m", tiny_detector, "-q", "--json", tmp_path / "s.json"], capsys)
    assert code == 2 and err.count("\n") == 1 and "truncated or corrupt: decoded" in err
    (f,) = json.loads((tmp_path / "s.json").read_text())["files"]
    assert f["status"] == "partial" and 0 < f["frames_scanned"] < 24 and f["score"] is not None


def test_missing_default_model_is_a_clear_error(scan_media, monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.delenv(scan_mod.DETECTOR_ENV, raising=False)
    monkeypatch.setattr(detector_mod, "DEFAULT_DETECTOR", tmp_path / "detector-default.safetensors")
    code, _, err = run_cli([scan_media["face"]], capsys)
    assert code == 2 and err.count("\n") == 1 and "no default detector is installed" in err and "--model" in err


def test_bad_inputs_one_line_each_and_the_others_scanned(scan_media, tiny_detector, tmp_path, capsys) -> None:
    """The faces issue's bad-input list in one run: one `error:` line per bad input, exit 2, good file scanned."""
    bad = {}
    for kind, (make, message) in sorted(BAD.items()):
        folder = tmp_path / kind
        folder.mkdir()
        bad[kind] = (make(folder), message)
    inputs = [p for p, _ in bad.values()]
    inputs.insert(3, scan_media["face"])
    code, out, err = run_cli([*inputs, "-m", tiny_detector, "-q", "--json", tmp_path / "s.json"], capsys)
    assert code == 2 and "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == len(BAD) and all(line.startswith("error: ") for line in lines), err
    for (path, message), line in zip(bad.values(), lines, strict=True):
        assert message in line and path.name in line, (message, line)
    doc = json.loads((tmp_path / "s.json").read_text())
    check(doc)
    statuses = [f["status"] for f in doc["files"]]
    assert statuses.count("error") == len(BAD) and statuses[3] == "ok" and doc["files"][3]["faces_scored"] == 1


def test_entry_point_subprocess_no_traceback(scan_media, tiny_detector, tmp_path) -> None:
    bad1, bad2 = BAD["zero-byte"][0](tmp_path), _bomb(tmp_path)
    cmd = [sys.executable, "-m", "deepfake_lab", "detect", bad1, scan_media["face"], bad2, "-m", tiny_detector]
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert "Traceback" not in res.stdout + res.stderr
    assert [line[:7] for line in res.stderr.splitlines()] == ["error: ", "error: "], res.stderr
    assert "face.jpg" in res.stdout and "authentic" in res.stdout


def test_unreadable_folder(tiny_detector, tmp_path, capsys, monkeypatch) -> None:
    import os

    from deepfake_lab.video import discover

    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "x.png").write_bytes(b"")
    locked.chmod(0)
    try:
        if os.geteuid() == 0:  # root reads anything: simulate the permission check failing
            real = os.access
            monkeypatch.setattr(discover.os, "access", lambda p, m: False if Path(p) == locked else real(p, m))
        code, out, err = run_cli([locked, "-m", tiny_detector, "-q"], capsys)
    finally:
        locked.chmod(0o755)
    assert code == 2 and "Traceback" not in out + err
    assert err.splitlines() == [f"error: {locked}: folder not readable (permission denied)"]


def test_ctrl_c_keeps_the_finished_files(scan_media, tiny_detector, tmp_path, capsys, monkeypatch) -> None:
    real_scan = core_mod.scan_file
    calls = []

    def scan_then_interrupt(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(core_mod, "scan_file", scan_then_interrupt)
    args = [scan_media["face"], scan_media["real"], "-m", tiny_detector, "-q", "--json", tmp_path / "s.json"]
    code, _, err = run_cli(args, capsys)
    assert code == 130 and "outputs hold the 1 source(s) finished before Ctrl-C" in err
    doc = json.loads((tmp_path / "s.json").read_text())
    assert [Path(f["source"]).name for f in doc["files"]] == ["face.jpg"]
    calls.clear()
    monkeypatch.setattr(core_mod, "scan_file", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    code, _, err = run_cli([scan_media["face"], "-m", tiny_detector, "-q"], capsys)
    assert code == 130 and "nothing written" in err and "Traceback" not in err
