"""Client helpers for the web API tests (FastAPI TestClient)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fastapi.testclient import TestClient

API = "/api/v1/analyses"


def _upload(c: TestClient, path: Path, name: str | None = None, **fields: str):
    with path.open("rb") as f:
        return c.post(API, files={"file": (name or path.name, f)}, data=fields)


def _wait(c: TestClient, job_id: str, timeout: float = 120.0, **kw) -> dict:
    t0 = time.time()
    while time.time() - t0 < timeout:
        st = c.get(f"{API}/{job_id}", **kw).json()
        if st["status"] in ("done", "failed", "cancelled"):
            return st
        time.sleep(0.2)
    raise AssertionError(f"analysis {job_id} did not finish: {st}")


def _events(c: TestClient, job_id: str, **kw) -> list[tuple[str, dict]]:
    out, event = [], "message"
    with c.stream("GET", f"{API}/{job_id}/events", **kw) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                out.append((event, json.loads(line[6:])))
                if event == "end":
                    break
    return out
