"""Fake-generation methods of the detection benchmark, one registered plugin each.

Two kinds (the registry family):

* "face": manipulates one face of one video frame: `method(frame, landmarks68, target) -> new frame` (or
  None to skip). The benchmark then cuts the same aligned crop out of the new frame as out of the real one.
* "sample": makes whole face crops from nothing: `method.samples(n, seed) -> uint8 [n, S, S, 3]`.

A factory takes the `MethodContext` (train-split faces, donor bank, options) and returns the method, or
raises `MethodUnavailable` with a one-line reason (missing weights, too few faces). Adding a method =
one decorated factory here, e.g. a CycleGAN or pix2pix generator once those models exist::

    @BENCH_METHODS.register("my-method", family="face", summary="what it does")
    def my_method(ctx: MethodContext) -> FaceMethod: ...

Nothing here writes provenance marks: benchmark fakes are deliberately unlabelled (see `bench.manifest`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import torch

from deepfake_lab.errors import DeepfakeLabError
from deepfake_lab.faces.align import align_face, transform_points
from deepfake_lab.faces.blend import blend_face
from deepfake_lab.faces.colour import colour_transfer
from deepfake_lab.faces.mask import face_mask
from deepfake_lab.registry import Registry

__all__ = [
    "BENCH_METHODS",
    "DonorFace",
    "FaceMethod",
    "GANSamples",
    "MethodContext",
    "MethodUnavailable",
    "SampleMethod",
    "Target",
    "piecewise_affine_warp",
    "train_or_load",
]

PASTE = 256  # side of the aligned working crop the face methods render at


class MethodUnavailable(DeepfakeLabError):
    """A generation method cannot run here (missing weights, too few training faces, ...)."""


@dataclass
class Target:
    """The face a face method works on: which video, identity, split and frame."""

    video: str
    identity: str
    split: str
    frame: int
    ordinal: int  # position among the selected frames of this video and split


@dataclass
class DonorFace:
    """A face of another identity aligned at `PASTE` px: crop (P, P, 3) uint8, landmarks68 (68, 2) in the crop."""

    image: np.ndarray
    landmarks68: np.ndarray


class FaceMethod(Protocol):
    donor_of: Callable[[Target], str]

    def __call__(self, frame: np.ndarray, landmarks68: np.ndarray, target: Target) -> np.ndarray | None: ...


class SampleMethod(Protocol):
    def samples(self, n: int, seed: int) -> np.ndarray: ...


@dataclass
class MethodContext:
    """What factories get.

    Attributes:
        margin: alignment margin of the benchmark crops.
        size: side of the benchmark crops.
        train_faces: folder of train-split real crops (for generators trained here).
        train_faces_by_identity: identity -> folder of its train-split real crops.
        work: folder for models trained by factories (reused when a run is resumed).
        donors: identity -> split -> consecutive donor faces (for graphics swaps).
        identities: identities of the corpus videos.
        options: per-method options (`BenchOptions.method_options`).
        seed: seed for anything random.
        threads: torch threads.
        progress: whether trainings show a progress bar.
    """

    margin: float
    size: int
    train_faces: Path
    work: Path
    train_faces_by_identity: dict[str, Path] = field(default_factory=dict)
    donors: dict[str, dict[str, list[DonorFace]]] = field(default_factory=dict)
    identities: list[str] = field(default_factory=list)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    seed: int = 0
    threads: int = 1
    progress: bool = True

    def opt(self, method: str, key: str, default: Any) -> Any:
        return self.options.get(method, {}).get(key, default)


BENCH_METHODS: Registry[Any] = Registry("bench method")


def _paste_rendered(frame: np.ndarray, landmarks68: np.ndarray, a: Any, y: torch.Tensor) -> np.ndarray:
    """Paste a rendered face y [3, s, s] in [0, 1] back over the aligned crop `a` (PASTE px) of `frame`:
    cubic upscale, Reinhard colour match inside the eroded, feathered face mask, feathered blend."""
    p = PASTE
    img = (y.permute(1, 2, 0).float().numpy() * 255 + 0.5).astype(np.uint8)
    big = cv2.resize(img, (p, p), interpolation=cv2.INTER_CUBIC)
    mask = face_mask(a.to_crop(landmarks68), (p, p), grow=-int(round(0.02 * p)), feather=0.06 * p)
    big = colour_transfer(big, a.image, mask, "reinhard")
    return blend_face(frame, big, a.matrix, mask, "feather")


def _other_identity(ctx: MethodContext, identity: str) -> str | None:
    """The donor identity for `identity`: the next identity (in sorted order) that has donor faces."""
    others = [i for i in sorted(ctx.donors) if i != identity and ctx.donors[i]]
    if not others:
        return None
    names = sorted(set(ctx.identities) | set(others))
    start = names.index(identity) if identity in names else -1
    for k in range(1, len(names) + 1):
        cand = names[(start + k) % len(names)]
        if cand in others:
            return cand
    return others[0]


def _donor_face(ctx: MethodContext, target: Target) -> DonorFace | None:
    """The donor face for `target`: from the other identity's bank of the target's split (else any bank),
    picked by the target's ordinal; None when no other identity has faces."""
    donor_id = _other_identity(ctx, target.identity)
    if donor_id is None:
        return None
    bank = ctx.donors[donor_id].get(target.split) or next(iter(ctx.donors[donor_id].values()))
    return bank[target.ordinal % len(bank)] if bank else None


