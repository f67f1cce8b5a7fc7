"""A tiny face benchmark folder (the layout of `face_protocol.build_face_protocol`) of noisy grey crops."""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict

import cv2
import numpy as np

from deepfake_lab.pipelines.bench.manifest import ManifestRow

S = 32
PEOPLE = {"ann": "train", "bob": "train", "cal": "calib", "dan": "test", "eve": "test"}


def _img(name: str, level: int) -> np.ndarray:
    """A noisy grey crop, the same for the same file name in every benchmark."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    return np.clip(level + rng.normal(0, 6, (S, S, 3)), 0, 255).astype(np.uint8)


def tiny_face_bench(root, gan_rows: dict[str, int] | None = None) -> None:
    """A tiny face benchmark: 10 reals per train person (c0), 4 reals (level 100) + 4 self-blend fakes (level 200)
    per calib/test person at c0 and c23; `gan_rows`: method -> grey level of 4 extra GAN fakes per split and level."""
    rows = []
    for ident, split in PEOPLE.items():
        comps = ["c0"] if split == "train" else ["c0", "c23"]
        n = 10 if split == "train" else 4
        for comp in comps:
            items = [(0, "real", ident, 100)] * n
            if split != "train":
                items += [(1, "self-blend", ident, 200)] * n
                items += [(1, m, "", lv) for m, lv in (gan_rows or {}).items() for _ in range(2)]
            for k, (label, method, who, lv) in enumerate(items):
                sub = "real" if label == 0 else f"fake/{method}"
                rel = f"{comp}/{split}/{sub}/{ident}_{method}_{k:03d}.png"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / rel), _img(rel, lv))
                rows.append(ManifestRow(rel, label, method, ident, f"{ident}:{split}", who, "", k, comp, split))
    (root / "manifest.jsonl").write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows))
    people = {s: {p: 1 for p, sp in PEOPLE.items() if sp == s} for s in ("train", "calib", "test")}
    info = {"people": people, "options": {"size": S, "margin": 0.1}}
    if gan_rows:  # what `add_face_gans` records
        info["gans"] = {m: {"generator": "grey", "steps": 1, "samples": {"calib": 4, "test": 4}} for m in gan_rows}
    (root / "faces.json").write_text(json.dumps(info))
