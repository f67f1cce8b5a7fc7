"""Export the shipped detectors to ONNX for the ONNX Runtime backend (`pipelines.scan.onnx_backend`).

Run it through `scripts/export_onnx.sh`, which makes a throwaway venv with `onnx` (it needs protobuf >= 6,
which breaks mediapipe, so it must never go into the project's venv). Rerun it whenever a shipped detector's
weights change: the backend refuses an ONNX file whose card entry does not match the weights beside it.

For each detector (`assets/detector-<name>.safetensors` + card):

1. rebuilds the torch model from the card (`train.checkpoint.load_exported`, eval mode);
2. exports an eval-mode wrapper returning (logits, probs) with the legacy TorchScript exporter (opset 17,
   dynamic batch, `TrainingMode.PRESERVE` and no constant folding, so that BatchNorm stays a node and every
   initializer is a parameter or buffer exactly as stored);
3. stores each float32 initializer whose values are exactly float16 (the default detector's weights are
   shipped as float16) as a float16 initializer + a Cast node, which ONNX Runtime folds at load: the file is
   about the size of the safetensors and computes with bit-identical weights;
4. checks parity: ONNX Runtime (1 thread, spinning off) against torch on the Grace Hopper face crop and
   synthetic variants of it, plus random crops; refuses to write when probabilities differ by more than
   `--tol` (default 1e-4);
5. writes `assets/detector-<name>.onnx` and records in the card `inference.onnx = {file, sha256, opset,
   weights_sha256, ...}`; only with `--install` (without it, files go to `--out`).

Usage:
    scripts/export_onnx.sh [--names default fast] [--install | --out DIR] [--tol 1e-4]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from PIL import Image, ImageFilter

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:
    sys.exit("error: export_onnx.py needs the onnx package (protobuf >= 6, which breaks mediapipe's protobuf < 5 "
             "in the project venv): run it through scripts/export_onnx.sh")  # fmt: skip
from torch import nn

from deepfake_lab.fsutil import atomic_write_bytes, atomic_write_text, sha256_file
from deepfake_lab.train.checkpoint import load_exported

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "src" / "deepfake_lab" / "assets"
FACE = ROOT / "tests" / "fixtures" / "grace_hopper_face.jpg"
OPSET = 17


class Logits(nn.Module):
    """Eval-mode wrapper: x [B, C, S, S] in [0, 1] -> (logits [B], probs [B]) of the detector."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(x)
        return out["logits"], out["probs"]


def face_variants(size: int, n_random: int = 8, seed: int = 0) -> np.ndarray:
    """(8 + n_random, size, size, 3) uint8 RGB: the Grace Hopper face, two shifted crops, flipped, blurred,
    JPEG q=30, darker, noisy, and `n_random` uniform-noise crops."""
    rgb = Image.open(FACE).convert("RGB")
    w, h = rgb.size
    side = min(w, h)
    crops = [rgb.crop(((w - side) // 2 + dx, (h - side) // 2 + dy, (w + side) // 2 + dx, (h + side) // 2 + dy))
             for dx, dy in ((0, 0), (-8, 4), (8, -6))]  # fmt: skip
    base = crops[0]
    jpeg = io.BytesIO()
    base.save(jpeg, "JPEG", quality=30)
    imgs = [*crops, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), base.filter(ImageFilter.GaussianBlur(2)),
            Image.open(io.BytesIO(jpeg.getvalue())).convert("RGB")]  # fmt: skip
    arr = [np.asarray(im.resize((size, size), Image.Resampling.BILINEAR)) for im in imgs]
    rng = np.random.default_rng(seed)
    arr.append((arr[0] * 0.6).astype(np.uint8))
    arr.append(np.clip(arr[0] + rng.normal(0, 12, arr[0].shape), 0, 255).astype(np.uint8))
    arr += list(rng.integers(0, 256, (n_random, size, size, 3), dtype=np.uint8))
    return np.stack(arr)


def to_input(crops: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (N, S, S, 3) -> float32 [N, C, S, S] in [0, 1], as the scanner's `DetectorModel.prepare`."""
    x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255)
    if channels == 1:
        x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return x.contiguous().numpy()


def export_graph(net: nn.Module, channels: int, size: int) -> onnx.ModelProto:
    """The detector as an ONNX graph: input "input" [batch, C, S, S] -> "logits", "probs" [batch]."""
    wrapper = Logits(net).eval()
    buf = io.BytesIO()
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)  # the input-shape check is traced once
    warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export", category=DeprecationWarning)
    torch.onnx.export(
        wrapper,
        (torch.rand(2, channels, size, size),),
        buf,
        dynamo=False,
        opset_version=OPSET,
        input_names=["input"],
        output_names=["logits", "probs"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}, "probs": {0: "batch"}},
        do_constant_folding=False,
        training=torch.onnx.TrainingMode.PRESERVE,
    )
    if wrapper.training or net.training:
        raise RuntimeError("the exporter left the detector in training mode")
    model = onnx.load_from_string(buf.getvalue())
    for node in model.graph.node:
        node.doc_string = ""
    return model


