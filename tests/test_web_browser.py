"""The page in a real browser: Playwright drives Debian's chromium against the service on loopback.

Uploads a sample video through the page, waits for the timeline, plays the video and checks that the
overlaid percentage follows playback. Saves a screenshot to `artifacts/web-page.png` (a CI artefact).
Skipped only outside CI when chromium or Playwright is missing; in CI (`CI` set) their absence fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from test_scan_fixtures import scan_media, tiny_detector  # noqa: F401

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _need(ok: bool, what: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is missing; .ci/run installs it")
        pytest.skip(f"{what} is missing (Debian chromium + pip playwright; .ci/run installs both)")


@pytest.fixture()
def server(tiny_detector, tmp_path):  # noqa: F811
    pytest.importorskip("fastapi")
    import uvicorn

    from deepfake_lab.pipelines.scan import load_detector
    from deepfake_lab.web.app import create_app

    det = load_detector(tiny_detector)
    det.choose_precision("fp32")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(det, jobs_dir=tmp_path / "jobs"), port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    t0 = time.time()
    while not srv.started:
        assert time.time() - t0 < 30, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_page_upload_timeline_and_live_overlay(server, scan_media) -> None:  # noqa: F811
    _need(CHROMIUM is not None, "chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "playwright")
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        page = browser.new_page(viewport={"width": 1100, "height": 1300})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "/")
        page.set_input_files("#file", str(scan_media["mixed"]))
        page.wait_for_selector("#chart .u-over", timeout=60_000)  # the timeline chart exists
        page.wait_for_selector("#verdict:not([hidden])", timeout=120_000)  # the scan finished
        verdict = page.inner_text("#verdict")
        assert "score" in verdict and "%" in verdict
        n_points = page.evaluate("state.chart.data[0].length")
        assert n_points >= 15
        assert page.evaluate("document.getElementById('video').readyState") >= 1, "the browser cannot load the video"
        # Play slowly and watch the overlaid percentage follow the frames (real first half, manipulated second).
        page.evaluate("(() => { const v = document.getElementById('video'); v.playbackRate = 0.25; v.play(); })()")
        seen: list[str] = []
        t0 = time.time()
        while time.time() - t0 < 12 and not page.evaluate("document.getElementById('video').ended"):
            seen.append(page.inner_text("#overlay-pct"))
            time.sleep(0.1)
        ARTIFACTS.mkdir(exist_ok=True)
        page.evaluate("document.getElementById('video').currentTime = state.times[state.times.length - 2]")
        time.sleep(0.5)
        page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)
        browser.close()
    shown = [s for s in seen if s.endswith("%")]
    assert len(shown) >= 5, seen
    assert len(set(shown)) >= 2, f"the overlay did not change while the video played: {seen}"
    assert not errors, errors