# ---------------------------------------------------------------- (a) autoencoder face swap
DEFAULT_SWAP_ASSET = Path(__file__).resolve().parents[2] / "assets" / "swap-lite-wolfgang-man.safetensors"
# the shipped swap model's identities: decoder "a" renders the woman, "b" the man
DEFAULT_SWAP_TARGETS = {"woman": "b", "man": "a"}


class _AESwap:
    """The face-swap "convert" step on one face (what `swap_video.FaceSwapper` does, with 68 landmarks)."""

    def __init__(self, model: Any, targets: dict[str, str]) -> None:
        from deepfake_lab.pipelines.swap_video import SwapOptions

        self.model, self.targets, self.opt = model, targets, SwapOptions()
        names = {"a": "woman", "b": "man"}
        self.donor_of = lambda t: names.get(self.targets.get(t.identity, ""), "")

    def __call__(self, frame: np.ndarray, landmarks68: np.ndarray, target: Target) -> np.ndarray | None:
        to = self.targets.get(target.identity)
        if to is None:
            return None
        p, s, opt = PASTE, self.model.image_size, self.opt
        a = align_face(frame, landmarks68, p, self.model.margin)
        small = cv2.resize(a.image, (s, s), interpolation=cv2.INTER_AREA)[None]
        out, learned, _ = self.model.swap(small, to)
        big = cv2.resize(out[0], (p, p), interpolation=cv2.INTER_CUBIC)
        mask = face_mask(
            a.to_crop(landmarks68), (p, p), grow=-int(round(opt.mask_erode * p)), feather=opt.mask_feather * p
        )
        if learned is not None:
            mask = mask * cv2.resize(learned[0], (p, p), interpolation=cv2.INTER_LINEAR)
        big = colour_transfer(big, a.image, mask, opt.colour)
        return blend_face(frame, big, a.matrix, mask, opt.blend)


@BENCH_METHODS.register(
    "ae-swap", family="face", summary="autoencoder face swap with the shipped swap-lite model (woman <-> man)"
)
def ae_swap(ctx: MethodContext) -> FaceMethod:
    """Shared-encoder / two-decoder face swap (the shipped `swap-lite-wolfgang-man` model)."""
    from deepfake_lab.pipelines.swap_video import load_swap_model

    path = Path(ctx.opt("ae-swap", "model", DEFAULT_SWAP_ASSET))
    if not path.is_file():
        raise MethodUnavailable(f"swap model {path} not found")
    targets = dict(ctx.opt("ae-swap", "targets", DEFAULT_SWAP_TARGETS))
    if not set(targets) & set(ctx.identities):
        raise MethodUnavailable(f"the swap model renders {sorted(targets)}, none of which is in the corpus")
    return _AESwap(load_swap_model(path), targets)


