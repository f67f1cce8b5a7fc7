"""`deepfake-lab detect` on the real videos of people a detector was never trained on (issue 18 target:
real talking-head videos of unseen people come out `authentic` or `uncertain`, not `manipulated`).

Usage:
    python benchmarks/unseen_videos.py [--model NAME_OR_EXPORT] [--no-append]

The videos come from the fetched data items (`data.realfaces.PEOPLE`); each is scanned as a user would, with the
CLI in a subprocess, and its file verdict, score and per-frame figures are tabulated with the person's role in
the face protocol (calib people set the threshold; test people were used for nothing but testing). The train
people's videos are listed too, marked as such: they are not evidence of anything about unseen people.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import append_results

from deepfake_lab.data.fetch.cache import item_dir
from deepfake_lab.data.realfaces import PEOPLE, VIDEOS, split_of
from deepfake_lab.metrics.calibration import verdict_for


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default", help="detector: default, fast or an export")
    ap.add_argument("--no-append", action="store_true")
    args = ap.parse_args()
    lines = [
        "| video | person | role | verdict | file score | frames with a face | scored `manipulated` / `uncertain` |",
        "|---|---|---|---|---|---|---|",
    ]
    exe = Path(sys.executable).with_name("deepfake-lab")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scan.json"
        for item, files in PEOPLE.items():
            for name, people in files.items():
                path = item_dir(item) / name
                if not name.lower().endswith(VIDEOS) or not path.exists():
                    continue
                who = ", ".join(p for p in people if p)
                role = ", ".join(sorted({split_of(p) for p in people if p}))
                cmd = [str(exe), "detect", str(path), "--model", args.model, "--json", str(out), "--overwrite", "-q"]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode not in (0, 1):
                    lines.append(f"| {item}/{name} | {who} | {role} | error: {proc.stderr.strip()[-120:]} | | | |")
                    continue
                scan = json.loads(out.read_text())
                f, bands = scan["files"][0], scan["verdicts"]
                verdicts = [verdict_for(fr["prob"], bands) for fr in f.get("frames", []) if fr.get("prob") is not None]
                n_man, n_unc = verdicts.count("manipulated"), verdicts.count("uncertain")
                score = f"{f['score']:.4f}" if f.get("score") is not None else "–"
                lines.append(
                    f"| {item}/{name} | {who} | {role}{' (trained on)' if role == 'train' else ''} | "
                    f"**{f['verdict']}** | {score} | {f.get('frames_with_faces', '–')} / {f['frames_scanned']} | "
                    f"{n_man} / {n_unc} |"
                )
                print(lines[-1], flush=True)
    lines += [
        "",
        f"- detector: `--model {args.model}`; verdict bands and threshold from its card; role = the person's split in "
        "the face protocol (`data.realfaces.split_of`)",
    ]
    if not args.no_append:
        append_results("Real videos of unseen people: detect verdicts (issue 18)", lines)


if __name__ == "__main__":
    main()
