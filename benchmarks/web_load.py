"""Load check of the web service: N concurrent uploads on loopback (not part of CI).

Usage: python benchmarks/web_load.py VIDEO [--model EXPORT] [--uploads 20] [--workers 2] [--queue 32]
Starts `deepfake-lab serve` in a subprocess, uploads VIDEO N times at once, waits for every analysis and
reports status codes (no 5xx allowed), wall time, the server's peak resident memory (VmHWM) and its memory
after all jobs. Appends the figures to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from _common import append_results


def _mem_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("video", type=Path)
    ap.add_argument("--model", default=None)
    ap.add_argument("--uploads", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--queue", type=int, default=32)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "deepfake_lab", "serve", "--port", str(port), "--workers", str(args.workers)]
    cmd += ["--queue", str(args.queue)] + (["--model", args.model] if args.model else [])
    server = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        rss_idle = _mem_kb(server.pid, "VmRSS")
        data = args.video.read_bytes()

        def one(i: int) -> tuple[int, str | None]:
            r = httpx.post(base + "/api/v1/analyses", files={"file": (f"v{i}.mp4", data)}, timeout=120)
            return r.status_code, r.json().get("id") if r.status_code == 202 else None

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.uploads) as pool:
            posted = list(pool.map(one, range(args.uploads)))
        codes = [c for c, _ in posted]
        ids = [i for _, i in posted if i]
        statuses: dict[str, str] = {}
        while len(statuses) < len(ids):
            for i in ids:
                if i not in statuses:
                    st = httpx.get(f"{base}/api/v1/analyses/{i}", timeout=30)
                    codes.append(st.status_code)
                    if st.json().get("status") in ("done", "failed", "cancelled"):
                        statuses[i] = st.json()["status"]
            time.sleep(0.5)
        wall = time.perf_counter() - t0
        peak, rss_end = _mem_kb(server.pid, "VmHWM"), _mem_kb(server.pid, "VmRSS")
    finally:
        server.terminate()
        server.wait(timeout=30)
    n5xx = sum(1 for c in codes if c >= 500)
    done = sum(1 for s in statuses.values() if s == "done")
    rows = [
        "| uploads | accepted (202) | finished ok | 5xx responses | wall s | server RSS idle / peak / end MB |",
        "|---|---|---|---|---|---|",
        f"| {args.uploads} | {len(ids)} | {done} | {n5xx} | {wall:.1f} | "
        f"{rss_idle / 1024:.0f} / {peak / 1024:.0f} / {rss_end / 1024:.0f} |",
        "",
        f"Video {args.video.name} ({len(data) / 1e6:.1f} MB) uploaded {args.uploads}× at once to `deepfake-lab serve "
        f"--workers {args.workers} --queue {args.queue}` on loopback; status codes seen: {sorted(set(codes))}.",
    ]
    print("\n".join(rows))
    append_results(f"Web service load: {args.uploads} concurrent uploads (issue 8)", rows)
    if n5xx or done != len(ids):
        sys.exit(1)


if __name__ == "__main__":
    main()