# ---------------------------------------------------------------- (b) classical graphics swap
def piecewise_affine_warp(src: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray, size: int) -> np.ndarray:
    """Warp `src` so that `src_pts` land on `dst_pts`, one affine map per Delaunay triangle of `dst_pts`.

    Args:
        src: (H, W, 3) uint8 image.
        src_pts, dst_pts: (K, 2) matching points (pixels of src / of the output).
        size: output side.

    Returns:
        (size, size, 3) uint8; pixels outside the triangulated hull are 0.
    """
    from scipy.spatial import Delaunay

    out = np.zeros((size, size, 3), np.uint8)
    tri = Delaunay(dst_pts).simplices
    for t in tri:
        d = dst_pts[t].astype(np.float32)
        s = src_pts[t].astype(np.float32)
        x, y, w, h = cv2.boundingRect(np.round(d).astype(np.int32))
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w + 1, size), min(y + h + 1, size)
        if x1 <= x0 or y1 <= y0:
            continue
        m = cv2.getAffineTransform(s, d - np.array([x0, y0], np.float32))
        patch = cv2.warpAffine(src, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        tmask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(tmask, np.round(d - [x0, y0]).astype(np.int32), 1)
        region = out[y0:y1, x0:x1]
        region[tmask > 0] = patch[tmask > 0]
    return out


class _GraphicsSwap:
    """FaceSwap-style: the donor face warped onto the target's landmarks, colour-matched, Poisson-blended."""

    def __init__(self, ctx: MethodContext, blend: str) -> None:
        self.ctx, self.blend = ctx, blend
        self.donor_of = lambda t: _other_identity(self.ctx, t.identity) or ""

    def __call__(self, frame: np.ndarray, landmarks68: np.ndarray, target: Target) -> np.ndarray | None:
        donor = _donor_face(self.ctx, target)
        if donor is None:
            return None
        p = PASTE
        a = align_face(frame, landmarks68, p, self.ctx.margin)
        dst = a.to_crop(landmarks68)
        warped = piecewise_affine_warp(donor.image, donor.landmarks68, dst, p)
        mask = face_mask(dst, (p, p), grow=-int(round(0.03 * p)), feather=0.04 * p)
        inside = mask > 0.5
        if inside.sum() < 64:
            return None
        face = a.image.copy()
        face[inside] = warped[inside]
        face = colour_transfer(face, a.image, mask, "reinhard")
        return blend_face(frame, face, a.matrix, mask, self.blend)


@BENCH_METHODS.register(
    "graphics-swap", family="face", summary="landmark-warped face of another identity + colour transfer + Poisson blend"
)
def graphics_swap(ctx: MethodContext) -> FaceMethod:
    """Classical graphics swap (like FaceForensics++'s FaceSwap, with a 2-D piecewise-affine warp)."""
    if sum(1 for v in ctx.donors.values() if any(v.values())) < 2:
        raise MethodUnavailable("a graphics swap needs faces of at least two identities")
    return _GraphicsSwap(ctx, str(ctx.opt("graphics-swap", "blend", "poisson")))


# ---------------------------------------------------------------- (c) pseudo-fakes from real faces alone
class _PseudoFake:
    """Self-blend (of the face with a perturbed copy of itself) or Face X-ray blend (with a landmark-matched
    face of another identity from the donor bank), rendered on the aligned working crop and pasted back."""

    def __init__(self, ctx: MethodContext, kind: str) -> None:
        self.ctx, self.kind = ctx, kind
        self.rng = np.random.default_rng(ctx.seed + (0 if kind == "self-blend" else 1))
        self.donor_of = lambda t: "" if kind == "self-blend" else (_other_identity(self.ctx, t.identity) or "")

    def __call__(self, frame: np.ndarray, landmarks68: np.ndarray, target: Target) -> np.ndarray | None:
        from deepfake_lab.faces.pseudo_fake import self_blend, xray_blend

        p = PASTE
        a = align_face(frame, landmarks68, p, self.ctx.margin)
        pts = a.to_crop(landmarks68)
        if self.kind == "self-blend":
            fake, mask = self_blend(a.image, pts, self.rng)
        else:
            donor = _donor_face(self.ctx, target)
            if donor is None:
                return None
            fake, mask = xray_blend(a.image, donor.image, pts, self.rng, donor.landmarks68)
        region = cv2.dilate((mask > 1e-3).astype(np.float32), np.ones((5, 5), np.uint8))
        return blend_face(frame, fake, a.matrix, region, "feather")


@BENCH_METHODS.register(
    "self-blend", family="face", summary="SBI: the face blended into a colour/frequency/geometry-perturbed copy"
)
def self_blend_method(ctx: MethodContext) -> FaceMethod:
    """Self-blended image (Shiohara & Yamasaki 2022) through a deformed landmark-hull mask."""
    return _PseudoFake(ctx, "self-blend")


@BENCH_METHODS.register(
    "xray-blend", family="face", summary="Face X-ray: a landmark-matched face of another identity blended in"
)
def xray_blend_method(ctx: MethodContext) -> FaceMethod:
    """Face X-ray blend (Li et al. 2020) of two real identities."""
    if sum(1 for v in ctx.donors.values() if any(v.values())) < 2:
        raise MethodUnavailable("a Face X-ray blend needs faces of at least two identities")
    return _PseudoFake(ctx, "xray-blend")


# ---------------------------------------------------------------- trained generators (through the one Trainer)
def train_or_load(ctx: MethodContext, name: str, model: str, overrides: list[str]) -> tuple[torch.nn.Module, dict]:
    """Train `model` on the train-split real faces with the Trainer (once; reused when resuming) -> (the exported
    network, its card). Shared by the bench methods that train a model here and by `face_gan`."""
    from deepfake_lab.errors import BadInputError
    from deepfake_lab.train.checkpoint import load_exported
    from deepfake_lab.train.run import build_run_config
    from deepfake_lab.train.trainer import Trainer

    run = ctx.work / name
    export = run / "export" / "model.safetensors"
    if not export.is_file():
        n = sum(1 for _ in ctx.train_faces.glob("*.png"))
        if n < 16:
            raise MethodUnavailable(f"{name} needs at least 16 train-split faces, found {n}")
        if run.exists():  # an interrupted training: start it again
            import shutil

            shutil.rmtree(run)
        common = [f"data.name={ctx.train_faces}", f"train.seed={ctx.seed}", f"train.threads={ctx.threads}",
                  "train.sample_every=100000", "train.checkpoint_every=100000", "train.log_every=50"]  # fmt: skip
        try:
            cfg = build_run_config(model, overrides=[*common, *overrides])
        except BadInputError as exc:  # e.g. a model this installation does not have
            raise MethodUnavailable(str(exc)) from None
        Trainer(cfg, run, progress=ctx.progress, tensorboard=False, command=f"deepfake-lab bench build ({name})").fit()
    return load_exported(export)


class _AERecon:
    """An autoencoder trained on the corpus faces re-renders each face (the deepfake decoder without a swap)."""

    def __init__(self, net: torch.nn.Module, margin: float) -> None:
        self.net, self.margin = net, margin
        self.side = int(net.in_shape[1])
        self.donor_of = lambda t: ""

    @torch.no_grad()
    def __call__(self, frame: np.ndarray, landmarks68: np.ndarray, target: Target) -> np.ndarray | None:
        p, s = PASTE, self.side
        a = align_face(frame, landmarks68, p, self.margin)
        small = cv2.resize(a.image, (s, s), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(small).permute(2, 0, 1)[None].float().div(255)
        return _paste_rendered(frame, landmarks68, a, self.net(x)[0].clamp(0, 1))


@BENCH_METHODS.register(
    "ae-recon", family="face", summary="conv autoencoder trained on the train-split faces re-renders each face"
)
def ae_recon(ctx: MethodContext) -> FaceMethod:
    """Conv autoencoder (64 px, 128-d code) trained here on the train-split real faces; blended back."""
    steps = int(ctx.opt("ae-recon", "steps", 1500))
    side = int(ctx.opt("ae-recon", "image_size", 64))
    net, _ = train_or_load(
        ctx, "ae-recon", "ae-conv",
        [f"data.image_size={side}", "data.channels=3", f"train.steps={steps}", "train.batch_size=32",
         "model_kwargs.channels=[32,64,128]", "model_kwargs.latent_dim=128", "optim.lr=0.002"],
    )  # fmt: skip
    return _AERecon(net.eval(), ctx.margin)


class GANSamples:
    """Samples of a trained GAN generator, upscaled (bicubic) to `size`: `samples(n, seed)` -> (n, size, size, 3)
    uint8 RGB (the video bench's "gan" method and the face benchmark's GAN faces)."""

    def __init__(self, net: torch.nn.Module, size: int) -> None:
        self.net, self.size = net, size

    @torch.no_grad()
    def samples(self, n: int, seed: int) -> np.ndarray:
        from deepfake_lab.pipelines.generate import sample_images

        x = sample_images(self.net, n, seed=seed)
        x = torch.nn.functional.interpolate(x, size=(self.size, self.size), mode="bicubic", align_corners=False)
        return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


@BENCH_METHODS.register("gan", family="sample", summary="DCGAN-32 trained on the train-split faces, upsampled")
def gan_samples(ctx: MethodContext) -> SampleMethod:
    """DCGAN-32 trained here for a few minutes on the train-split real faces; samples upscaled (bicubic)."""
    from deepfake_lab.train.device import device_name, native_precision

    steps = int(ctx.opt("gan", "steps", 1500))
    # bf16 only where the hardware has it: elsewhere DCGAN's transposed convolutions ran ~25x slower (fp32)
    precision = native_precision(device_name("auto"))
    net, _ = train_or_load(
        ctx, "gan", "dcgan-32",
        ["data.image_size=32", "data.channels=3", f"train.steps={steps}", "train.batch_size=64",
         "optim.lr=0.0002", "optim.betas=[0.5,0.999]", f"train.precision={precision}"],
    )  # fmt: skip
    return GANSamples(net.eval(), ctx.size)


class _CycleSwap:
    """A CycleGAN generator translates the aligned face to the other identity; pasted back like a swap."""

    def __init__(self, net: torch.nn.Module, margin: float, a: str, b: str) -> None:
        self.net, self.margin, self.a, self.b = net, margin, a, b
        self.side = int(net.out_shape[1])
        self.donor_of = lambda t: self.b if t.identity == self.a else self.a if t.identity == self.b else ""

    @torch.no_grad()
    def __call__(self, frame: np.ndarray, landmarks68: np.ndarray, target: Target) -> np.ndarray | None:
        if target.identity not in (self.a, self.b):
            return None
        p, s = PASTE, self.side
        a = align_face(frame, landmarks68, p, self.margin)
        small = cv2.resize(a.image, (s, s), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(small).permute(2, 0, 1)[None].float().div(127.5).sub(1)
        y = self.net.translate(x, "ab" if target.identity == self.a else "ba")[0].add(1).div(2).clamp(0, 1)
        return _paste_rendered(frame, landmarks68, a, y)


@BENCH_METHODS.register(
    "cyclegan-swap", family="face", summary="CycleGAN trained here on two identities' faces (unpaired), pasted back"
)
def cyclegan_swap(ctx: MethodContext) -> FaceMethod:
    """CycleGAN (models/gans/cyclegan.py) between the two identities with the most train faces, 64 px."""
    folders = ctx.train_faces_by_identity
    ranked = sorted(folders, key=lambda i: -sum(1 for _ in folders[i].glob("*.png")))
    ids = list(ctx.opt("cyclegan-swap", "identities", ranked[:2]))
    if len(ids) < 2 or any(i not in folders for i in ids):
        raise MethodUnavailable("a CycleGAN swap needs train faces of two identities")
    steps = int(ctx.opt("cyclegan-swap", "steps", 600))
    net, _ = train_or_load(
        ctx, "cyclegan-swap", "cyclegan",
        [f"data.name={folders[ids[0]]}", f"task_kwargs.data_b={folders[ids[1]]}", "data.image_size=64",
         "data.channels=3", f"train.steps={steps}", "train.batch_size=2", "model_kwargs.width=16",
         "model_kwargs.n_blocks=4", "model_kwargs.d_width=16", "optim.lr=0.0002", "optim.betas=[0.5,0.999]"],
    )  # fmt: skip
    return _CycleSwap(net.eval(), ctx.margin, ids[0], ids[1])


class _Reenact:
    """pix2pix renders a face from the FaceMesh sketch of the target face; pasted back (facial reenactment)."""

    def __init__(self, net: torch.nn.Module, margin: float, size: int, identity: str) -> None:
        from deepfake_lab.data.paired import MeshSketcher

        self.net, self.margin, self.size, self.identity = net, margin, size, identity
        self.side = int(net.out_shape[1])
        self.sketcher = MeshSketcher()
        self.donor_of = lambda t: "" if t.identity == self.identity else self.identity

    @torch.no_grad()
    def __call__(self, frame: np.ndarray, landmarks68: np.ndarray, target: Target) -> np.ndarray | None:
        p, s = PASTE, self.side
        crop = align_face(frame, landmarks68, self.size, self.margin).image  # the crops the pairs were made of
        sketch = self.sketcher(cv2.resize(crop, (s, s), interpolation=cv2.INTER_AREA))
        if sketch is None:
            return None
        x = torch.from_numpy(sketch).permute(2, 0, 1)[None].float().div(127.5).sub(1)
        y = self.net.translate(x)[0].add(1).div(2).clamp(0, 1)
        return _paste_rendered(frame, landmarks68, align_face(frame, landmarks68, p, self.margin), y)


@BENCH_METHODS.register(
    "pix2pix-reenact", family="face",
    summary="pix2pix trained here to render one person's face from FaceMesh sketches, driven by each frame's mesh",
)  # fmt: skip
def pix2pix_reenact(ctx: MethodContext) -> FaceMethod:
    """pix2pix (models/gans/pix2pix.py) mesh sketch -> face of the identity with the most train faces, 64 px.

    Its own frames get a self-reenactment (the face re-rendered from its landmarks, like NeuralTextures);
    the other people's frames get that person's face driven by their landmarks.
    """
    import shutil

    from deepfake_lab.errors import BadInputError

    folders = ctx.train_faces_by_identity
    if not folders:
        raise MethodUnavailable("pix2pix reenactment needs train faces")
    ident = str(
        ctx.opt("pix2pix-reenact", "identity", max(folders, key=lambda i: sum(1 for _ in folders[i].glob("*.png"))))
    )
    if ident not in folders:
        raise MethodUnavailable(f"no train faces of {ident!r}")
    pairs = ctx.work / "pix2pix-pairs"
    if not (pairs / "pairs.json").is_file():
        shutil.rmtree(pairs, ignore_errors=True)
        try:
            from deepfake_lab.data.paired import make_pairs

            make_pairs(folders[ident], pairs, kind="mesh", image_size=64)
        except (BadInputError, ImportError) as exc:
            raise MethodUnavailable(f"cannot make mesh -> face pairs: {exc}") from None
    steps = int(ctx.opt("pix2pix-reenact", "steps", 600))
    net, _ = train_or_load(
        ctx, "pix2pix-reenact", "pix2pix",
        [f"data.name={pairs}", f"train.steps={steps}", "train.batch_size=4", "model_kwargs.width=32",
         "optim.lr=0.0002", "optim.betas=[0.5,0.999]"],
    )  # fmt: skip
    return _Reenact(net.eval(), ctx.margin, ctx.size, ident)


def method_names(kind: str | None = None) -> list[str]:
    """Registered method names (of one kind: "face" or "sample")."""
    return BENCH_METHODS.names(kind)


def method_summaries() -> dict[str, str]:
    return {e.name: str(e.tags.get("summary", e.summary)) for e in BENCH_METHODS}


def _align_donor(frame: np.ndarray, landmarks68: np.ndarray, margin: float) -> DonorFace:
    a = align_face(frame, landmarks68, PASTE, margin)
    return DonorFace(a.image, transform_points(landmarks68, a.matrix))
