"""`bench eval`'s outputs people read: the summary, the plots (PNG) and `report.html`.

The page renders `templates/bench_report.html.j2` (autoescaped): every detector, method and path name in it is
escaped; the figures are linked PNG files beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_lab.html import render

__all__ = ["render_report", "summary", "write_plots"]

IN_DOMAIN_KEYS = ("auc", "ap", "eer", "accuracy", "log_loss", "video_auc_mean", "video_auc_max", "video_auc_confident")


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """Per detector, the headline figures: in-domain AUC, c23→c40 drop, matrix means, evolution."""
    s: dict[str, Any] = {}
    for det, r in report["detectors"].items():
        d = {"in_domain_auc": r["in_domain"]["auc"], "video_auc_mean": r["in_domain"]["video_auc_mean"]}
        bc = r["auc_by_compression"]
        if "c23" in bc and "c40" in bc:
            d["c23_to_c40_auc_drop"] = bc["c23"] - bc["c40"]
        if "leave_one_out_mean_auc" in r:
            d["leave_one_out_mean_auc"] = r["leave_one_out_mean_auc"]
            d["cross_method_mean_auc"] = r["cross_method_mean_auc"]
        if "evolution" in r:
            e = r["evolution"]
            for mode in ("naive", "replay"):
                d[f"evolution_{mode}_auc_new"] = e[mode]["auc_new"]
                d[f"evolution_{mode}_forgetting"] = e[mode]["forgetting"]
        s[det] = d
    return s


def write_plots(report: dict[str, Any], out: Path, figures: dict[str, str]) -> None:
    """roc.png, quality.png and per-detector methods-/evolution- figures into `out`; names added to `figures`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dets = report["detectors"]
    fig, ax = plt.subplots(figsize=(4.5, 4))
    for det, r in dets.items():
        ax.plot(r["roc"]["fpr"], r["roc"]["tpr"], label=f"{det} (AUC {r['in_domain']['auc']:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="in-domain ROC (test split)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=110)
    plt.close(fig)
    figures["roc"] = "roc.png"
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
    for det, r in dets.items():
        bc = r["auc_by_compression"]
        crf = sorted((int(k[1:]), v) for k, v in bc.items() if k.startswith("c") and k[1:].isdigit())
        jq = sorted((int(k[4:]), v) for k, v in bc.items() if k.startswith("jpeg"))
        if crf:
            axes[0].plot([c for c, _ in crf], [v for _, v in crf], "o-", label=det)
        if jq:
            axes[1].plot([q for q, _ in jq], [v for _, v in jq], "o-", label=det)
    axes[0].set(
        xlabel="H.264 CRF", ylabel="AUC", title=f"AUC vs CRF (trained on {report['options']['train_compression']})"
    )
    axes[1].set(xlabel="JPEG quality", ylabel="AUC", title="AUC vs JPEG quality")
    axes[1].invert_xaxis()
    for a in axes:
        a.legend(fontsize=7)
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "quality.png", dpi=110)
    plt.close(fig)
    figures["quality"] = "quality.png"
    for det, r in dets.items():
        if "train_x_test_y" not in r:
            continue
        ms = list(r["train_x_test_y"])
        mat = np.array([[r["train_x_test_y"][a][b] for b in ms] for a in ms])
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
        im = axes[0].imshow(mat, vmin=0.5, vmax=1.0, cmap="viridis")
        axes[0].set_xticks(range(len(ms)), ms, rotation=30, ha="right", fontsize=7)
        axes[0].set_yticks(range(len(ms)), ms, fontsize=7)
        for i in range(len(ms)):
            for j in range(len(ms)):
                axes[0].text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7, color="w")
        axes[0].set(xlabel="test on", ylabel="train on", title=f"{det}: train-on-X / test-on-Y AUC")
        fig.colorbar(im, ax=axes[0], fraction=0.046)
        loo = r["leave_one_out"]
        axes[1].bar(range(len(loo)), list(loo.values()))
        axes[1].set_xticks(range(len(loo)), list(loo), rotation=30, ha="right", fontsize=7)
        axes[1].set(ylim=(0, 1), ylabel="AUC on the left-out method", title="leave-one-method-out")
        axes[1].axhline(0.5, color="k", ls=":", lw=0.8)
        fig.tight_layout()
        name = f"methods-{det.replace('/', '-')}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        figures[f"methods-{det}"] = name
        if "evolution" in r:
            e = r["evolution"]
            fig, ax = plt.subplots(figsize=(5, 3.4))
            labels = ["before", "naive", "replay"]
            new = [e["before"]["auc_new"], e["naive"]["auc_new"], e["replay"]["auc_new"]]
            old = [e["before"]["auc_old"], e["naive"]["auc_old"], e["replay"]["auc_old"]]
            xs = np.arange(3)
            ax.bar(xs - 0.2, new, 0.4, label=f"new ({e['new_method']})")
            ax.bar(xs + 0.2, old, 0.4, label="old methods")
            ax.set_xticks(xs, labels)
            ax.set(ylim=(0, 1), ylabel="AUC", title=f"{det}: adding a method")
            ax.legend(fontsize=7)
            fig.tight_layout()
            name = f"evolution-{det.replace('/', '-')}.png"
            fig.savefig(out / name, dpi=110)
            plt.close(fig)
            figures[f"evolution-{det}"] = name


