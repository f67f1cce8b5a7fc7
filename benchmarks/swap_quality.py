"""Face-swap quality on held-out frames (never used in training): expression/pose preservation, reconstruction
SSIM, temporal flicker and an identity score.

Held-out frames: the faceset "test" split (per source, the last 20 % of the faces by frame index; see
`deepfake_lab.data.faceset`). For every held-out frame of each identity's source videos the frame is swapped
to the other identity with the full conversion pipeline (detect → align → encode → other decoder → colour
transfer → feathered blend), then:

- expression/pose preservation: our detector (MediaPipe mesh → 68 points) on the swapped frame; mean landmark
  distance to the source frame's landmarks, normalised by the outer-eye-corner distance (NME);
- reconstruction: masked SSIM of A→A and B→B on the held-out 64 px crops;
- temporal flicker: mean |frame_t − frame_t−1| inside the face mask of the swapped video, divided by the same
  for the source (1 = as steady as the source), over consecutive held-out frames;
- sharpness: variance of the Laplacian (grey) over the inner face (hull of the 51 inner landmarks: brows,
  eyes, nose, mouth) of the swapped frame divided by the same in the source frame; median over frames
  (1 = as sharp as the source); `sharpness_ceiling`: the same for the source face itself aligned at the model's
  size and pasted back (what a perfect decoder of that size would reach on these frames);
- seam: mean gradient magnitude (Sobel, grey) along the paste-back border (where the blend mask is between
  0.05 and 0.95, in the frame) in the swapped frame divided by the same pixels in the source frame; median
  over frames (1 = no edge added; a visible seam raises it);
- the real-face reference (`--nearest-real`, variant `nearest-real/`): instead of a decoder output, each held-out
  face gets the target identity's *real* training face whose aligned landmarks (68 points in the crop, centred)
  are nearest, pasted by the same pipeline (colour transfer, landmark-hull mask, feathered blend; no guard). It is
  what a mask-based swap of this pair reaches with the target's own pixels (short of the exact expression): a
  ceiling for the sharpness and identity figures that the data sets, whatever the model. An optimistic one for
  identity: the dlib mean and the PCA classifier are fitted on the very crops it pastes. Its flicker and NME mean
  little (the chosen face jumps from frame to frame);
- guard: fraction of the held-out faces the swap guard passed through (`pipelines.swap_guard`; 0 when the card
  has no statistics);
- identity, dlib (when the [metrics] extra is installed): 128-d face-recognition embeddings; mean Euclidean
  distance of swapped faces to the target identity's mean training embedding and to the source's (dlib's
  same-person threshold is 0.6), the fraction closer to the target, and the same distances for held-out real
  faces as reference;
- identity, fallback (always computed, needs nothing extra): PCA(32) embedding of masked,
  standardised grey 64 px face crops, fitted on the two facesets' *training* crops, and a logistic-regression
  A-vs-B classifier on it. Reported: classifier accuracy on held-out real faces (sanity), P(target identity)
  for the swapped faces, and cosine similarity of swapped embeddings to the target's mean embedding (the PCA is
  centred on both sets, so the two means are opposite and the cosine to the source's mean is just its negative).
  This measures "looks like the training crops of B" more than a face-recognition identity; say so.

Usage:
    python benchmarks/swap_quality.py --model MODEL.safetensors --faces-a FACESET_A --faces-b FACESET_B
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import append_results  # noqa: E402

from deepfake_lab.data.datasets import load_faceset  # noqa: E402
from deepfake_lab.errors import MissingDataError  # noqa: E402
from deepfake_lab.faces import (  # noqa: E402
    FaceAnalyzer,
    align_face,
    create_detector,
    face_mask,
    paste_back,
    transform_points,  # noqa: E402
)
from deepfake_lab.losses.ssim import ssim  # noqa: E402
from deepfake_lab.metrics.identity import DlibFaceEmbedder  # noqa: E402
from deepfake_lab.pipelines.swap_video import FaceSwapper, SwapOptions, load_swap_model  # noqa: E402
from deepfake_lab.video import open_media  # noqa: E402


def _feature(crop64: np.ndarray, mask: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(crop64, cv2.COLOR_RGB2GRAY).astype(np.float32)
    inside = mask > 0.5
    g = (g - g[inside].mean()) / (g[inside].std() + 1e-3)
    return (g * mask).ravel()


def _faceset_features(fs) -> np.ndarray:  # noqa: ANN001
    img = fs.images.numpy()
    return np.stack([_feature(i[:3].transpose(1, 2, 0), i[3] / 255.0) for i in img])


def _dlib_refs(emb: DlibFaceEmbedder, root: Path, fs, n: int = 80) -> np.ndarray:  # noqa: ANN001
    """dlib embeddings of up to n faces of a faceset split, from the full-size crops on disk."""
    recs = fs.records[:: max(1, len(fs.records) // n)][:n]
    out = []
    for r in recs:
        img = cv2.cvtColor(cv2.imread(str(root / r["file"])), cv2.COLOR_BGR2RGB)
        pts = transform_points(np.asarray(r["landmarks"], float), np.asarray(r["matrix"], float))
        out.append(emb(img, np.r_[pts.min(0), pts.max(0)]))
    return np.stack(out)


def _grey(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)


def sharpness_ratio(src: np.ndarray, out: np.ndarray, landmarks68: np.ndarray) -> float:
    """Variance of the Laplacian over the inner-face hull (68-point indices 17..67), swapped / source."""
    region = np.zeros(src.shape[:2], np.uint8)
    cv2.fillConvexPoly(region, cv2.convexHull(np.round(landmarks68[17:]).astype(np.int32)), 1)
    inside = region.astype(bool)
    if inside.sum() < 50:
        return float("nan")
    v = [float(cv2.Laplacian(_grey(x), cv2.CV_32F)[inside].var()) for x in (out, src)]
    return v[0] / max(v[1], 1e-6)


def seam_ratio(src: np.ndarray, out: np.ndarray, pasted: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean Sobel gradient magnitude along the paste-back border (blend mask in (0.05, 0.95), dilated 1 px),
    swapped / source."""
    h, w = src.shape[:2]
    band = np.zeros((h, w), bool)
    for matrix, mask in pasted:
        inv = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
        m = cv2.warpAffine(mask.astype(np.float32), inv, (w, h), flags=cv2.INTER_LINEAR)
        band |= (m > 0.05) & (m < 0.95)
    band = cv2.dilate(band.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    if band.sum() < 20:
        return float("nan")

    def grad(x: np.ndarray) -> np.ndarray:
        g = _grey(x)
        return np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))

    return float(grad(out)[band].mean() / max(grad(src)[band].mean(), 1e-6))


