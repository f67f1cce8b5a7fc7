"""The demo's detector verdicts when its swap uses other paste-back options: does the shipped detector still
catch a sharper swap?

Runs `deepfake_lab.pipelines.demo.run_demo` once per variant (same held-out clip, same shipped swap model and
detector) and prints the original's and the swapped clip's score and verdict.

Usage:
    python benchmarks/swap_demo_variants.py off: sharpen:sharpen=1 detail:detail=1 [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import append_results  # noqa: E402
from swap_quality import parse_variants  # noqa: E402

from deepfake_lab.pipelines.demo import run_demo  # noqa: E402
from deepfake_lab.pipelines.swap_video import SwapOptions  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="+", metavar="NAME:KEY=VALUE,...", help="as swap_quality.py --variant")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/demo-variants"))
    ap.add_argument("--no-append", action="store_true", help="do not append to RESULTS.md")
    args = ap.parse_args()
    rows = ["| variant | options | original score | verdict | swapped score | verdict |", "|---|---|---|---|---|---|"]
    for name, kw in (parse_variants(args.variants) or {}).items():
        res = run_demo(args.out / name, swap_options=SwapOptions(to="a", **kw))
        o, s = res.original, res.swapped
        line = f"| {name} | {kw} | {o.score:.4f} | {o.verdict} | {s.score:.4f} | {s.verdict} |"
        print(line, flush=True)
        rows.append(line)
    if not args.no_append:
        append_results("Demo verdicts under paste-back variants", rows)


if __name__ == "__main__":
    main()
