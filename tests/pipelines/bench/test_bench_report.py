"""`bench eval`'s HTML page: the template lays out every table, and names from the benchmark are escaped."""

from __future__ import annotations

from deepfake_lab.pipelines.bench.report import render_report, summary

HOSTILE = "<script>alert(1)</script>"


def _report(det: str, method: str) -> dict:
    evo = {"auc_new": 0.9, "auc_old": 0.8, "forgetting": 0.05}
    return {
        "bench": f"/tmp/{HOSTILE}", "methods": [method, "up2"], "compressions": ["c23", "c40"],
        "options": {"train_compression": "c23"}, "seconds": 12.3,
        "load_average_start": [0.5], "load_average_end": [1.5],
        "detectors": {det: {
            "in_domain": {k: 0.75 for k in ("auc", "ap", "eer", "accuracy", "log_loss", "video_auc_mean",
                                             "video_auc_max", "video_auc_confident")},
            "auc_by_compression": {"c23": 0.75, "c40": float("nan")},
            "train_x_test_y": {method: {method: 0.9, "up2": 0.6}, "up2": {method: 0.55, "up2": 0.95}},
            "leave_one_out": {method: 0.6, "up2": 0.7}, "leave_one_out_mean_auc": 0.65,
            "cross_method_mean_auc": 0.575,
            "evolution": {"new_method": method, "finetune_steps": 10, "replay_per_method": 8,
                          "before": {"auc_new": 0.6, "auc_old": 0.85}, "naive": evo, "replay": evo},
        }},
        "gan_track": {"meso4": {"ap_train_x_test_y": {"dcgan-32": {HOSTILE: 0.5}}}},
    }  # fmt: skip


def test_report_page_escapes_names_from_the_benchmark():
    rep = _report(f"det{HOSTILE}", f"m{HOSTILE}")
    page = render_report(rep, {f"roc{HOSTILE}": "roc.png"})
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for text in ("leave-one-method-out", "train on X", "evolution: adding m&lt;script&gt;", "GAN-image track",
                 "<td>0.750</td>", "<td>nan</td>", "load average 0.5 →", '<img src="roc.png"'):  # fmt: skip
        assert text in page, text
    s = summary(rep)[f"det{HOSTILE}"]
    assert s["in_domain_auc"] == 0.75 and s["leave_one_out_mean_auc"] == 0.65
    assert s["evolution_replay_forgetting"] == 0.05


def test_report_page_without_optional_sections():
    rep = _report("meso4-bench", "up2")
    det = rep["detectors"]["meso4-bench"]
    for k in ("train_x_test_y", "leave_one_out", "evolution"):
        det.pop(k)
    rep.pop("gan_track")
    page = render_report(rep, {})
    assert "In-domain" in page and "leave-one-method-out" not in page and "GAN-image track" not in page