def _crop_points(landmarks68: np.ndarray, matrix: np.ndarray, scale: float) -> np.ndarray:
    """Frame landmarks -> (68, 2) crop coordinates / crop side, centred (pose and expression, not position)."""
    q = transform_points(np.asarray(landmarks68, float), np.asarray(matrix, float)) * scale
    return q - q.mean(0)


class NearestRealFace:
    """A stand-in for a swap model (`FaceSwapper` calls `swap`): each face becomes the target identity's real
    training crop whose aligned landmarks are nearest to those in `query` (set before each call, one (68, 2)
    array per face, from `_crop_points` at scale 1 / crop side)."""

    def __init__(self, model: Any, faceset: Any) -> None:
        if abs(float(faceset.margin) - float(model.margin)) > 1e-6:
            raise SystemExit(f"faceset {faceset.name} has margin {faceset.margin}, the model {model.margin}")
        self.image_size, self.margin, self.card, self.name = model.image_size, model.margin, {}, "nearest-real"
        self.bank = faceset.images[:, :3].permute(0, 2, 3, 1).numpy()  # (N, S, S, 3) uint8
        self.points = np.stack([
            _crop_points(np.asarray(r["landmarks"]), np.asarray(r["matrix"]), 1.0 / float(r.get("size", 256)))
            for r in faceset.records
        ])  # fmt: skip
        self.query: list[np.ndarray] = []

    def swap(self, crops: np.ndarray, to: str, own: str | None = None) -> tuple[np.ndarray, None, None]:
        picks = [int(np.linalg.norm(self.points - q[None], axis=2).mean(1).argmin()) for q in self.query]
        return self.bank[picks], None, None


