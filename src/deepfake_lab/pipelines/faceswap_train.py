"""Face swap of your own two clips in one call: extract both facesets, train, export (faceswap's extract → train).

`faceswap_train(A_SOURCES, B_SOURCES, OUT)` writes into the run folder OUT::

    OUT/
      faces_a/, faces_b/   the two facesets (`deepfake-lab extract` layout), unless existing facesets were given
      config.yaml          the resolved training config (the one `Trainer`)
      metrics.jsonl, tb/   losses, held-out SSIM
      samples/latest.png   the preview, refreshed every `preview_every` steps; rows: A, A→A, A→B, B, B→B, B→A
      samples/step_*.png   the previews kept
      checkpoints/last.pt  the training state (Ctrl-C saves it; the same call again resumes exactly)
      export/              <model>.safetensors + JSON card: `deepfake-lab swap VIDEO --model OUT/export/...`

Calling it again on the same OUT resumes: finished extractions are skipped (an interrupted one continues), and
training continues from the checkpoint up to `steps` (which may be raised).

Example:
    >>> from deepfake_lab.pipelines.faceswap_train import FaceswapTrainOptions, faceswap_train
    >>> res = faceswap_train(["me.mp4"], ["you.mp4"], "runs/me-you", FaceswapTrainOptions(steps=2000))  # doctest: +SKIP
    >>> res.export  # runs/me-you/export/swap-128.safetensors  # doctest: +SKIP
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepfake_lab.errors import BadInputError, OptionError, Ref
from deepfake_lab.fsutil import atomic_write_text
from deepfake_lab.pipelines.callbacks import ExtractProgress
from deepfake_lab.train.device import native_precision

__all__ = ["FaceswapTrainOptions", "FaceswapTrainResult", "faceswap_train", "init_from_export"]

SWAP_MODELS = ("swap-128", "swap-256", "swap-lite", "swap-original")


@dataclass
class FaceswapTrainOptions:
    """How to extract and train.

    Args:
        model: registered swap model (swap-128: 128 px with a learned mask; swap-256: the same drawn at 256 px;
            swap-lite: 64 px; swap-original).
        image_size: model input side (None: the model's default; facesets are extracted at this size).
        steps: total training steps (a resumed run trains up to this many).
        batch_size: faces per identity per step.
        lr: Adam learning rate.
        precision: "auto" (bf16 autocast where the CPU has native bf16 — AMX / AVX512-BF16 — or on CUDA, else
            fp32; bf16 emulated in software is ~10× slower), "fp32" or "bf16".
        preview_every: write the preview image every N steps.
        checkpoint_every: save the training state every N steps.
        margin: alignment margin of the extracted crops.
        every: extract one frame in N.
        parts_weight: extra loss weight on eyes and mouth (landmark masks).
        gan_weight: weight of a PatchGAN loss on the reconstructions (0: off; 0.1 is a usual start). It
            sharpens texture; best from a model already trained without it (`init_from`).
        learn_mask: the decoders also predict a face mask (used by `swap` to paste back; all swap models).
        mask_loss: loss of the learned mask channel against the landmark hull: "bce" or "l1".
        init_from: exported swap model to start from (weights of equal shape are copied; a learned-mask
            channel the source lacks starts fresh; a model with more decoder stages grows from one with
            fewer): a new pair trains faster from a trained one, swap-256 from a trained swap-128.
        seed: random seed.
        threads: torch threads (None: torch's default).
        device: cpu | cuda | auto.
        task_kwargs: further swap-task settings (augmentation strengths, loss weights).
    """

    model: str = "swap-128"
    image_size: int | None = None
    steps: int = 5000
    batch_size: int = 16
    lr: float = 2e-4
    precision: str = "auto"
    preview_every: int = 100
    checkpoint_every: int = 100
    margin: float = 0.1
    every: int = 1
    parts_weight: float = 1.0
    gan_weight: float = 0.0
    learn_mask: bool = True
    mask_loss: str = "bce"
    init_from: str | None = None
    seed: int = 0
    threads: int | None = None
    device: str = "cpu"
    task_kwargs: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.model not in SWAP_MODELS:
            raise OptionError(Ref("model"), f" must be one of {', '.join(SWAP_MODELS)}, got {self.model!r}")
        if self.steps < 1:
            raise OptionError(Ref("steps"), f" must be >= 1, got {self.steps}")
        if self.batch_size < 1:
            raise OptionError(Ref("batch_size"), f" must be >= 1, got {self.batch_size}")
        if self.preview_every < 1 or self.checkpoint_every < 1:
            raise OptionError(Ref("preview_every"), " and ", Ref("checkpoint_every"), " must be >= 1")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise OptionError(Ref("precision"), f" must be auto, fp32 or bf16, got {self.precision!r}")
        if self.image_size is not None and (self.image_size % 16 or not 32 <= self.image_size <= 512):
            raise OptionError(Ref("size"), f" must be a multiple of 16 in 32..512, got {self.image_size}")
        if not self.lr > 0:
            raise OptionError(Ref("lr"), f" must be > 0, got {self.lr}")
        if not 0 <= self.gan_weight <= 10:
            raise OptionError(Ref("gan_weight"), f" must be in 0..10, got {self.gan_weight}")


@dataclass
class FaceswapTrainResult:
    """What `faceswap_train` produced."""

    run_dir: Path
    faces_a: Path
    faces_b: Path
    step: int
    steps_per_second: float
    eval: dict[str, float]
    export: Path | None
    preview: Path
    resumed: bool
    precision: str


def _faceset_for(
    sources: Sequence[str | Path], folder: Path, size: int, opt: FaceswapTrainOptions, label: str,
    progress: ExtractProgress | None,
) -> Path:  # fmt: skip
    """An existing faceset (one source that is a faceset folder) or `extract` of the sources into `folder`."""
    from deepfake_lab.data.faceset import faceset_margin, is_faceset

    if not sources:
        raise BadInputError(f"no sources for identity {label}")
    if len(sources) == 1 and is_faceset(sources[0]):
        return Path(sources[0])
    for s in sources:
        if is_faceset(s):
            raise BadInputError(f"{s} is a faceset: give it alone for identity {label}, not with other sources")
        if not Path(s).exists():
            raise BadInputError(f"{s}: no such file or folder (identity {label})")
    from deepfake_lab.faces.extract import ExtractOptions
    from deepfake_lab.pipelines.extract import extract

    eo = ExtractOptions(size=size, margin=opt.margin, every=opt.every, max_faces=1)
    if is_faceset(folder) and abs(faceset_margin(folder) - opt.margin) > 1e-6:
        raise BadInputError(f"{folder} was extracted with another --margin; use another output folder")
    report = extract(list(sources), folder, eo, progress=progress)
    if report.faces == 0 and not is_faceset(folder):
        errs = "; ".join(f"{r.source}: {r.message}" for r in report.errors) or "no face found"
        raise BadInputError(f"identity {label}: no faces extracted ({errs})")
    return folder


def _decoder_stages(state: dict[str, Any]) -> int:
    """Number of upscale blocks of decoder "a" in a swap model's state dict."""
    return len({k.split(".")[3] for k in state if k.startswith("decoders.a.ups.")})


def init_from_export(net: Any, path: str | Path) -> int:
    """Copy the weights of an exported swap model of the same kind into `net`; returns the number copied.

    Tensors of equal shape are copied. A decoder output conv with fewer channels (RGB only, no learned mask)
    fills the first channels. Growing: when `net`'s decoders have more upscale stages than the source's (a
    swap-256 from a swap-128), the source's encoder and stages are copied and the new stages and output conv
    start fresh.

    Raises:
        BadInputError: not a swap model, or any other tensor differs (another architecture or image size).
    """
    import torch

    from deepfake_lab.train.checkpoint import load_exported

    src, _ = load_exported(Path(path), family="swap", what="a face-swap model", hint="give an exported swap model")
    mine = net.state_dict()
    theirs = src.state_dict()
    n_src = _decoder_stages(theirs)
    grown = _decoder_stages(mine) > n_src

    def fresh(k: str) -> bool:  # a tensor that exists only because `net` has more decoder stages
        if not (grown and k.startswith("decoders.")):
            return False
        parts = k.split(".")
        return parts[2] == "out" or (parts[2] == "ups" and int(parts[3]) >= n_src)

    copied, mismatched = 0, []
    with torch.no_grad():
        for k, t in mine.items():
            v = theirs.get(k)
            if fresh(k):
                continue
            if v is None:
                mismatched.append(k)
            elif t.shape == v.shape:
                t.copy_(v)
                copied += 1
            elif t.dim() == v.dim() and t.shape[1:] == v.shape[1:] and t.shape[0] > v.shape[0] and k.endswith(
                (".out.weight", ".out.bias")
            ):
                t[: v.shape[0]].copy_(v)  # the RGB part of an RGB + mask output conv; the mask starts fresh
                copied += 1
            else:
                mismatched.append(k)
    if mismatched:
        raise BadInputError(
            f"--init-from {path}: {len(mismatched)} of {len(mine)} tensors do not match this model "
            f"(e.g. {mismatched[0]}); give a model of the same kind and size"
        )
    return copied


def _split_summary(root: Path, split: str, holdout: float) -> dict[str, Any]:
    """The card's summary of one faceset split (as `Faceset.summary`), from faces.jsonl alone (no images)."""
    from deepfake_lab.data.faceset import read_records, split_records, split_summary

    return split_summary(str(root), split_records(read_records(root), split, holdout), split, holdout)


def swap_card_fields(
    cfg: Any, faces_a: Path, faces_b: Path, sources_a: Sequence[str | Path], sources_b: Sequence[str | Path]
) -> dict[str, Any]:
    """What a face-swap card adds to the trainer's: RGB input, crop policy, data split per identity, usage."""
    import inspect

    from deepfake_lab.data.faceset import DEFAULT_HOLDOUT
    from deepfake_lab.models.catalogue import model_entry

    params = inspect.signature(model_entry(cfg.model).factory).parameters
    learn_mask = cfg.model_kwargs.get("learn_mask", params["learn_mask"].default if "learn_mask" in params else False)
    size = int(cfg.model_kwargs.get("image_size", 64))
    margin = float(cfg.model_kwargs.get("crop_margin", 0.1))
    holdout = float(cfg.task_kwargs.get("holdout", DEFAULT_HOLDOUT))
    split = {}
    for side, root, srcs in (("a", faces_a, sources_a), ("b", faces_b, sources_b)):
        split[side] = {
            "identity": f"identity {side.upper()}: " + ", ".join(Path(str(s)).name for s in srcs),
            "train": _split_summary(Path(root), "train", holdout),
            "held_out": _split_summary(Path(root), "test", holdout),
        }
    return {
        "input": {"shape": [3, size, size], "layout": "RGB"},
        "training": {"data_split": split, "held_out_rule": "per source, faces ordered by frame index; the last "
                     f"{holdout:.0%} are held out (never trained on)"},
        "description": f"Autoencoder face swap ({cfg.model}: shared encoder, decoder per identity) trained with "
        "`deepfake-lab faceswap-train`; decoder 'a' renders identity A, 'b' identity B.",
        "crop_policy": {
            "aligner": "deepfake_lab.faces.align_face (MediaPipe mesh -> 68-point similarity to the template)",
            "size": size,
            "margin": margin,
            "mask": "learned mask channel (eroded + feathered) within the landmark hull"
            if learn_mask
            else "hull of the 68 landmarks, feathered",
        },
        "usage": "deepfake-lab swap VIDEO --model model.safetensors --to b -o out.mp4",
        "responsible_use": "For teaching and detector research. Outputs are labelled synthetic (container metadata "
        "+ JSON sidecar). Do not use on people without their consent.",
    }


def add_swap_guard(export: Path, net: Any, faces_a: Path, faces_b: Path) -> dict[str, Any]:
    """Write the `swap_guard` statistics of the training faces (`pipelines.swap_guard`) into an export's card."""
    import json

    from deepfake_lab.pipelines.swap_guard import fit_swap_guard

    card_path = Path(export).with_suffix(".json")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    was_training = net.training
    card["swap_guard"] = fit_swap_guard(net, faces_a, faces_b)
    net.train(was_training)
    atomic_write_text(card_path, json.dumps(card, indent=2) + "\n")
    return card["swap_guard"]


def faceswap_train(
    sources_a: Sequence[str | Path],
    sources_b: Sequence[str | Path],
    out: str | Path,
    options: FaceswapTrainOptions | None = None,
    *,
    progress: bool = True,
    console: Any = None,
    extract_progress: ExtractProgress | None = None,
    command: str | None = None,
) -> FaceswapTrainResult:
    """Extract (or take) the facesets of identities A and B, train a face-swap model on them and export it.

    Args:
        sources_a: videos / images / folders of identity A, or one existing faceset folder.
        sources_b: the same for identity B.
        out: the run folder (see module docstring); an existing run there is resumed.
        options: `FaceswapTrainOptions`.
        progress: draw the trainer's progress bar with ETA.
        console: rich console for the trainer's messages.
        extract_progress: callbacks of the extraction.
        command: the command line recorded in the model card.

    Returns:
        `FaceswapTrainResult` (export path, held-out SSIM of A→A and B→B, preview path).

    Raises:
        BadInputError: bad options or sources, no faces, an OUT that holds something else.
        TrainingInterrupted: Ctrl-C; the checkpoint is saved and the same call resumes.
        KeyboardInterrupt: Ctrl-C during extraction; the same call resumes it.
    """
    from deepfake_lab.models.catalogue import model_entry
    from deepfake_lab.train.run import build_run_config
    from deepfake_lab.train.trainer import CHECKPOINT_NAME, Trainer, resume_config

    opt = options or FaceswapTrainOptions()
    opt.validate()
    run = Path(out)
    if run.exists() and not run.is_dir():
        raise BadInputError(f"{run} exists and is not a folder")
    command = command or shlex.join(["deepfake-lab", *sys.argv[1:]])
    resumed = (run / CHECKPOINT_NAME).is_file()
    if resumed:
        cfg = resume_config(run)
        if cfg.model != opt.model and opt.model != FaceswapTrainOptions.model:
            raise BadInputError(f"{run} holds a {cfg.model} run; --model {opt.model} needs another output folder")
        cfg.train.steps = max(opt.steps, 1)
        faces_a, faces_b = Path(cfg.data.name), Path(str(cfg.task_kwargs.get("faces_b")))
        trainer = Trainer(cfg, run, progress=progress, console=console, command=command)
    else:
        ours = (run / "faces_a").is_dir() or (run / "config.yaml").exists()
        if run.is_dir() and any(run.iterdir()) and not ours:
            raise BadInputError(f"{run} is not empty and holds no face-swap run; give a new or empty folder")
        import inspect

        params = inspect.signature(model_entry(opt.model).factory).parameters
        size = int(opt.image_size or params["image_size"].default)
        faces_a = _faceset_for(sources_a, run / "faces_a", size, opt, "A", extract_progress)
        faces_b = _faceset_for(sources_b, run / "faces_b", size, opt, "B", extract_progress)
        from deepfake_lab.data.faceset import faceset_margin

        if abs(faceset_margin(faces_a) - faceset_margin(faces_b)) > 1e-6:
            raise BadInputError(f"facesets {faces_a} and {faces_b} were extracted with different --margin values")
        precision = native_precision(opt.device) if opt.precision == "auto" else opt.precision
        task_kwargs = {"faces_b": str(faces_b), "parts_weight": opt.parts_weight, **opt.task_kwargs}
        if opt.gan_weight > 0:
            task_kwargs["gan_weight"] = opt.gan_weight
        cfg = build_run_config(opt.model)
        cfg.model_kwargs = {"image_size": size, "crop_margin": faceset_margin(faces_a)}
        if "learn_mask" in params:
            cfg.model_kwargs["learn_mask"] = bool(opt.learn_mask)
            task_kwargs.setdefault("mask_loss", opt.mask_loss)
        cfg.task_kwargs = task_kwargs
        cfg.data.name, cfg.data.channels, cfg.data.image_size = str(faces_a), 5, size
        cfg.optim.lr = float(opt.lr)
        t = cfg.train
        t.steps, t.batch_size, t.seed, t.precision = opt.steps, opt.batch_size, opt.seed, precision
        t.device = opt.device
        t.sample_every, t.checkpoint_every, t.threads = opt.preview_every, opt.checkpoint_every, opt.threads
        t.log_every = min(t.log_every, opt.preview_every)
        cfg.name, cfg.runs_dir = run.name, str(run.parent)
        trainer = Trainer(cfg, run, progress=progress, console=console, command=command)
        if opt.init_from:
            init_from_export(trainer.task.nets["model"], opt.init_from)
    trainer.card_extra = swap_card_fields(trainer.cfg, faces_a, faces_b, sources_a, sources_b)
    result = trainer.fit(resume=resumed)
    if result.export is not None:
        add_swap_guard(result.export, trainer.task.nets["model"], faces_a, faces_b)
    return FaceswapTrainResult(
        run_dir=run, faces_a=faces_a, faces_b=faces_b, step=result.step, steps_per_second=result.steps_per_second,
        eval=result.eval, export=result.export, preview=run / "samples" / "latest.png", resumed=resumed,
        precision=trainer.cfg.train.precision,
    )  # fmt: skip