def fp16_initializers(model: onnx.ModelProto, min_size: int = 16) -> int:
    """Store each float32 initializer whose values are exactly float16 as float16 + a Cast to float32 (ONNX
    Runtime folds the Cast when it loads the graph). Returns how many were converted."""
    graph, casts, keep = model.graph, [], []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        half = arr.astype(np.float16)
        exact = np.array_equal(half.astype(np.float32), arr)
        if init.data_type == TensorProto.FLOAT and arr.size >= min_size and exact:
            keep.append(numpy_helper.from_array(half, f"{init.name}__fp16"))
            casts.append(helper.make_node("Cast", [f"{init.name}__fp16"], [init.name], to=TensorProto.FLOAT))
        else:
            keep.append(init)
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return len(casts)


def session(data: bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def parity(net: nn.Module, data: bytes, crops: np.ndarray, channels: int) -> dict[str, float]:
    """Max |ORT - torch| of probs and logits over `crops`, one by one and as one batch."""
    x = to_input(crops, channels)
    with torch.inference_mode():
        out = net(torch.from_numpy(x))
    t_logits, t_probs = out["logits"].reshape(-1).numpy(), out["probs"].reshape(-1).numpy()
    sess = session(data)
    batch = sess.run(["logits", "probs"], {"input": x})
    single = [sess.run(["logits", "probs"], {"input": x[i : i + 1]}) for i in range(len(x))]
    o_logits = [batch[0].reshape(-1), np.concatenate([s[0].reshape(-1) for s in single])]
    o_probs = [batch[1].reshape(-1), np.concatenate([s[1].reshape(-1) for s in single])]
    return {
        "max_abs_prob_diff": float(max(np.abs(p - t_probs).max() for p in o_probs)),
        "max_abs_logit_diff": float(max(np.abs(lg - t_logits).max() for lg in o_logits)),
        "n_crops": len(crops),
        "prob_range": [float(t_probs.min()), float(t_probs.max())],
    }


def export_one(name: str, out_dir: Path, tol: float) -> dict[str, Any]:
    """Export assets/detector-<name> into out_dir (ONNX + updated card); returns the card's onnx entry."""
    st = ASSETS / f"detector-{name}.safetensors"
    net, card = load_exported(st, family="detector", what="a detector")
    shape = card.get("input", {}).get("shape") or []
    channels = int(card.get("model_kwargs", {}).get("in_channels", shape[0] if len(shape) == 3 else 3))
    size = int(card.get("model_kwargs", {}).get("image_size") or shape[-1])
    model = export_graph(net, channels, size)
    n_half = fp16_initializers(model)
    model.producer_name, model.producer_version = "deepfake-lab scripts/export_onnx.py", f"torch {torch.__version__}"
    model.doc_string = f"{card.get('name', name)} ({card['model']}), from {st.name}"
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString()
    check = parity(net, data, face_variants(size), channels)
    if not check["max_abs_prob_diff"] <= tol:
        diff = check["max_abs_prob_diff"]
        raise SystemExit(f"error: {name}: ONNX Runtime and torch probabilities differ by {diff:.3g} > {tol}")
    onnx_path = out_dir / f"detector-{name}.onnx"
    atomic_write_bytes(onnx_path, lambda f: f.write(data))
    entry = {
        "file": onnx_path.name,
        "sha256": sha256_file(onnx_path),
        "opset": OPSET,
        "weights_sha256": sha256_file(st),
        "input": f"input [batch, {channels}, {size}, {size}] float32 in [0, 1] (the model normalises inside)",
        "outputs": ["logits", "probs"],
        "initializers": f"{n_half} float16 (exact copies of float16 weights) + Cast; the rest float32",
        "parity": {
            **check,
            "tolerance": tol,
            "onnxruntime": ort.__version__,
            "crops": "Grace Hopper face (tests/fixtures) + 7 variants + 8 uniform-noise crops",
        },
        "exported_with": {"torch": torch.__version__, "onnx": onnx.__version__, "exporter": "torch.onnx legacy"},
        "command": "scripts/export_onnx.sh --install",
    }
    card.setdefault("inference", {})["onnx"] = entry
    atomic_write_text(out_dir / f"detector-{name}.json", json.dumps(card, indent=2, default=str) + "\n")
    return entry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--names", nargs="+", default=["default", "fast"], help="shipped detectors (detector-NAME)")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "onnx", help="staging folder")
    ap.add_argument("--install", action="store_true", help="then copy the .onnx files and cards into assets/")
    ap.add_argument("--tol", type=float, default=1e-4, help="max |ORT - torch| of the probabilities")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        if not (ASSETS / f"detector-{name}.safetensors").is_file():
            print(f"error: no shipped detector detector-{name}.safetensors in {ASSETS}", file=sys.stderr)
            return 2
        entry = export_one(name, args.out, args.tol)
        print(json.dumps({name: {k: entry[k] for k in ("file", "sha256", "initializers", "parity")}}, indent=1))
        if args.install:
            for suffix in (".onnx", ".json"):
                shutil.copyfile(args.out / f"detector-{name}{suffix}", ASSETS / f"detector-{name}{suffix}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
