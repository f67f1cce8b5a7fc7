"""`deepfake-lab serve` as a real process on 127.0.0.1: what clients really do to it.

A stalled upload gets 408 after --upload-timeout and its slot is freed; a client that disconnects mid-upload
leaves no traceback in the log; SIGTERM with a stalled upload, an open event stream and analyses running or
queued exits within 5 s and removes the temporary jobs folder; a second signal exits at once.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
from support.media import face_frames, write_video  # noqa: E402

HOST = "127.0.0.1"  # loopback only
BOUNDARY = "b0undary17"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    """A `deepfake-lab serve` subprocess with its own TMPDIR (where its temporary jobs folder goes)."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.port = _free_port()
        self.tmp = tmp / "tmp"
        self.tmp.mkdir(parents=True)
        self.log = tmp / "server.log"
        env = {**os.environ, "TMPDIR": str(self.tmp), "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "deepfake_lab", "serve", "--host", HOST, "--port", str(self.port), *args]
        self._log = self.log.open("w")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited early: {self.log.read_text()}")
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"serve did not start: {self.log.read_text()}")

    def get(self, path: str) -> tuple[int, dict]:
        c = http.client.HTTPConnection(HOST, self.port, timeout=10)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, json.loads(r.read() or b"{}")
        finally:
            c.close()

    def upload(self, path: Path) -> tuple[int, dict]:
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        body = head + path.read_bytes() + f"\r\n--{BOUNDARY}--\r\n".encode()
        c = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            c.request("POST", "/api/v1/analyses", body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
            r = c.getresponse()
            return r.status, json.loads(r.read() or b"{}")
        finally:
            c.close()

    def stalled_upload(self, declared: int = 4_000_000, sent: int = 1_000_000) -> socket.socket:
        """An upload that declares `declared` bytes, sends `sent` and then stalls (the socket stays open)."""
        s = socket.create_connection((HOST, self.port), timeout=30)
        s.sendall(
            (
                f"POST /api/v1/analyses HTTP/1.1\r\nHost: {HOST}\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {declared}\r\n\r\n"
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n'
            ).encode()
            + b"\0" * sent
        )
        return s

    def events(self, job_id: str) -> socket.socket:
        s = socket.create_connection((HOST, self.port), timeout=30)
        s.sendall(f"GET /api/v1/analyses/{job_id}/events HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        first, deadline = "", time.time() + 10
        while "event: status" not in first and time.time() < deadline:
            first += s.recv(65536).decode()
        assert first.startswith("HTTP/1.1 200") and "event: status" in first, first
        assert "event: end" not in first, first
        return s

    def jobs_dirs(self) -> list[Path]:
        return [p for p in self.tmp.iterdir() if p.name.startswith("deepfake-lab-serve-")]

    def job_folders(self) -> list[Path]:
        return [j for d in self.jobs_dirs() for j in d.iterdir()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def _read_all(s: socket.socket, timeout: float) -> str:
    """Everything the server sends until it closes the connection (or `timeout`)."""
    s.settimeout(timeout)
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return out.decode(errors="replace")


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    """A few seconds of video with a face: long enough that its analysis is still running when we look."""
    return write_video(tmp_path / "clip.mp4", face_frames(120, size=(320, 240)), fps=24, audio=False)


def test_stalled_upload_408_and_disconnect_without_traceback_then_double_signal(tmp_path: Path) -> None:
    srv = Server(tmp_path, "--upload-timeout", "1.5")
    try:
        assert len(srv.jobs_dirs()) == 1
        t0 = time.time()
        stalled = srv.stalled_upload()
        reply = _read_all(stalled, timeout=15)
        waited = time.time() - t0
        assert reply.startswith("HTTP/1.1 408"), reply[:200]
        assert "timed out" in reply and 1.0 < waited < 10, (reply[-200:], waited)
        assert srv.job_folders() == []  # the slot (its job folder) is freed

        gone = srv.stalled_upload(sent=200_000)
        time.sleep(0.3)
        gone.close()  # the client leaves mid-upload
        time.sleep(1.0)
        assert srv.get("/healthz")[0] == 200 and srv.job_folders() == []

        hold = srv.stalled_upload(sent=1000)  # keeps the graceful shutdown busy for a moment
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        t0 = time.time()
        srv.proc.send_signal(signal.SIGTERM)  # the second signal: exit at once
        srv.proc.wait(timeout=10)
        assert time.time() - t0 < 2.0
        hold.close()
        log = srv.log.read_text()
        assert srv.proc.returncode == 143, log
        assert "second signal: exiting now" in log
        assert "Traceback" not in log and "Exception in ASGI application" not in log, log
        assert srv.jobs_dirs() == []  # the temporary jobs folder is gone
    finally:
        srv.stop()


def test_sigterm_under_load_exits_within_5s_and_cleans_up(tmp_path: Path, clip: Path) -> None:
    srv = Server(tmp_path, "--upload-timeout", "120", "--workers", "1")
    try:
        code, running = srv.upload(clip)
        assert code == 202, running
        code, queued = srv.upload(clip)  # waits behind the first (one worker)
        assert code == 202, queued
        stream = srv.events(queued["id"])  # an open event stream of an analysis that has not ended
        stalled = srv.stalled_upload()  # an upload in flight that will never finish on its own
        time.sleep(0.5)
        assert srv.job_folders(), "the analyses should have folders"
        t0 = time.time()
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(timeout=30)
        took = time.time() - t0
        log = srv.log.read_text()
        assert took <= 5.0, (took, log)
        assert srv.proc.returncode == 143, log
        events = _read_all(stream, timeout=2)
        assert "event: end" in events and "shutting down" in events, events[-300:]
        reply = _read_all(stalled, timeout=2)
        assert reply.startswith("HTTP/1.1 503") and "shutting down" in reply, reply[:300]
        assert srv.jobs_dirs() == []  # uploads, results and the temporary folder removed
        assert "Traceback" not in log and "Exception in ASGI application" not in log, log
    finally:
        srv.stop()