def run(
    model_path: Path,
    faces: dict[str, Path],
    max_frames: int,
    variants: dict[str, dict[str, Any]] | None = None,
    nearest_real: bool = False,
) -> dict[str, float]:
    """The figures; `variants` (name -> `SwapOptions` fields) are swapped side by side on the same frames, their
    keys prefixed `name/` (None: the default options, unprefixed keys); `nearest_real` adds the real-face
    reference as the variant `nearest-real`."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    sm = load_swap_model(model_path)
    s = sm.image_size
    torch.set_num_threads(2)
    res: dict[str, float] = {}
    # reconstruction SSIM on held-out crops
    tests = {k: load_faceset(p, "test", image_size=s) for k, p in faces.items()}
    for k, fs in tests.items():
        x = fs.images.float() / 255
        rgb, m = x[:, :3], x[:, 3:4]
        with torch.no_grad():
            rec = sm.net(rgb, k).float()
        res[f"ssim_{k}{k}_heldout"] = float(ssim(rec * m, rgb * m))
    # identity fallback: PCA + logistic regression on the training crops
    trains = {k: load_faceset(p, "train", image_size=s) for k, p in faces.items()}
    xa, xb = _faceset_features(trains["a"]), _faceset_features(trains["b"])
    pca = PCA(32, random_state=0).fit(np.concatenate([xa, xb]))
    za, zb = pca.transform(xa), pca.transform(xb)
    clf = LogisticRegression(max_iter=2000).fit(np.concatenate([za, zb]), np.r_[np.zeros(len(za)), np.ones(len(zb))])
    means = {"a": za.mean(0), "b": zb.mean(0)}
    real_acc = []
    for k, fs in tests.items():
        z = pca.transform(_faceset_features(fs))
        real_acc.append((clf.predict(z) == (1.0 if k == "b" else 0.0)).mean())
    res["identity_classifier_acc_real_heldout"] = float(np.mean(real_acc))

    try:
        emb: DlibFaceEmbedder | None = DlibFaceEmbedder()
    except MissingDataError as exc:
        print(f"note: {exc}; dlib identity figures skipped (fallback identity figures only)")
        emb = None
    dl_means: dict[str, np.ndarray] = {}
    if emb is not None:
        held_dl = {}
        for k, p in faces.items():
            dl_means[k] = _dlib_refs(emb, p, trains[k]).mean(0)
            held_dl[k] = _dlib_refs(emb, p, tests[k])
        for k in faces:
            other = "b" if k == "a" else "a"
            res[f"dlib_real_{k}_heldout_dist_own"] = float(np.linalg.norm(held_dl[k] - dl_means[k], axis=1).mean())
            res[f"dlib_real_{k}_heldout_dist_other"] = float(
                np.linalg.norm(held_dl[k] - dl_means[other], axis=1).mean()
            )

    def cos(u: np.ndarray, v: np.ndarray) -> float:
        return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9))

    variants = variants or {"": {}}
    with create_detector("mediapipe") as det, create_detector("mediapipe") as det_out:
        for src_id, fs in tests.items():
            tgt = "b" if src_id == "a" else "a"
            swappers = {v: FaceSwapper(sm, SwapOptions(to=tgt, **kw)) for v, kw in variants.items()}
            oracle = NearestRealFace(sm, trains[tgt]) if nearest_real else None
            if oracle is not None:
                swappers["nearest-real"] = FaceSwapper(oracle, SwapOptions(to=tgt, guard=False))  # type: ignore[arg-type]
            acc = {v: defaultdict(list) for v in swappers}
            ceiling: list[float] = []
            counts = {v: {"frames": 0, "faces": 0, "passed": 0, "t_swap": 0.0} for v in swappers}
            by_source: dict[str, list[int]] = defaultdict(list)
            for r in fs.records:
                by_source[r["source"]].append(int(r["frame"]))
            for source, frames in by_source.items():
                wanted = set(sorted(frames)[:max_frames])
                analyzer = FaceAnalyzer(det, max_faces=1)
                analyzers_out = {v: FaceAnalyzer(det_out, max_faces=1) for v in swappers}
                prev: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray] | None] = dict.fromkeys(swappers)
                with open_media(source) as reader:
                    for f in reader:
                        if f.index > max(wanted):
                            break
                        faces_in = [x for x in analyzer(f.image) if x.mesh is not None] if f.index in wanted else []
                        if not faces_in:
                            prev = dict.fromkeys(swappers)
                            continue
                        fin = faces_in[0]
                        l_in = fin.landmarks68
                        al_in = align_face(f.image, fin.mesh, 256, sm.margin)
                        mask = face_mask(al_in.to_crop(l_in), (256, 256))
                        inv = np.linalg.inv(np.vstack([al_in.matrix, [0, 0, 1]]))[:2]
                        full = cv2.warpAffine(mask, inv, f.image.shape[1::-1]) > 0.5
                        own = align_face(f.image, fin.mesh, s, sm.margin)
                        ceiling.append(sharpness_ratio(f.image, paste_back(f.image, own.image, own.matrix), l_in))
                        if oracle is not None:
                            oracle.query = [_crop_points(l_in, own.matrix, 1.0 / s)]
                        for v, swapper in swappers.items():
                            a, c = acc[v], counts[v]
                            t0 = time.perf_counter()
                            out = swapper(f.image, faces_in)
                            c["t_swap"] += time.perf_counter() - t0
                            c["frames"] += 1
                            c["faces"] += len(faces_in)
                            c["passed"] += sum(not x.swap for x in swapper.checks)
                            if swapper.pasted:
                                a["sharp"].append(sharpness_ratio(f.image, out, l_in))
                                a["seam"].append(seam_ratio(f.image, out, swapper.pasted))
                            faces_out = [x for x in analyzers_out[v](out) if x.mesh is not None]
                            if faces_out:
                                l_out = faces_out[0].landmarks68
                                iod = np.linalg.norm(l_in[36] - l_in[45])
                                a["nme"].append(float(np.linalg.norm(l_out - l_in, axis=1).mean() / iod))
                                al = align_face(out, faces_out[0].mesh, s, sm.margin)
                                mk = face_mask(al.to_crop(faces_out[0].landmarks68), (s, s), feather=s / 32)
                                z = pca.transform(_feature(al.image, mk)[None])[0]
                                a["p_tgt"].append(float(clf.predict_proba(z[None])[0, 1 if tgt == "b" else 0]))
                                a["cos_t"].append(cos(z, means[tgt]))
                                if emb is not None:
                                    e = emb(out, faces_out[0].bbox)
                                    a["d_tgt"].append(float(np.linalg.norm(e - dl_means[tgt])))
                                    a["d_src"].append(float(np.linalg.norm(e - dl_means[src_id])))
                            if prev[v] is not None:
                                pi, po, pm = prev[v]  # type: ignore[misc]
                                both = full & pm
                                if both.sum() > 100:
                                    a["flick_out"].append(np.abs(out.astype(np.float32) - po)[both].mean())
                                    a["flick_src"].append(np.abs(f.image.astype(np.float32) - pi)[both].mean())
                            prev[v] = (f.image.astype(np.float32), out.astype(np.float32), full)
            res[f"{src_id}2{tgt}_sharpness_ceiling"] = float(np.nanmedian(ceiling)) if ceiling else float("nan")
            for v in swappers:
                a, c = acc[v], counts[v]
                key = f"{v}/{src_id}2{tgt}" if v else f"{src_id}2{tgt}"

                def mean(name: str, a: dict = a) -> float:  # noqa: B006
                    return float(np.mean(a[name])) if a[name] else float("nan")

                res[f"{key}_frames"] = c["frames"]
                res[f"{key}_faces_redetected"] = len(a["nme"]) / max(c["frames"], 1)
                res[f"{key}_landmark_nme"] = mean("nme")
                fl = a["flick_src"]
                res[f"{key}_flicker_ratio"] = mean("flick_out") / max(mean("flick_src"), 1e-6) if fl else float("nan")
                res[f"{key}_flicker_swapped"] = mean("flick_out")
                res[f"{key}_flicker_source"] = mean("flick_src")
                res[f"{key}_p_target_identity"] = mean("p_tgt")
                res[f"{key}_cos_to_target_mean"] = mean("cos_t")
                res[f"{key}_swap_ms_per_frame"] = 1000 * c["t_swap"] / max(c["frames"], 1)
                res[f"{key}_sharpness_ratio"] = float(np.nanmedian(a["sharp"])) if a["sharp"] else float("nan")
                res[f"{key}_seam_gradient_ratio"] = float(np.nanmedian(a["seam"])) if a["seam"] else float("nan")
                res[f"{key}_guard_passed_through"] = c["passed"] / max(c["faces"], 1)
                if a["d_tgt"]:
                    res[f"{key}_dlib_dist_to_target"] = mean("d_tgt")
                    res[f"{key}_dlib_dist_to_source"] = mean("d_src")
                    res[f"{key}_dlib_closer_to_target"] = float(np.mean(np.array(a["d_tgt"]) < np.array(a["d_src"])))
    return res


def parse_variants(specs: list[str]) -> dict[str, dict[str, Any]] | None:
    """['detail:detail=1,upscale=lanczos', 'base:'] -> {'detail': {'detail': 1.0, 'upscale': 'lanczos'}, 'base': {}}."""
    if not specs:
        return None
    out: dict[str, dict[str, Any]] = {}
    for spec in specs:
        name, _, opts = spec.partition(":")
        kw: dict[str, Any] = {}
        for item in filter(None, opts.split(",")):
            k, _, v = item.partition("=")
            try:
                kw[k] = float(v)
            except ValueError:
                kw[k] = v
        SwapOptions(**kw).validate()
        out[name] = kw
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--faces-a", type=Path, required=True)
    ap.add_argument("--faces-b", type=Path, required=True)
    ap.add_argument("--max-frames", type=int, default=200, help="held-out frames per source at most")
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE,...",
        help="swap options to compare side by side on the same frames, e.g. "
        "'detail:detail=1' or 'lanczos:upscale=lanczos,sharpen=0.5' (repeatable; 'base:' = the defaults)",
    )
    ap.add_argument(
        "--nearest-real",
        action="store_true",
        help="also paste the target's nearest real training face (variant nearest-real/: the data's ceiling)",
    )
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--no-append", action="store_true", help="do not append to RESULTS.md")
    args = ap.parse_args()
    faces = {"a": args.faces_a, "b": args.faces_b}
    res = run(args.model, faces, args.max_frames, parse_variants(args.variant), args.nearest_real)
    for k, v in res.items():
        print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")
    if not args.no_append:
        lines = [f"- model: `{args.model}`; held-out split: last 20 % of each source's faces", ""]
        lines += ["| figure | value |", "|---|---|"] + [
            f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in res.items()
        ]
        lines += [
            "",
            "dlib_* = dlib 128-d embeddings ([metrics] extra); p_target_identity / cos_to_target_mean = the "
            "PCA + logistic-regression fallback fitted on the facesets' training crops; NME = landmark error / "
            "outer-eye distance; flicker_ratio = in-mask frame-to-frame change of the swap / of the source; "
            "sharpness_ratio = inner-face variance of the Laplacian, swapped / source (median); sharpness_ceiling = "
            "the same for the source face aligned at the model's size and pasted back; seam_gradient_ratio = "
            "gradient magnitude along the paste-back border, swapped / source (median); guard_passed_through = "
            "faces the swap guard left untouched; nearest-real/ = the target's nearest real training face pasted "
            "instead of the decoder output (the data's ceiling).",
        ]
        append_results("Face swap quality (held-out frames)", lines)


if __name__ == "__main__":
    main()
