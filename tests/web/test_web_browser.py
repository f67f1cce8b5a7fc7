"""The page in a real browser: Playwright drives Debian's chromium against the service on loopback.

Uploads a sample video through the page, waits for the timeline, plays the video and checks that the
overlaid percentage follows playback; uploads with the keyboard only; measures the verdict badges' contrast
from the computed styles (page, HTML report, demo page); checks the progress bar's error state; lays the page
out at 390×844. Screenshots go to `artifacts/` (CI artefacts: web-page.png, web-mobile-390x844.png).
Skipped only outside CI when chromium or Playwright is missing; in CI (`CI` set) their absence fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


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


@contextlib.contextmanager
def _browser() -> Iterator[Any]:
    """A headless Debian chromium driven by Playwright."""
    _need(CHROMIUM is not None, "chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "playwright")
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield browser
        finally:
            browser.close()


def test_page_upload_timeline_and_live_overlay(server, scan_media) -> None:  # noqa: F811
    with _browser() as browser:
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
        announced: set[str] = set()
        t0 = time.time()
        while time.time() - t0 < 12 and not page.evaluate("document.getElementById('video').ended"):
            seen.append(page.inner_text("#overlay-pct"))
            announced.add(page.inner_text("#announce"))
            time.sleep(0.1)
        ARTIFACTS.mkdir(exist_ok=True)
        page.evaluate("document.getElementById('video').currentTime = state.times[state.times.length - 2]")
        time.sleep(0.5)
        page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)
    shown = [s for s in seen if s.endswith("%")]
    assert len(shown) >= 5, seen
    assert len(set(shown)) >= 2, f"the overlay did not change while the video played: {seen}"
    # the per-frame read-out is not a live region; the polite one only said the verdict during playback
    assert len(announced) == 1 and "Analysis done" in announced.pop()
    assert not errors, errors


def _tab_to(page: Any, selector: str, limit: int = 40) -> list[str]:
    """Press Tab until `selector` has focus; returns the ids (or tag names) focused on the way."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return seen
    raise AssertionError(f"{selector} never got focus by Tab; focus went {seen}")


def test_keyboard_only_upload_and_frame_jump(server, scan_media) -> None:  # noqa: F811
    with _browser() as browser:
        page = browser.new_page(viewport={"width": 1100, "height": 1300})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        choosers: list[Any] = []
        page.on("filechooser", lambda fc: choosers.append(fc))  # before goto: dialogs intercepted from the start
        page.goto(server + "/")
        page.wait_for_function("document.getElementById('agg-help').textContent !== ''")  # app.js has run
        _tab_to(page, "#pick")
        page.keyboard.press("Enter")  # opens the system file dialog (intercepted)
        t0 = time.time()
        while not choosers and time.time() - t0 < 30:
            page.wait_for_timeout(100)
        assert choosers, "Enter on 'Choose a file…' opened no file dialog"
        choosers[0].set_files(str(scan_media["mixed"]))
        page.wait_for_selector("#verdict:not([hidden])", timeout=120_000)
        assert "Analysis done" in page.inner_text("#announce")  # the verdict reaches screen readers
        summary = page.inner_text("#timeline-summary")
        assert "frames scanned" in summary and "threshold" in summary  # the chart's text alternative
        assert page.get_attribute("#chart", "aria-describedby") == "timeline-summary"
        # every player control and every suspicious-frame thumbnail is reachable with Tab
        page.evaluate("document.activeElement.blur()")  # Tab again from the top of the page
        path = _tab_to(page, ".suspicious button", limit=60)
        assert {"play", "prev", "next", "seek"} <= set(path), path
        thumb = page.get_attribute(".suspicious button", "aria-label")
        want = float(thumb.split("Jump to ")[1].split(" s")[0])
        page.keyboard.press("Enter")  # jumps the player to that frame
        page.wait_for_function(f"Math.abs(document.getElementById('video').currentTime - {want}) < 0.05")
        # frame stepping with the keyboard
        page.focus("#next")
        page.keyboard.press("Enter")
        page.wait_for_function(f"document.getElementById('video').currentTime > {want} + 0.01")
        # the chart legend's show/hide toggles work from the keyboard too
        page.focus(".u-legend .u-series th[role=button]")
        page.keyboard.press("Enter")
        assert page.evaluate("state.chart.series[1].show") is False
    assert not errors, errors


def _contrast(page: Any, selector: str) -> list[tuple[str, float]]:
    """(class, WCAG contrast ratio) of each element matching `selector`, from its computed colours."""
    return page.evaluate(
        """(sel) => {
          const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
          const lum = (c) => { const l = c.map((v) => { v /= 255;
            return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
            return 0.2126 * l[0] + 0.7152 * l[1] + 0.0722 * l[2]; };
          return [...document.querySelectorAll(sel)].map((el) => {
            const cs = getComputedStyle(el);
            const a = lum(rgb(cs.color)), b = lum(rgb(cs.backgroundColor));
            return [el.className, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
          });
        }""",
        selector,
    )


VERDICTS = ("manipulated", "uncertain", "authentic", "no_face", "not_evaluated", "error")


