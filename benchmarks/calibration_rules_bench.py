"""How a detector's threshold holds on people it was not fit on: per-person real scores and calibration rules.

Usage:
    python benchmarks/calibration_rules_bench.py --faces runs/faces [--model EXPORT] [--flip] [--old-threshold T]
        [--no-append]

Scores every calib and test crop of the face benchmark (`deepfake-lab bench faces`) once (with --flip also the
horizontally flipped crop, and reports both plain and flip-averaged scores), then prints:

* per person (calib + test, all compression levels): number of real crops, median and 95th percentile score,
  share at or above the card's threshold (and `--old-threshold`);
* per rule (`metrics.calibration.RULES`, fit on the calib people): threshold, test FPR per level, the worst
  test person's FPR, TPR per method and level, and leave-one-person-out over all unseen people (mean / max /
  people above the target rate).

Appends the tables to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from _common import append_results

from deepfake_lab.metrics.calibration import RULES, calibrate, leave_one_out
from deepfake_lab.metrics.detection import roc_auc
from deepfake_lab.pipelines.bench.face_protocol import is_gan_method
from deepfake_lab.pipelines.bench.manifest import read_manifest
from deepfake_lab.pipelines.bench.runner import load_images
from deepfake_lab.train.checkpoint import load_exported

ROOT = Path(__file__).resolve().parents[1]
COMPS = ("c0", "c23", "c40")


def score_rows(model: torch.nn.Module, root: Path, rows: list, size: int, flip: bool) -> tuple[np.ndarray, ...]:
    """(plain, flip-averaged or None) probabilities of FAKE of the manifest rows, in batches of 256."""
    plain, avg = [], []
    with torch.inference_mode():
        for i in range(0, len(rows), 256):
            x = load_images(root, rows[i : i + 256], size).float().div(255)
            p = model(x)["probs"].float()
            plain.append(p.numpy())
            if flip:
                avg.append(((p + model(x.flip(-1))["probs"].float()) / 2).numpy())
    return np.concatenate(plain).astype(np.float64), (np.concatenate(avg).astype(np.float64) if flip else None)


def rule_lines(rows: list, s: np.ndarray, target: float) -> list[str]:
    """The rule comparison table for scores `s` of `rows`."""
    calib = [i for i, r in enumerate(rows) if r.split == "calib" and r.label == 0]
    unseen: dict[str, list[float]] = {}
    for i, r in enumerate(rows):
        if r.label == 0:
            unseen.setdefault(r.identity, []).append(float(s[i]))
    groups = {k: np.asarray(v) for k, v in sorted(unseen.items())}
    out = [
        "| rule | threshold | authentic below | test AUC c0/c23/c40 | test FPR c0/c23/c40 | worst test person FPR "
        "c0/c23/c40 | TPR c0 / c23 / c40 (per method) | leave-one-person-out FPR mean / max / people > target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rule in RULES:
        cal = calibrate(s[calib], target_fpr=target, identities=[rows[i].identity for i in calib], rule=rule)
        t = cal["threshold"]
        auc, fpr, worst, tpr = [], [], [], []
        for c in COMPS:
            idx = [i for i, r in enumerate(rows) if r.split == "test" and r.compression == c]
            if not idx:
                continue
            y = np.array([rows[i].label for i in idx])
            sc = s[idx]
            auc.append(f"{roc_auc(y, sc):.3f}")
            fpr.append(f"{(sc[y == 0] >= t).mean():.3f}")
            people = sorted({rows[i].identity for i in idx if rows[i].label == 0})
            worst.append(max(float((s[[i for i in idx if rows[i].label == 0 and rows[i].identity == p]] >= t).mean())
                             for p in people))  # fmt: skip
            methods = sorted({rows[i].method for i in idx if rows[i].label == 1})
            tpr.append(",".join(f"{(s[[i for i in idx if rows[i].method == m]] >= t).mean():.2f}" for m in methods))
        loo = leave_one_out(groups, target, rule)
        vals = list(loo.values())
        out.append(
            f"| {rule} | {t:.5f} | {cal['authentic_below']:.5f} | {'/'.join(auc)} | {'/'.join(fpr)} | "
            f"{'/'.join(f'{w:.2f}' for w in worst)} | {' / '.join(tpr)} | "
            f"{np.mean(vals):.3f} / {max(vals):.3f} / {sum(v > target for v in vals)} of {len(vals)} |"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=Path, default=ROOT / "runs" / "faces")
    ap.add_argument("--model", type=Path, default=ROOT / "src/deepfake_lab/assets/detector-default.safetensors")
    ap.add_argument("--target-fpr", type=float, default=0.05)
    ap.add_argument("--old-threshold", type=float, help="also report the share of reals above this threshold")
    ap.add_argument("--flip", action="store_true", help="also evaluate horizontal-flip averaging")
    ap.add_argument("--no-append", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not (args.faces / "faces.json").is_file():
        raise SystemExit(f"error: {args.faces} is not a face benchmark (make one with `deepfake-lab bench faces`)")
    model, card = load_exported(args.model)
    model = model.float().eval()
    size = int(card["model_kwargs"]["image_size"])
    card_t = float((card.get("calibration") or {}).get("threshold", 0.5))
    # GAN-sample methods (`bench faces --gan`) are scored apart, by face_protocol_bench.py; not part of these rules
    rows = [r for r in read_manifest(args.faces) if r.split in ("calib", "test") and not is_gan_method(r.method)]
    plain, avg = score_rows(model, args.faces, rows, size, args.flip)

    head = "| person | split | real crops | median | 95th pct | share ≥ card threshold"
    head += f" ({card_t:.4f})" + (f" | share ≥ {args.old_threshold:.4f}" if args.old_threshold else "") + " |"
    lines = [f"Per person (real crops of c0/c23/c40 together, {args.model.name}):", "", head,
             "|" + "---|" * (head.count("|") - 1)]  # fmt: skip
    people: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(rows):
        if r.label == 0:
            people.setdefault((r.identity, r.split), []).append(i)
    for (p, sp), idx in sorted(people.items(), key=lambda kv: float(np.median(plain[kv[1]]))):
        v = plain[idx]
        old = f" | {(v >= args.old_threshold).mean():.2f}" if args.old_threshold else ""
        lines.append(f"| {p} | {sp} | {len(v)} | {np.median(v):.3f} | {np.quantile(v, 0.95):.4f} | "
                     f"{(v >= card_t).mean():.2f}{old} |")  # fmt: skip
    lines += ["", "Rules fit on the calib people's reals (plain scores):", ""]
    lines += rule_lines(rows, plain, args.target_fpr)
    if avg is not None:
        lines += ["", "Same with horizontal-flip averaging (test-time augmentation):", "",
                  *rule_lines(rows, avg, args.target_fpr)]  # fmt: skip
    info = json.loads((args.faces / "faces.json").read_text())
    lines += [
        "",
        f"- face benchmark {args.faces.name}: calib people {', '.join(sorted(info['people']['calib']))}; test "
        f"people {', '.join(sorted(info['people']['test']))}; target FPR {args.target_fpr}; TPR methods in order "
        "graphics-swap, self-blend, xray-blend; leave-one-person-out over all calib + test people",
    ]
    print("\n".join(lines), flush=True)
    if not args.no_append:
        append_results("Calibration rules on unseen people (per-person scores, leave-one-person-out)", lines)


if __name__ == "__main__":
    main()
