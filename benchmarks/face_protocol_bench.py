"""Detectors on the identity-disjoint, cross-corpus face benchmark (people never trained on).

Usage:
    python benchmarks/face_protocol_bench.py --faces runs/faces NAME=EXPORT [NAME=EXPORT ...] [--no-append]

Each detector's threshold is calibrated for 5 % false positives on the calib people's reals (all compression
levels together, fit by `--rule`: default person-mean, every person weighs the same;
`pipelines.bench.face_protocol.protocol_report`), then the test people (from packages that gave
nothing to training) are scored at c0/c23/c40: AUC over all fakes, AUC per method, false-positive rate on the
test reals at the calibrated threshold, and the mean per-method AUC drop from c23 to c40. A NAME=EXPORT may
name a run's `checkpoints/last.pt` too (an unfinished run). Appends a table to benchmarks/RESULTS.md.

A benchmark built with `deepfake-lab bench faces --gan dcgan,progan` also gets a GAN table per detector: each
generator's test samples against the test people's reals (AUC, AP, TPR at the calibrated threshold, per
compression level; the swap/blend figures above never include them), and the train-on-X / test-on-Y AP of a
linear probe on the detector's frozen features (fit on the calib people: `face_gan.gan_cross_probe`), with
its no-GAN control (fit on real faces resampled through 32 px).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from _common import append_results

from deepfake_lab.models.catalogue import create_model
from deepfake_lab.pipelines.bench.face_gan import gan_cross_probe
from deepfake_lab.pipelines.bench.face_protocol import protocol_report
from deepfake_lab.train.checkpoint import load_exported, load_training_state


def _load(path: Path) -> tuple[torch.nn.Module, int]:
    if path.suffix == ".pt":
        st = load_training_state(path)
        m = create_model(st["model"], **st["model_kwargs"])
        m.load_state_dict(st["nets"]["model"])
        return m.eval(), int(st["model_kwargs"].get("image_size", 64))
    m, card = load_exported(path)
    return m.float().eval(), int(card["model_kwargs"].get("image_size", 64))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("detectors", nargs="+", help="NAME=EXPORT (.safetensors / run export / checkpoints/last.pt)")
    ap.add_argument("--faces", type=Path, default=Path("runs/faces"))
    ap.add_argument("--target-fpr", type=float, default=0.05)
    ap.add_argument("--rule", default="person-mean", help="pooled, person-mean or person-conformal")
    ap.add_argument("--json", type=Path, help="also write the full reports here")
    ap.add_argument("--note", action="append", default=[], help="a note line (repeatable)")
    ap.add_argument("--no-append", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    reports = {}
    lines = [
        "| detector | threshold (calib) | calib AUC c0/c23/c40 | test AUC c0/c23/c40 | test FPR c0/c23/c40 | "
        "test TPR per method c0 / c23 / c40 | per-method test AUC at c23 | c23→c40 drop | leave-one-person-out FPR "
        "mean / max (unseen people) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    gan_lines: list[str] = []
    for spec in args.detectors:
        name, _, path = spec.partition("=")
        model, size = _load(Path(path))
        rep = protocol_report(model, size, args.faces, args.target_fpr, args.rule)
        reports[name] = rep
        t, cal = rep["test"], rep["calibration"]
        comps = [c for c in ("c0", "c23", "c40") if c in t]
        per = ", ".join(f"{m} {v:.3f}" for m, v in t["c23"]["per_method_auc"].items()) if "c23" in t else ""
        cauc = "/".join(f"{rep['calib_auc'][c]:.3f}" for c in comps)
        tauc = "/".join(f"{t[c]['auc']:.3f}" for c in comps)
        tfpr = "/".join(f"{t[c]['fpr']:.3f}" for c in comps)
        drop = t.get("auc_drop_c23_c40", float("nan"))
        ttpr = " / ".join(",".join(f"{v:.2f}" for v in t[c]["tpr"].values()) for c in comps)
        loo = rep["unseen_loo"]
        lines.append(
            f"| {name} | {cal['threshold']:.4f} | {cauc} | {tauc} | {tfpr} | {ttpr} | {per} | {drop:.3f} | "
            f"{loo['mean_fpr']:.3f} / {loo['max_fpr']:.3f} |"
        )
        people = ", ".join(f"{p} {v:.2f}" for p, v in t["c23"]["person_fpr"].items()) if "c23" in t else ""
        print(f"  {name}: test FPR per person at c23: {people}", flush=True)
        print(lines[-1], flush=True)
        if "gans" in rep:
            rep["gan_probe"] = gan_cross_probe(model, size, args.faces)
            gan_lines += gan_table(name, rep, comps)
            print("\n".join(gan_lines[-len(rep["gans"]) :]), flush=True)
    info = json.loads((args.faces / "faces.json").read_text())
    n = {s: len(v) for s, v in info["people"].items()}
    lines += [
        "",
        f"- face benchmark {args.faces}: {info['n_people']} people (train {n['train']}, calib {n['calib']}, "
        f"test {n['test']}); test reals per compression: {t['c0']['n_real']}, fakes: {t['c0']['n_fake']}",
        f"- threshold: {100 * args.target_fpr:.0f} % FPR on the calib reals (c0/c23/c40 together), rule {args.rule}; "
        f"calib people: {', '.join(sorted(info['people']['calib']))}; test people: "
        f"{', '.join(sorted(info['people']['test']))}; TPR per method in the order "
        f"{', '.join(t['c0']['tpr'])}",
    ]
    if gan_lines:
        gans = info["gans"]
        g0 = next(iter(gans.values()))
        lines += [
            "",
            "GAN faces of the face benchmark (never in any detector's training data unless stated): generators trained "
            f"here on the train split's c0 real crops only ({g0['training_images']} crops of "
            f"{len(g0['training_people'])} train people: {', '.join(g0['training_people'])}), samples bicubic-upscaled "
            "to the crop size, H.264 at each level like the other methods; AUC/AP of each generator's test samples vs "
            "the test people's reals; probe = L2 logistic regression on the detector's frozen features, fit on calib "
            "reals vs generator X's calib samples (c0/c23/c40 together), AP on the test people vs generator Y; "
            "control X = resampled: the probe fit on the calib reals vs the same reals resampled through 32 px "
            "(no GAN): a high AP there means the GAN faces are found by their low resolution",
            "",
            "| detector | generator | test samples per level | AUC c0/c23/c40 | AP c0/c23/c40 | TPR at the threshold "
            "c0/c23/c40 | probe AP train-on-X → test-on-Y (c0/c23/c40) |",
            "|---|---|---|---|---|---|---|",
            *gan_lines,
            "",
            *(f"- {m}: {g['generator']} ({g['summary']}), {g['steps']} steps, trained in {g['seconds']:.0f} s; "
              f"samples calib {g['samples'].get('calib', 0)}, test {g['samples'].get('test', 0)} per level"
              for m, g in gans.items()),
        ]  # fmt: skip
    if args.note:
        lines += [f"- note: {n}" for n in args.note]
    if args.json:
        args.json.write_text(json.dumps(reports, indent=1) + "\n")
    if not args.no_append:
        append_results("Face benchmark: identity-disjoint, cross-corpus (unseen people)", lines)


def gan_table(name: str, rep: dict, comps: list[str]) -> list[str]:
    """Table rows of the GAN methods of one detector's `protocol_report` (with "gan_probe")."""
    t, probe, out = rep["test"], rep.get("gan_probe", {}), []
    for m in rep["gans"]:
        if m not in t["gan_ap"]:
            continue
        auc = "/".join(f"{t[c]['gan'][m]['auc']:.3f}" for c in comps)
        ap = "/".join(f"{t[c]['gan'][m]['ap']:.3f}" for c in comps)
        tpr = "/".join(f"{t[c]['gan'][m]['tpr']:.2f}" for c in comps)
        cross = "; ".join(
            f"{x} → {m}: " + "/".join(f"{v[m][c]:.3f}" for c in comps) for x, v in probe.get("ap", {}).items()
        )
        out.append(f"| {name} | {m} | {t[comps[0]]['gan'][m]['n']} | {auc} | {ap} | {tpr} | {cross} |")
    return out


if __name__ == "__main__":
    main()