def test_verdict_badges_meet_wcag_aa_contrast(server) -> None:
    from deepfake_lab.pipelines.report import _CSS, VERDICT_CSS

    spans = "".join(f'<span class="verdict {v}">{v}</span>' for v in VERDICTS)
    with _browser() as browser:
        page = browser.new_page()
        page.goto(server + "/")  # the page's own stylesheet
        page.evaluate(
            "(vs) => { const d = document.createElement('div'); d.id = 'probe';"
            " d.innerHTML = vs.map((v) => `<span class=\"badge ${v}\">${v}</span>`).join('');"
            " document.body.append(d); }",
            list(VERDICTS),
        )
        web = _contrast(page, "#probe .badge")
        page.set_content(f"<html><head><style>{_CSS}</style></head><body>{spans}</body></html>")  # the report
        report = _contrast(page, ".verdict")
        page.set_content(f"<html><head><style>{VERDICT_CSS}</style></head><body>{spans}</body></html>")  # demo
        demo = _contrast(page, ".verdict")
    for where, got in (("page", web), ("report", report), ("demo", demo)):
        assert len(got) == len(VERDICTS), (where, got)
        low = [(c, round(r, 2)) for c, r in got if r < 4.5]
        assert not low, f"{where}: badges under 4.5:1: {low}"


def test_progress_bar_shows_a_rejected_upload_as_an_error(server, tmp_path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a video\n" * 1000)
    with _browser() as browser:
        page = browser.new_page()
        page.goto(server + "/")
        page.set_input_files("#file", str(bad))
        page.wait_for_selector("#error:not([hidden])", timeout=30_000)
        assert "not an image or video" in page.inner_text("#error")
        bar = page.evaluate("(() => { const b = document.getElementById('bar');"
                            " return [b.dataset.phase, b.value, b.hasAttribute('value')]; })()")  # fmt: skip
        assert bar == ["error", 0, True], bar  # reset, not left full at 100 %
        assert page.inner_text("#stage-pct") == "" and page.inner_text("#stage") == "Stopped"
        assert page.locator(".phases li.active").count() == 0
        assert page.inner_text("#announce").startswith("Error:")
        colour = page.evaluate("getComputedStyle(document.getElementById('bar')).accentColor")
        assert colour.replace(" ", "") == "rgb(185,28,28)", colour  # the error red, not the progress blue


def test_mobile_layout_keeps_overlays_off_the_face(server, scan_media) -> None:  # noqa: F811
    with _browser() as browser:
        page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                has_touch=True)  # fmt: skip
        page.goto(server + "/")
        page.set_input_files("#file", str(scan_media["mixed"]))
        page.wait_for_selector("#verdict:not([hidden])", timeout=120_000)
        page.evaluate("document.getElementById('video').currentTime = state.times[state.times.length - 2]")
        page.wait_for_function("document.getElementById('overlay-pct').textContent.endsWith('%')")
        layout = page.evaluate(
            """(() => {
              const r = (id) => document.getElementById(id).getBoundingClientRect();
              const box = r('stage-box');
              const hit = ['verdict', 'overlay-pct', 'controls'].filter((id) => {
                const o = r(id);
                return o.width && o.height && !(o.right <= box.left || o.left >= box.right
                  || o.bottom <= box.top || o.top >= box.bottom);
              });
              return { overflow: document.documentElement.scrollWidth - window.innerWidth, hit,
                       controls: document.getElementById('video').controls, box: [box.width, box.height] };
            })()"""
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.evaluate("document.getElementById('verdict').scrollIntoView()")
        page.screenshot(path=str(ARTIFACTS / "web-mobile-390x844.png"))
    assert layout["overflow"] <= 0, layout  # nothing wider than the phone
    assert layout["hit"] == [], layout  # no read-out, badge or control is drawn over the picture
    assert layout["controls"] is False and layout["box"][0] <= 390, layout  # no native controls over the face


def test_short_clip_keeps_marker_and_clock_right(server, tmp_path) -> None:
    from support.media import face_frames, write_video

    clip = write_video(tmp_path / "short.mp4", face_frames(5), fps=25, audio=False)  # 0.2 s
    with _browser() as browser:
        page = browser.new_page(viewport={"width": 1100, "height": 1300})
        page.goto(server + "/")
        page.set_input_files("#file", str(clip))
        page.wait_for_selector("#verdict:not([hidden])", timeout=120_000)
        page.wait_for_function("document.getElementById('video').readyState >= 1")
        page.evaluate("(() => { const v = document.getElementById('video'); v.currentTime = v.duration; })()")
        page.wait_for_function("document.getElementById('video').seeking === false")
        got = page.evaluate(
            """(() => { const v = document.getElementById('video'), x = state.chart.scales.x;
              return { t: v.currentTime, dur: v.duration, lo: x.min, hi: x.max, last: state.times.at(-1),
                       clock: document.getElementById('clock').textContent }; })()"""
        )
    assert got["dur"] < 1.0, got
    assert got["lo"] <= 0 and got["hi"] >= got["t"] - 1e-3 and got["hi"] >= got["last"], got  # marker in range
    shown = got["clock"].split(" / ")
    assert (
        len(shown) == 2 and shown[1] != "0.00 s" and float(shown[1].split()[0]) == pytest.approx(got["dur"], abs=0.01)
    )
