"""GAN faces in the identity-disjoint face benchmark: generators trained here on the train people only.

`add_face_gans` takes a built face benchmark (`face_protocol.build_face_protocol`), trains each requested face
GAN with the one Trainer on the benchmark's **train-split real crops** (c0; the people of the train sources,
never a calib or test person: checked against the manifest), samples whole faces, brings them to the crop size
of the benchmark (bicubic) and writes them as fake methods ``gan-<name>`` into the calib and test splits at
every compression level of the split (each generator's samples are one image sequence, H.264-encoded like the
other methods: `face_protocol.compress_crops`). `evaluate_detector_on_protocol` scores them apart from the
swap/blend methods (AUC and AP of each generator's samples against the reals of people never trained on);
`gan_cross_probe` adds a train-on-X / test-on-Y matrix between the generators (a linear probe on the detector's
frozen features, fit on the calib people, tested on the test people).

Generators (`FACE_GANS`):

* ``dcgan``: DCGAN 32 px (`dcgan-32`, Radford et al. 2016), fp32 (bf16 convolutions are slower on CPUs
  without bf16 instructions).
* ``progan``: progressive growing 4 -> 8 -> 16 -> 32 px with fade-in (`progan-32`, Karras et al. 2018), width 16
  (max 64 channels), the steps split evenly over the four stages.

Example:
    >>> from deepfake_lab.pipelines.bench.face_gan import GanOptions, add_face_gans
    >>> info = add_face_gans("runs/faces", GanOptions(gans=("dcgan",), steps=200))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines.bench.face_protocol import GAN_PREFIX, compress_crops, is_gan_method
from deepfake_lab.pipelines.bench.manifest import ManifestRow, read_manifest

__all__ = [
    "FACE_GANS",
    "FaceGan",
    "GanOptions",
    "add_face_gans",
    "gan_cross_probe",
    "gan_training_set",
    "parse_gans",
    "resample_through",
]


@dataclass(frozen=True)
class FaceGan:
    """A face generator of the benchmark: its model preset, default training steps and how it is trained."""

    preset: str
    default_steps: int
    summary: str

    def overrides(self, steps: int) -> list[str]:
        """Trainer config overrides (on top of the preset) for `steps` training steps on 32 px RGB faces."""
        common = ["data.image_size=32", "data.channels=3", f"train.steps={steps}", "train.precision=fp32"]
        if self.preset == "progan-32":
            return [*common, "train.batch_size=32", f"task_kwargs.stage_steps={max(1, steps // 4)}",
                    "model_kwargs.width=16", "model_kwargs.max_width=64"]  # fmt: skip
        return [*common, "train.batch_size=64", "optim.lr=0.0002", "optim.betas=[0.5,0.999]"]


# defaults: about 4-5 min each on one busy CPU core (measured on this machine: DCGAN ~6 steps/s, ProGAN ~1.6 s
# per step at 32 px with width 16)
FACE_GANS: dict[str, FaceGan] = {
    "dcgan": FaceGan("dcgan-32", 1500, "DCGAN 32 px (Radford et al. 2016), batch 64, fp32"),
    "progan": FaceGan(
        "progan-32", 1600, "progressive GAN 4->8->16->32 px with fade-in (Karras et al. 2018), width 16, batch 32"
    ),
}


@dataclass
class GanOptions:
    """Which face GANs to add and how.

    Args:
        gans: names in `FACE_GANS`.
        steps: training steps of each generator (None: each one's `default_steps`).
        samples: samples per generator and split (None: as many as the split's reals at one compression level).
        seed: seed of the training runs and of the sampled latents.
        threads: torch threads of the training.
        progress: show the Trainer's progress bar.
    """

    gans: tuple[str, ...] = ("dcgan", "progan")
    steps: int | None = None
    samples: int | None = None
    seed: int = 0
    threads: int = 1
    progress: bool = False

    def check(self) -> None:
        """BadInputError (one line) for unknown generators, steps < 1 or samples < 1."""
        parse_gans(",".join(self.gans))
        if self.steps is not None and self.steps < 1:
            raise BadInputError(f"--gan-steps must be >= 1, got {self.steps}")
        if self.samples is not None and not 1 <= self.samples <= 4096:
            raise BadInputError(f"--gan-samples must be in 1..4096, got {self.samples}")


def parse_gans(text: str) -> tuple[str, ...]:
    """Comma-separated generator names -> tuple (order kept, duplicates dropped); BadInputError if unknown."""
    names = tuple(dict.fromkeys(v.strip().lower() for v in text.split(",") if v.strip()))
    bad = [n for n in names if n not in FACE_GANS]
    if bad or not names:
        raise BadInputError(f"--gan takes names among {', '.join(FACE_GANS)}, got {text!r}")
    return names


def gan_training_set(rows: list[ManifestRow]) -> list[ManifestRow]:
    """The rows the face GANs train on: the train split's real crops at c0. BadInputError if any of their people
    also appears in the calib or test split (the GANs must never see a person they are tested against)."""
    train = [r for r in rows if r.split == "train" and r.label == 0 and r.compression == "c0"]
    unseen = {r.identity for r in rows if r.split != "train" and r.label == 0}
    mixed = sorted({r.identity for r in train} & unseen)
    if mixed:
        raise BadInputError(f"the face benchmark's train people also appear in calib/test: {', '.join(mixed)}")
    if not train:
        raise BadInputError("the face benchmark has no train-split real faces to train a GAN on")
    return train


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _write(root: Path, rel: str, img: np.ndarray) -> None:
    import cv2

    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / rel), np.ascontiguousarray(img[..., ::-1]))


def add_face_gans(root: Path | str, options: GanOptions | None = None, log: Any = None) -> dict[str, Any]:
    """Train the face GANs on the train people of the face benchmark `root` and add their samples as fake
    methods ``gan-<name>`` to its calib and test splits (replacing earlier GAN methods).

    Args:
        root: a folder made by `build_face_protocol` (``manifest.jsonl`` + ``faces.json``).
        options: which generators, steps, samples (`GanOptions`).
        log: optional function of one line (progress messages).

    Returns:
        {"gan-<name>": {"generator", "summary", "steps", "seconds", "training_images", "training_people",
        "samples": {split: n}}}; also stored under "gans" in ``faces.json``, with the image counts updated.
    """
    from deepfake_lab.pipelines.bench.methods import GANSamples, MethodContext, train_or_load

    opt = options or GanOptions()
    opt.check()
    root = Path(root)
    info_path = root / "faces.json"
    if not info_path.is_file():
        raise BadInputError(f"{root} is not a face benchmark (make one with `deepfake-lab bench faces`)")
    info = json.loads(info_path.read_text())
    rows = [r for r in read_manifest(root) if not is_gan_method(r.method)]
    for old in sorted(root.glob(f"*/*/fake/{GAN_PREFIX}*")):  # an earlier run's samples
        shutil.rmtree(old)
    train = gan_training_set(rows)
    faces = root / "models" / "gan-train-faces"  # exactly the training rows (hard links)
    shutil.rmtree(faces, ignore_errors=True)
    faces.mkdir(parents=True)
    for k, r in enumerate(train):
        _link_or_copy(root / r.path, faces / f"{k:05d}_{Path(r.path).name}")
    people = sorted({r.identity for r in train})
    size = int(info.get("options", {}).get("size", 128))
    ctx = MethodContext(margin=0.1, size=size, train_faces=faces, work=root / "models", seed=opt.seed,
                        threads=opt.threads, progress=opt.progress)  # fmt: skip
    splits = [s for s in ("calib", "test") if any(r.split == s for r in rows)]
    n_real = {s: sum(r.split == s and r.label == 0 and r.compression == "c0" for r in rows) for s in splits}
    out: dict[str, Any] = {}
    for name in opt.gans:
        gan, method = FACE_GANS[name], f"{GAN_PREFIX}{name}"
        steps = opt.steps or gan.default_steps
        if log is not None:
            log(f"{method}: training {gan.preset} for {steps} steps on {len(train)} faces of {len(people)} people")
        t = time.perf_counter()
        shutil.rmtree(root / "models" / method, ignore_errors=True)
        net, _ = train_or_load(ctx, method, gan.preset, gan.overrides(steps))
        seconds = time.perf_counter() - t
        sampler = GANSamples(net.eval(), size)
        counts = {}
        for si, split in enumerate(splits):
            n = opt.samples or n_real[split]
            seed0 = opt.seed + 1_000_000 * (si + 1)
            crops = sampler.samples(n, seed0)  # uint8 [n, S, S, 3]
            comps = sorted({r.compression for r in rows if r.split == split}, key=lambda c: (len(c), c))
            for comp in comps:
                for k, im in enumerate(compress_crops(crops, comp)):
                    rel = f"{comp}/{split}/fake/{method}/{method}_{k:05d}.png"
                    _write(root, rel, im)
                    rows.append(ManifestRow(rel, 1, method, "", f"{method}:{split}", "", "", seed0 + k, comp, split))
            counts[split] = n
        out[method] = {"generator": gan.preset, "summary": gan.summary, "steps": steps, "seconds": round(seconds, 1),
                       "training_images": len(train), "training_people": people, "samples": counts}  # fmt: skip
    (root / "manifest.jsonl").write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows))
    from collections import Counter

    count = Counter((r.compression, r.split, r.method) for r in rows)
    info["images"] = {f"{c}/{s}/{m}": n for (c, s, m), n in sorted(count.items())}
    info["gans"] = out
    info_path.write_text(json.dumps(info, indent=1) + "\n")
    return out


def _features(model: Any, x: Any) -> np.ndarray:
    """The detector's "features" output [N, F] for uint8 images x [N, 3, H, W] (batches of 128, no gradients)."""
    import torch

    out = []
    with torch.inference_mode():
        for i in range(0, len(x), 128):
            out.append(model(x[i : i + 128].float().div(255))["features"].float().flatten(1).numpy())
    return np.concatenate(out).astype(np.float64)


def resample_through(x: Any, side: int, size: int) -> Any:
    """uint8 crops [N, 3, S, S] shrunk to `side` px (area) and enlarged back to S (bicubic, as the GAN samples
    are), then resized to `size` (bilinear, antialiased): real faces with only the low resolution of a GAN."""
    import torch.nn.functional as F

    s = x.shape[-1]
    y = F.interpolate(F.interpolate(x.float().div(255), size=(side, side), mode="area"), size=(s, s),
                      mode="bicubic", align_corners=False).clamp(0, 1).mul(255).round()  # fmt: skip
    return F.interpolate(y, size=(size, size), mode="bilinear", antialias=True).round().clamp(0, 255).byte()


def _probe(feats: np.ndarray, y: np.ndarray, c: float) -> Any:
    """An L2 logistic regression on standardised features: a function of features -> P(fake)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(feats)
    lr = LogisticRegression(C=c, max_iter=2000, random_state=0).fit(scaler.transform(feats), y)
    return lambda f: lr.predict_proba(scaler.transform(f))[:, 1]


def gan_cross_probe(model: Any, size: int, root: Path | str, c: float = 1.0, side: int = 32) -> dict[str, Any]:
    """Train-on-X / test-on-Y between the face GANs, with a linear probe on the detector's frozen features.

    For each generator X: an L2 logistic regression (standardised features, scikit-learn lbfgs) fit on the
    **calib** split (the calib people's reals vs X's calib samples, every compression level together), then the
    AP of its scores on the **test** split (the test people's reals vs each generator Y's test samples) per
    compression level. Calib and test people differ, so the probe never sees a test person; the diagonal is
    "a GAN seen in training", the off-diagonal "a GAN never seen". The detector itself is not changed.

    Control ("resampled"): the same probe fit on the calib reals vs the same reals resampled through `side` px
    (`resample_through`: no GAN at all), tested on each generator. A high AP there means the probe finds the
    GAN faces by their low resolution, not by anything a GAN leaves.

    Args:
        model: a detector (output contract: "features" [B, F]), eval mode.
        size: its input side.
        root: a face benchmark with GAN methods (`add_face_gans`).
        c: inverse L2 strength of the probe.
        side: resolution of the control's resampling (the GANs' output side).

    Returns:
        {"ap": {X: {Y: {comp: AP}}}, "auc": the same with AUC, "features": F, "fit": {X: (n_real, n_fake)}};
        {} when the benchmark has no GAN methods in both calib and test. X is a generator or "resampled".
    """
    from deepfake_lab.metrics.detection import average_precision, roc_auc
    from deepfake_lab.pipelines.bench.runner import load_images

    root = Path(root)
    rows = read_manifest(root)
    gans = sorted({r.method for r in rows if is_gan_method(r.method) and r.split == "calib"}
                  & {r.method for r in rows if is_gan_method(r.method) and r.split == "test"})  # fmt: skip
    if not gans:
        return {}
    keep = [r for r in rows if r.split in ("calib", "test") and (r.label == 0 or r.method in gans)]
    feats = _features(model, load_images(root, keep, size))
    label = np.array([r.label for r in keep])
    calib_real = np.array([r.split == "calib" and r.label == 0 for r in keep])
    crop = int(json.loads((root / "faces.json").read_text()).get("options", {}).get("size", 128))
    low = _features(model, resample_through(load_images(root, [r for r, k in zip(keep, calib_real, strict=True) if k],
                                                         crop), side, size))  # fmt: skip
    probes = {"resampled": _probe(np.concatenate([feats[calib_real], low]),
                                  np.r_[np.zeros(len(low)), np.ones(len(low))], c)}  # fmt: skip
    fit: dict[str, tuple[int, int]] = {"resampled": (len(low), len(low))}
    for x in gans:
        sel = calib_real | np.array([r.split == "calib" and r.method == x for r in keep])
        probes[x] = _probe(feats[sel], label[sel], c)
        fit[x] = (int((label[sel] == 0).sum()), int((label[sel] == 1).sum()))
    comps = sorted({r.compression for r in keep if r.split == "test"}, key=lambda c: (len(c), c))
    ap: dict[str, dict[str, dict[str, float]]] = {}
    auc: dict[str, dict[str, dict[str, float]]] = {}
    for x, probe in [*((g, probes[g]) for g in gans), ("resampled", probes["resampled"])]:
        for t in gans:
            for comp in comps:
                sel = np.array([r.split == "test" and r.compression == comp and (r.label == 0 or r.method == t)
                                for r in keep])  # fmt: skip
                s = probe(feats[sel])
                ap.setdefault(x, {}).setdefault(t, {})[comp] = round(float(average_precision(label[sel], s)), 4)
                auc.setdefault(x, {}).setdefault(t, {})[comp] = round(float(roc_auc(label[sel], s)), 4)
    return {"ap": ap, "auc": auc, "features": int(feats.shape[1]), "fit": fit}
