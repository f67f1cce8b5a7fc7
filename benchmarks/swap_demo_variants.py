"""The demo's detector verdicts when its swap uses other paste-back options: does the shipped detector still
catch a sharper swap?

Runs `deepfake_lab.pipelines.demo.run_demo` once per variant (same held-out clip, same shipped swap model and
detector) and prints the original's and the swapped clip's score and verdict.

Usage:
    python benchmarks/swap_demo_variants.py off: sharpen:sharpen=1 detail:detail=1 [--out DIR] [--figure F.jpg]

`--figure` also writes one strip of the same face (the clip's 7th frame): the original, then each variant's swap.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import append_results  # noqa: E402
from swap_quality import parse_variants  # noqa: E402

from deepfake_lab.faces import create_detector  # noqa: E402
from deepfake_lab.pipelines.demo import run_demo  # noqa: E402
from deepfake_lab.pipelines.swap_video import SwapOptions  # noqa: E402
from deepfake_lab.video import open_media  # noqa: E402


def _frame(path: Path, index: int) -> np.ndarray:
    with open_media(path) as r:
        for f in r:
            if f.index == index:
                return f.image
    raise ValueError(f"{path} has no frame {index}")


def write_strip(clips: list[tuple[str, Path]], out: Path, index: int = 6, side: int = 300) -> None:
    """One labelled tile per clip: the face of frame `index` (box from the first clip's face), side x side px."""
    first = _frame(clips[0][1], index)
    with create_detector("mediapipe") as det:
        x0, y0, x1, y1 = det(first)[0].bbox
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.62 * max(x1 - x0, y1 - y0)
    top, left = max(int(cy - half), 0), max(int(cx - half), 0)
    tiles = []
    for label, path in clips:
        t = _frame(path, index)[top : int(cy + half), left : int(cx + half)]
        t = cv2.resize(t, (side, side), interpolation=cv2.INTER_AREA)
        bar = np.full((28, side, 3), 255, np.uint8)
        cv2.putText(bar, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(np.vstack([bar, t]))
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(np.hstack(tiles), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="+", metavar="NAME:KEY=VALUE,...", help="as swap_quality.py --variant")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/demo-variants"))
    ap.add_argument("--no-append", action="store_true", help="do not append to RESULTS.md")
    ap.add_argument("--figure", type=Path, help="also write a strip of the same face under each variant here")
    args = ap.parse_args()
    clips: list[tuple[str, Path]] = []
    rows = ["| variant | options | original score | verdict | swapped score | verdict |", "|---|---|---|---|---|---|"]
    for name, kw in (parse_variants(args.variants) or {}).items():
        res = run_demo(args.out / name, swap_options=SwapOptions(to="a", **kw))
        if not clips:
            clips.append(("original", args.out / name / "original.mp4"))
        clips.append((" ".join(f"--{k.replace('_', '-')} {v:g}" for k, v in kw.items()) or "defaults",
                      args.out / name / "swapped.mp4"))  # fmt: skip
        o, s = res.original, res.swapped
        line = f"| {name} | {kw} | {o.score:.4f} | {o.verdict} | {s.score:.4f} | {s.verdict} |"
        print(line, flush=True)
        rows.append(line)
    if args.figure:
        write_strip(clips, args.figure)
        rows.append(f"\nfigure: `{args.figure}` (frame 7 of the clip: the original, then each variant)")
    if not args.no_append:
        append_results("Demo verdicts under paste-back variants", rows)


if __name__ == "__main__":
    main()
