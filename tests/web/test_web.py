"""The web service API (FastAPI TestClient): happy paths, limits, auth, live events."""

from __future__ import annotations

import io

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from deepfake_lab.pipelines.scan import load_detector  # noqa: E402
from deepfake_lab.pipelines.scan_schema import validate  # noqa: E402
from deepfake_lab.web.app import create_app  # noqa: E402
from deepfake_lab.web.upload import sniff_media  # noqa: E402
from support.web import API, _events, _upload, _wait  # noqa: E402


@pytest.fixture(scope="module")
def detector(tiny_detector):  # noqa: F811
    det = load_detector(tiny_detector)
    det.choose_precision("fp32")
    return det


@pytest.fixture()
def client(detector, tmp_path):
    with TestClient(create_app(detector, jobs_dir=tmp_path / "jobs")) as c:
        yield c


def test_video_happy_path_with_live_events(client, scan_media) -> None:  # noqa: F811
    r = _upload(client, scan_media["mixed"], detect_every="2")
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert r.headers["location"] == f"{API}/{job_id}"
    events = _events(client, job_id)  # follows the scan live until its end
    frames = [d for e, d in events if e == "frame"]
    assert events[0][0] == "status" and events[-1][0] == "end" and events[-1][1]["status"] == "done"
    idx = [f["index"] for f in frames]
    assert idx == sorted(idx) and len(idx) == len(set(idx)) and len(idx) >= 15  # per-frame, in order
    st = _wait(client, job_id)
    doc = st["result"]
    assert validate(doc) == []  # same schema as `detect --json`
    assert [f["index"] for f in doc["files"][0]["frames"]] == idx  # events == final frames
    assert doc["files"][0]["source"] == "mixed.mp4"
    # the manipulated second half scores higher than the real first half
    probs = [f["prob"] for f in frames if f["prob"] is not None]
    assert sum(probs[-5:]) / 5 > sum(probs[:5]) / 5
    assert {"result.json", "report.html", "annotated.mp4"} <= set(st["downloads"])
    rep = client.get(f"{API}/{job_id}/files/report.html")
    assert rep.status_code == 200 and "<html" in rep.text.lower()
    media = client.get(f"{API}/{job_id}/media")
    assert media.status_code == 200 and media.headers["content-type"] == "video/mp4"
    # reconnecting with Last-Event-ID resumes after that frame
    again = _events(client, job_id, headers={"Last-Event-ID": str(len(idx) - 3)})
    assert [d["index"] for e, d in again if e == "frame"] == idx[-2:]


def test_image_happy_path(client, scan_media) -> None:  # noqa: F811
    r = _upload(client, scan_media["face"], name="../../etc/passwd.jpg")  # a hostile name is only a label
    assert r.status_code == 202, r.text
    st = _wait(client, r.json()["id"])
    assert st["status"] == "done" and st["kind"] == "image"
    assert st["filename"] == "passwd.jpg"
    f = st["result"]["files"][0]
    assert f["frames_scanned"] == 1 and f["faces_scored"] >= 1 and 0 <= f["score"] <= 1
    blank = _upload(client, scan_media["blank"])
    st = _wait(client, blank.json()["id"])
    assert st["result"]["files"][0]["verdict"] == "no_face"


def test_limits_and_bad_input(detector, tmp_path, scan_media) -> None:  # noqa: F811
    with TestClient(create_app(detector, jobs_dir=tmp_path / "jobs", max_upload_bytes=4096)) as c:
        big = _upload(c, scan_media["fake"])
        assert big.status_code == 413 and "limit" in big.json()["error"]
        text = c.post(API, files={"file": ("video.mp4", io.BytesIO(b"hello, not a video" * 10))})
        assert text.status_code == 415
        truncated = scan_media["dir"] / "trunc.mp4"
        truncated.write_bytes(scan_media["fake"].read_bytes()[:1500])
        bad = _upload(c, truncated)
        assert bad.status_code in (202, 415)  # header readable or not: never a 500
        nofile = c.post(API, data={"threshold": "0.5"})
        assert nofile.status_code == 400
        opt = _upload(c, scan_media["blank"], threshold="2")
        assert opt.status_code == 400 and "threshold" in opt.json()["error"]
        unknown = _upload(c, scan_media["blank"], rm_rf="1")
        assert unknown.status_code == 400
        assert c.get(f"{API}/{'0' * 32}").status_code == 404
        assert c.get(f"{API}/../../etc").status_code == 404
        assert c.delete(f"{API}/{'f' * 32}").status_code == 404
    assert sniff_media(scan_media["face"]) == ("image", ".jpg")
    assert sniff_media(scan_media["fake"]) == ("video", ".mp4")


def test_refused_uploads_leave_no_files(detector, tmp_path, scan_media) -> None:  # noqa: F811
    with TestClient(create_app(detector, jobs_dir=tmp_path / "jobs", max_upload_bytes=4096)) as c:
        assert _upload(c, scan_media["fake"]).status_code == 413
        assert c.post(API, files={"file": ("a.png", io.BytesIO(b"x" * 100))}).status_code == 415
    assert list((tmp_path / "jobs").iterdir()) == []


def test_token_delete_and_health(detector, tmp_path, scan_media) -> None:  # noqa: F811
    with TestClient(create_app(detector, jobs_dir=tmp_path / "jobs", token="s3cret")) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        assert _upload(c, scan_media["face"]).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        with scan_media["face"].open("rb") as f:
            assert c.post(API, files={"file": ("f.jpg", f)}, headers=wrong).status_code == 401
        ok = {"Authorization": "Bearer s3cret"}
        with scan_media["face"].open("rb") as f:
            r = c.post(API, files={"file": ("f.jpg", f)}, headers=ok)
        assert r.status_code == 202
        job_id = r.json()["id"]
        assert c.get(f"{API}/{job_id}").status_code == 401
        assert _wait(c, job_id, headers=ok)["status"] == "done"
        assert c.get(f"{API}/{job_id}/media?access_token=s3cret").status_code == 200  # for <video src>
        assert c.delete(f"{API}/{job_id}", headers=ok).status_code == 204
        assert c.get(f"{API}/{job_id}", headers=ok).status_code == 404
        assert not (tmp_path / "jobs" / job_id).exists()


def test_page_and_offline_docs(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text and "http" not in page.text.split("<body")[1]
    vendor = ("uplot/uPlot.iife.min.js", "swagger-ui/swagger-ui.css")
    for asset in ("/static/app.js", *(f"/static/vendor/{v}" for v in vendor)):
        assert client.get(asset).status_code == 200, asset
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "cdn." not in docs.text
    spec = client.get("/openapi.json").json()
    assert "/api/v1/analyses" in spec["paths"] and "/api/v1/analyses/{job_id}/events" in spec["paths"]


def test_serve_cli_bad_options(tmp_path, tiny_detector, capsys) -> None:  # noqa: F811
    from deepfake_lab.cli import main

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("user data")
    for argv, needle in (
        (["serve", "--model", str(tiny_detector), "--jobs-dir", str(busy)], "not empty"),
        (["serve", "--model", str(tmp_path / "nope.safetensors")], "nope"),
        (["serve", "--port", "0"], "port"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2, argv
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err, err
    assert (busy / "keep.txt").read_text() == "user data"
