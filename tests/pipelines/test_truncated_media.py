"""One "decoded fewer frames than declared" check (the video layer's `MediaReader.incomplete`) behind swap,
extract, detect and the web service; API messages never name server paths.

The test file is an MP4 with its index at the front (`movflags=faststart`) cut at 50 %: it opens, declares
all its frames and decodes only the first ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepfake_lab.cli import main
from deepfake_lab.video import open_media
from support.media import face_frames, write_video

N = 72


@pytest.fixture(scope="module")
def cut(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cut")
    frames = face_frames(N, size=(160, 120))
    full = write_video(d / "full.mp4", frames, audio=False, movflags="faststart")
    data = full.read_bytes()
    (d / "cut.mp4").write_bytes(data[: len(data) // 2])
    late = write_video(d / "late.mp4", frames, audio=False)  # index at the end: cut, it does not open
    (d / "noindex.mp4").write_bytes(late.read_bytes()[: len(data) // 2])
    return {"full": full, "cut": d / "cut.mp4", "noindex": d / "noindex.mp4"}


def _decoded(problem: str | None) -> bool:
    return problem is not None and "truncated or corrupt: decoded" in problem and f"of {N} frames" in problem


def test_video_layer_reports_missing_frames(cut, tmp_path) -> None:
    with open_media(cut["cut"]) as r:
        n = sum(1 for _ in r)
        assert r.info.frame_count == N and 0 < n < N // 2 + 8
        assert _decoded(r.incomplete()) and f"decoded {n} of" in r.incomplete()
    with open_media(cut["full"]) as r:
        assert sum(1 for _ in r) == N and r.incomplete() is None
    from PIL import Image

    Image.new("RGB", (32, 32)).save(tmp_path / "x.png")
    with open_media(tmp_path / "x.png") as r:  # every reader answers (stills are whole or fail to open)
        list(r)
        assert r.incomplete() is None


def test_swap_reports_a_truncated_source(cut, tiny_model, tmp_path, capsys) -> None:  # noqa: F811
    out = tmp_path / "out.mp4"
    with pytest.raises(SystemExit) as exc:
        main(["swap", str(cut["cut"]), "--model", str(tiny_model), "-o", str(out), "-q", "--no-provenance"])
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and _decoded(errors[0]) and "Traceback" not in err, err
    side = json.loads((tmp_path / "out.mp4.json").read_text())
    assert _decoded(side["source_incomplete"]) and side["frames"] < N  # what was swapped is labelled
    with open_media(out) as r:
        assert sum(1 for _ in r) == side["frames"]


def test_extract_and_detect_report_a_truncated_source(cut, tiny_detector, tmp_path) -> None:  # noqa: F811
    from deepfake_lab.faces.extract import ExtractOptions
    from deepfake_lab.pipelines.extract import extract
    from deepfake_lab.pipelines.scan import ScanOptions, load_detector, scan_paths

    rep = extract([cut["cut"]], tmp_path / "faces", ExtractOptions(size=64))
    assert rep.results[0].status == "partial" and _decoded(rep.results[0].message)
    det = load_detector(tiny_detector)
    det.choose_precision("fp32")
    res = scan_paths([cut["cut"]], det, ScanOptions(detect_every=4, precision="fp32"))
    assert res.files[0].status == "partial" and _decoded(res.files[0].message)


def test_web_names_the_clients_file_never_server_paths(cut, tiny_detector, tmp_path) -> None:  # noqa: F811
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from deepfake_lab.pipelines.scan import load_detector
    from deepfake_lab.web.app import create_app

    det = load_detector(tiny_detector)
    det.choose_precision("fp32")
    jobs = tmp_path / "jobs"
    with TestClient(create_app(det, jobs_dir=jobs)) as c:
        with cut["noindex"].open("rb") as f:  # sniffed as MP4, but the decoder cannot open it: 415
            r = c.post("/api/v1/analyses", files={"file": ("holiday.mp4", f)})
        assert r.status_code == 415, r.text
        msg = r.json()["error"]
        assert "holiday.mp4" in msg and str(jobs) not in msg and "input.mp4" not in msg, msg
        with cut["cut"].open("rb") as f:
            r = c.post("/api/v1/analyses", files={"file": ("party.mp4", f)}, data={"detect_every": "4"})
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        with c.stream("GET", f"/api/v1/analyses/{job_id}/events") as ev:
            stream = "".join(ev.iter_text())
        st = c.get(f"/api/v1/analyses/{job_id}").json()
        report = c.get(f"/api/v1/analyses/{job_id}/files/report.html").text
    assert st["status"] == "done" and st["result"]["files"][0]["status"] == "partial", st["message"]
    assert _decoded(st["message"]) and "party.mp4" in st["message"]
    everything = json.dumps(st) + stream + report
    i = everything.find(str(jobs))
    assert i < 0 and str(jobs.resolve()) not in everything, everything[max(0, i - 300) : i + 200]  # no server path