Table = tuple[Sequence[Any], Sequence[Sequence[Any]]]  # (header cells, rows of cells)


def render_report(report: dict[str, Any], figures: dict[str, str]) -> str:
    """The self-contained `report.html` of a `bench eval` report (tables + the figures linked by file name)."""
    dets = report["detectors"]
    comps = report["compressions"]
    in_domain: Table = (["detector", *IN_DOMAIN_KEYS], [[d, *[r["in_domain"][k] for k in IN_DOMAIN_KEYS]]
                                                        for d, r in dets.items()])  # fmt: skip
    quality: Table = (
        ["detector", *comps],
        [[d, *[r["auc_by_compression"].get(c, float("nan")) for c in comps]] for d, r in dets.items()],
    )
    sections = []
    for d, r in dets.items():
        sec: dict[str, Any] = {"name": d, "matrix": None, "leave_one_out": None, "evolution": None}
        if "train_x_test_y" in r:
            m = r["train_x_test_y"]
            sec["matrix"] = (["train \\ test", *m], [[a, *[m[a][b] for b in m]] for a in m])
            loo = r["leave_one_out"]
            sec["leave_one_out"] = ([*loo, "mean"], [[*loo.values(), r["leave_one_out_mean_auc"]]])
        if "evolution" in r:
            e = r["evolution"]
            nv, rp = e["naive"], e["replay"]
            body = [
                ["before (never saw it)", e["before"]["auc_new"], e["before"]["auc_old"], ""],
                ["naive fine-tuning", nv["auc_new"], nv["auc_old"], nv["forgetting"]],
                [f"replay buffer ({e['replay_per_method']}/method)", rp["auc_new"], rp["auc_old"], rp["forgetting"]],
            ]
            sec["evolution"] = {"new_method": e["new_method"], "finetune_steps": e["finetune_steps"],
                                "table": (["", "AUC new", "AUC old", "forgetting"], body)}  # fmt: skip
        sections.append(sec)
    gan_track = []
    if "gan_track" in report:
        for det, res in report["gan_track"].items():  # per detector: {"ap_train_x_test_y": ...}
            if isinstance(res, dict) and "ap_train_x_test_y" in res:
                m = res["ap_train_x_test_y"]
                cols = list(next(iter(m.values())))
                gan_track.append((det, (["train \\ test", *cols], [[a, *[m[a][b] for b in cols]] for a in m])))
    return render(
        "bench_report.html.j2",
        title="deepfake-lab bench eval",
        report=report,
        in_domain=in_domain,
        quality=quality,
        sections=sections,
        gan_track=gan_track if "gan_track" in report else None,
        figures=figures,
    )
