"""The HTML report's parts: time ticks, Grad-CAM on one fixed scale, the model card summary, crop wording."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from deepfake_lab.models.catalogue import create_model
from deepfake_lab.pipelines import scan as scan_mod
from deepfake_lab.pipelines.report import (
    VERDICT_COLOURS,
    card_summary_html,
    crop_text,
    gradcam_overlays,
    nice_ticks,
    render_report,
    timeline_svg,
)
from deepfake_lab.pipelines.scan import FileScan, FrameScore, ScanOptions

ASSETS = Path(__file__).resolve().parents[2] / "src" / "deepfake_lab" / "assets"


def _clip(n: int, fps: float) -> FileScan:
    f = FileScan(source="c.mp4", kind="video", info={"width": 64, "height": 64, "fps": fps, "codec": "h264"})
    for i in range(n):
        f.frames.append(FrameScore(i, i / fps, [scan_mod.FaceScore(0, (0, 0, 9, 9), 0.1 + 0.8 * (i % 2))]))
    f.finish(ScanOptions())
    return f


@pytest.mark.parametrize(("t1", "want"), [(0.45, ["0.0", "0.1", "0.2", "0.3", "0.4"]), (2.5, None), (400.0, None)])
def test_time_ticks_are_distinct_round_and_in_range(t1: float, want: list[str] | None) -> None:
    ticks, dec = nice_ticks(0.0, t1)
    labels = [f"{t:.{dec}f}" for t in ticks]
    assert len(labels) == len(set(labels)) >= 3, labels  # the old 0.0 0.1 0.2 0.3 0.3 0.4 repeated a label
    assert all(0 <= t <= t1 + 1e-9 for t in ticks) and len(ticks) <= 6
    if want:
        assert labels == want


def test_timeline_of_a_short_clip_has_no_repeated_tick_label() -> None:
    svg = timeline_svg(_clip(12, 25.0), 0.5)  # 0.44 s
    labels = re.findall(r'text-anchor="middle">([0-9.]+)s<', svg)
    assert labels == ["0.0", "0.1", "0.2", "0.3", "0.4"]


def _detector() -> scan_mod.DetectorModel:
    torch.manual_seed(0)
    net = create_model("meso4", image_size=32).eval()
    return scan_mod.DetectorModel(
        net=net, card={"model": "meso4"}, weights=Path("w.safetensors"), sha256="0" * 64, crop_size=32, margin=0.1
    )


def test_grad_cam_is_on_one_fixed_scale_weighted_by_the_probability() -> None:
    det = _detector()
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (32, 32, 3), np.uint8)
    grey = np.full_like(crop, 128)
    # the same face at 1 % and at 99 %: only the 99 % one may reach the red end of the colour scale
    low, high = gradcam_overlays(det, [crop, crop], [0.01, 0.99])
    relative = gradcam_overlays(det, [crop])[0]  # per-image stretch: always reaches red
    assert low is not None and high is not None and relative is not None
    blue_low, _ = gradcam_overlays(det, [grey, grey], [0.01, 0.99])
    red_gain = lambda ov: int(ov[..., 0].astype(int).max() - grey[..., 0].astype(int).max())  # noqa: E731
    assert red_gain(low) < red_gain(high)
    assert np.abs(low.astype(int) - relative.astype(int)).max() > 20  # the old per-image maps saturated it
    assert not np.array_equal(low, high)


def _card() -> dict:
    return json.loads((ASSETS / "detector-default.json").read_text())


def test_model_card_summary_puts_known_limits_first_and_folds_the_json() -> None:
    card = _card()
    card.pop("calibration", None)
    page = card_summary_html(card)
    assert page.index("Known limits") < page.index("trained on") < page.index("<details>")
    assert card["known_limits"][0][:40] in page.split("<details>")[0]
    assert "false-positive rate at this threshold was not measured" in page  # no calibration: said so
    assert "&quot;known_limits&quot;" in page.split("<details>")[1]  # the raw JSON is still there, folded
    card["calibration"] = {"threshold": 0.7312, "authentic_below": 0.31, "target_fpr": 0.05, "fpr": 0.048,
                           "tpr": 0.91, "n_real": 250, "n_real_identities": 12, "n_fake": 900,
                           "split": "held-out identities"}  # fmt: skip
    page = card_summary_html(card)
    row = page.split("<th>threshold</th>")[1].split("</tr>")[0]
    assert "0.731" in row and "0.048" in row and "250 held-out real faces of 12 people" in row


def test_report_and_demo_state_the_same_crop_policy() -> None:
    assert crop_text({"size": 128, "margin": 0.1, "input_size": 64}) == (
        "faces aligned at 128 px (margin 0.1), resized to the 64 px model input"
    )
    assert crop_text({"size": 64, "margin": 0.2, "input_size": 64}) == "faces aligned at 64 px (margin 0.2)"
    det = _detector()
    det.card = _card()
    page = render_report(scan_mod.ScanResult([_clip(4, 10.0)], det, ScanOptions()))
    assert crop_text(det.summary()["crop"]) in page
    demo_src = (Path(scan_mod.__file__).parents[1] / "demo.py").read_text()
    assert 'crop_text(det.summary()["crop"])' in demo_src  # the demo page words it with the same function


def test_every_verdict_has_a_badge_colour() -> None:
    assert set(VERDICT_COLOURS) >= {"manipulated", "uncertain", "authentic", "no_face", "not_evaluated", "error"}
