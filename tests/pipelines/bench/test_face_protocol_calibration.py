"""`face_protocol.protocol_report`: the threshold is fit per person on the calib split and measured per person on
the test split, with leave-one-person-out over all unseen people (tiny PNG benchmark, a detector that scores
the image brightness)."""

from __future__ import annotations

import json
from dataclasses import asdict

import cv2
import numpy as np
import pytest
import torch

from deepfake_lab.pipelines.bench.face_protocol import protocol_report
from deepfake_lab.pipelines.bench.manifest import ManifestRow


class Brightness(torch.nn.Module):
    """probs = mean pixel value: a 'detector' whose score we set through the image."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        p = x.mean((1, 2, 3))
        return {"logits": p, "probs": p, "features": p[:, None]}


def _bench(root, people: dict[str, tuple[str, list[int]]]) -> None:
    """people: identity -> (split, real grey levels); every real gets one fake at level 250."""
    rows = []
    for comp in ("c0", "c23"):
        for ident, (split, levels) in people.items():
            for i, lv in enumerate([*levels, *([250] * len(levels))]):
                label = int(i >= len(levels))
                method = "self-blend" if label else "real"
                rel = f"{comp}/{split}/{method}/{ident}_{i}.png"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / rel), np.full((16, 16, 3), lv, np.uint8))
                rows.append(ManifestRow(rel, label, method, ident, f"{ident}:{split}", ident, "", i, comp, split))
    (root / "manifest.jsonl").write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows))
    info = {"people": {s: {p: 1 for p, (sp, _) in people.items() if sp == s} for s in ("train", "calib", "test")}}
    (root / "faces.json").write_text(json.dumps(info))


def test_person_rule_is_not_set_by_the_person_with_most_faces(tmp_path) -> None:
    # calib: a "video" person with 40 dark faces and a "still" person with 4 bright ones (the kind pooled
    # calibration ignores); test: two still people as bright as the calib still
    _bench(tmp_path, {"video": ("calib", list(range(10, 50))), "still": ("calib", [200, 205, 210, 215]),
                      "t1": ("test", [200, 204, 208, 212]), "t2": ("test", [199, 203, 207, 211])})  # fmt: skip
    pooled = protocol_report(Brightness(), 16, tmp_path, 0.05, rule="pooled")
    person = protocol_report(Brightness(), 16, tmp_path, 0.05, rule="person-mean")
    # pooled: 4 of 88 calib reals (2 levels x 2 copies) may be above -> just above the still's 205: half of
    # each test person's reals are above
    assert pooled["calibration"]["rule"] == "pooled" and pooled["test"]["c0"]["fpr"] == 0.5
    # person-mean: mean over 2 people <= 5 % -> the still person may have <= 10 % (0 of 8) above
    cal = person["calibration"]
    assert cal["rule"] == "person-mean" and cal["people"] == ["still", "video"] and cal["person_mean_fpr"] <= 0.05
    assert cal["threshold"] > 215 / 255 and person["test"]["c0"]["fpr"] == 0.0
    assert person["test"]["c0"]["person_fpr"] == {"t1": pytest.approx(0.0), "t2": pytest.approx(0.0)}
    assert person["test"]["c0"]["tpr"]["self-blend"] == 1.0 and "real_identities" not in person["test"]["c0"]
    loo = person["unseen_loo"]
    assert loo["people"] == 4 and set(loo["per_person"]) == {"video", "still", "t1", "t2"}
    assert loo["rule"] == "person-mean" and loo["max_fpr"] >= loo["mean_fpr"] >= 0.0
