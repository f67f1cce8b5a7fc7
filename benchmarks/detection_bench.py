"""Detection benchmark figures: run `bench eval` (or read its report) and record the headline numbers.

Prints and appends to benchmarks/RESULTS.md: in-domain AUC (frame and video level), leave-one-method-out mean
AUC, train-on-X/test-on-Y off-diagonal mean AUC, the c23 -> c40 AUC drop, evolution (AUC on the new method and
forgetting on the old ones, naive fine-tuning vs replay), the GAN-track cross-generator AP, wall time and
the load average (the machine is shared; speed figures mean little without it).

Usage:
    python benchmarks/detection_bench.py --bench runs/bench --out runs/bench-eval [--steps 400]
    python benchmarks/detection_bench.py --report runs/bench-eval/report.json   # only record an existing run
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from _common import append_results


def _f(v: object) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def figures(report: dict) -> list[str]:
    """Markdown lines with the headline figures of a `bench eval` report."""
    opt = report["options"]
    lines = [
        f"- bench: `{report['bench']}`; methods: {', '.join(report['methods'])}; compressions: "
        f"{', '.join(report['compressions'])}",
        f"- protocol: train split at {opt['train_compression']}, {opt['steps']} steps (CNN), "
        f"batch {opt['batch_size']}, {opt['image_size']} px; test split = held-out end of every video",
        f"- eval wall time {report['seconds']:.0f} s; load average (1 min) {report['load_average_start'][0]:.2f} "
        f"at start, {report['load_average_end'][0]:.2f} at end (2 vCPUs shared with other jobs)",
    ]
    for det, s in report["summary"].items():
        parts = [f"in-domain AUC {_f(s['in_domain_auc'])} (video-level mean {_f(s['video_auc_mean'])})"]
        if "c23_to_c40_auc_drop" in s:
            parts.append(f"c23→c40 AUC drop {_f(s['c23_to_c40_auc_drop'])}")
        if "leave_one_out_mean_auc" in s:
            parts.append(f"leave-one-out mean AUC {_f(s['leave_one_out_mean_auc'])}")
            parts.append(f"train-X/test-Y off-diagonal mean AUC {_f(s['cross_method_mean_auc'])}")
        if "evolution_naive_auc_new" in s:
            e = report["detectors"][det]["evolution"]
            parts.append(
                f"evolution (+{e['new_method']}): before AUC new {_f(e['before']['auc_new'])}; naive AUC new "
                f"{_f(s['evolution_naive_auc_new'])}, forgetting {_f(s['evolution_naive_forgetting'])}; replay AUC new "
                f"{_f(s['evolution_replay_auc_new'])}, forgetting {_f(s['evolution_replay_forgetting'])}"
            )
        lines.append(f"- **{det}**: " + "; ".join(parts))
        bc = report["detectors"][det]["auc_by_compression"]
        lines.append(f"  - AUC by compression: {', '.join(f'{k} {_f(v)}' for k, v in bc.items())}")
    if "gan_track" in report:
        g = report["gan_track"]
        for det in ("spectrum-lr", "meso4"):
            if det in g:
                ap = g[det]["ap_train_x_test_y"]
                cells = [f"{a}→{b} {_f(v)}" for a, row in ap.items() for b, v in row.items()]
                lines.append(f"- GAN-image track (MNIST vs GAN samples), {det} AP train→test: {', '.join(cells)}")
    return lines


def card_figures(card: dict) -> list[str]:
    """Markdown lines with the figures of a shipped detector's model card (scripts/ship_detector.py)."""
    m, t = card["metrics"], card["training"]
    c23 = m["test_c23"]
    lines = [
        f"- model: {card['model']} {card['model_kwargs']}, crop {card['crop']['size']} px margin "
        f"{card['crop']['margin']}; trained {t['steps']} steps in {t['seconds']:.0f} s (`{t['command']}`)",
        f"- test split c23: AUC {c23['auc']:.3f}, AP {c23['ap']:.3f}, EER {c23['eer']:.3f}, "
        f"acc@0.5 {c23['accuracy']:.3f}, log-loss {c23['log_loss']:.3f}; video-level AUC mean/max/confident "
        f"{c23['video_auc_mean']:.3f}/"
        f"{c23['video_auc_max']:.3f}/{c23['video_auc_confident']:.3f} ({int(c23['videos'])} videos)",
        "- test AUC per method (c23): " + ", ".join(f"{k} {v:.3f}" for k, v in m["test_c23_auc_per_method"].items()),
        "- test AUC by compression: " + ", ".join(f"{k} {v:.3f}" for k, v in m["test_auc_by_compression"].items()),
    ]
    if "demo" in m:
        d = m["demo"]
        lines.append(
            f"- demo ({d['clip']}): original clip score {d['original_score']}, swapped clip score {d['swapped_score']}"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=Path, default=Path("runs/bench"))
    ap.add_argument("--out", type=Path, default=Path("runs/bench-eval"))
    ap.add_argument("--report", type=Path, help="only record this existing report.json")
    ap.add_argument("--card", type=Path, help="record the figures of a shipped detector card instead")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-record", action="store_true", help="print only, do not append to RESULTS.md")
    ap.add_argument("--note", action="append", default=[], help="extra line for RESULTS.md (repeatable)")
    args = ap.parse_args()
    if args.card:
        lines = card_figures(json.loads(args.card.read_text()))
        lines.append(f"- load average when recorded: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
        lines += [f"- {n}" for n in args.note]
        print("\n".join(lines))
        if not args.no_record:
            append_results("Shipped default detector (assets/detector-default)", lines)
        return
    if args.report:
        report = json.loads(args.report.read_text())
    else:
        from deepfake_lab.pipelines.bench.evaluate import EvalOptions, evaluate_bench

        report = evaluate_bench(args.bench, args.out, EvalOptions(steps=args.steps, threads=args.threads))
    lines = figures(report)
    lines.append(f"- load average when recorded: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    lines += [f"- {n}" for n in args.note]
    print("\n".join(lines))
    if not args.no_record:
        append_results("Detection benchmark (bench eval)", lines)


if __name__ == "__main__":
    main()
