"""Convert a video or image with a trained face-swap model (the "convert" stage).

Per frame: detect / track faces → align each at `paste_size` with the model's crop margin → shrink to the
model size → shared encoder → the target identity's decoder → enlarge → colour transfer (Reinhard L*a*b*
or histogram matching) onto the original face → blend with the feathered landmark mask or Poisson
seamless cloning → paste back with the kept alignment matrix. Frames without a face pass through
unchanged. Videos are streamed (flat memory) and written as H.264 with the source's audio; images in give
an image out.

Every output says what it is:
- a JSON sidecar `<output>.json` lists the replaced frames / faces, the model (card name + SHA-256 of the
  weights), the options and the source;
- MP4 container metadata `comment` carries `synthetic: true` with the tool and model id (PNG: a text chunk);
- every frame carries the invisible watermark and the file a signed C2PA manifest (`deepfake_lab.provenance`),
  unless `provenance=False` (--no-provenance).

Example:
    >>> from deepfake_lab.pipelines.swap_video import SwapOptions, swap_media
    >>> report = swap_media("in.mp4", "model.safetensors", "out.mp4", SwapOptions(to="b"))  # doctest: +SKIP
    >>> report.frames_replaced, report.sidecar  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from deepfake_lab import __version__
from deepfake_lab.errors import BadInputError, OptionError, Ref
from deepfake_lab.faces.align import align_face
from deepfake_lab.faces.blend import BLEND_MODES, blend_face
from deepfake_lab.faces.colour import COLOUR_MODES, colour_transfer
from deepfake_lab.faces.detail import UPSCALERS, decoder_pixel, transfer_detail, unsharp_mask, upscale
from deepfake_lab.faces.detect import create_detector
from deepfake_lab.faces.mask import face_mask, paste_mask
from deepfake_lab.faces.track import FaceAnalyzer
from deepfake_lab.faces.types import Face
from deepfake_lab.fsutil import sha256_file
from deepfake_lab.models.cards import resolve_export
from deepfake_lab.pipelines.swap_guard import FaceCheck, SwapGuard, masked_l1, pose_feature
from deepfake_lab.provenance.label import Provenance, tmp_output
from deepfake_lab.train.checkpoint import load_exported
from deepfake_lab.video.image import IMAGE_EXTENSIONS
from deepfake_lab.video.reader import open_media
from deepfake_lab.video.writer import VideoWriter

__all__ = [
    "SIDECAR_KIND",
    "FaceSwapper",
    "SwapModel",
    "SwapOptions",
    "SwapReport",
    "check_swap_output",
    "load_swap_model",
    "swap_media",
]

SIDECAR_KIND = "deepfake-lab/swap-output"
SIDECAR_VERSION = 1
VIDEO_OUT_SUFFIXES = (".mp4", ".mov", ".mkv")


@dataclass
class SwapOptions:
    """How to convert.

    Args:
        to: identity whose decoder renders the faces ("a" or "b").
        colour: colour transfer onto the original face: "reinhard", "histogram" or "none".
        blend: "feather" (alpha blend with the soft mask) or "poisson" (cv2.seamlessClone).
        paste_size: side of the aligned crop used for colour transfer, mask and paste-back (the model output
            is enlarged to it).
        mask_erode: shrink the landmark mask by this fraction of `paste_size` before feathering.
        mask_feather: width of the mask's soft edge, fraction of `paste_size`.
        detect_every: run the detector every N frames and follow landmarks in between.
        max_faces: swap at most this many faces per frame (largest first); None = all.
        crf: x264 quality of video outputs (0..51).
        threads: torch threads for the model (1 leaves a core for decoding and detection).
        guard: pass through (and list in the sidecar) faces the model's card marks as outside its training
            faces: pose far from the target identity's, a poor reconstruction by the face's own decoder or a
            learned mask that disagrees with the landmarks (`pipelines.swap_guard`); False swaps every face.
        upscale: how the decoder output is enlarged to `paste_size`: "cubic" or "lanczos" (`faces.detail`).
        sharpen: unsharp-mask amount on the enlarged decoder output (0 = off; radius one decoder pixel). 1 was
            measured sharper with no loss of identity, but the shipped detector then calls the demo's swap only
            "uncertain", so it is off by default (README, "Sharper paste-back").
        detail: frequency-separation detail transfer (`faces.detail.transfer_detail`): 0 (off) .. 1 (the target
            frame's own high-frequency band replaces the swapped face's, inside the paste mask, eyes and mouth
            excluded). Off by default: sharper still, but it carries a little of the original person's identity
            (measured: dlib distance to the source falls by ~0.01).
        detail_radius: where the bands split, in decoder pixels (the Gaussian sigma; 1 = one decoder pixel).
        detail_limit: largest |added high band|, grey levels (small values carry skin texture but not the
            strong edges of the original's features).
    """

    to: str = "b"
    colour: str = "reinhard"
    blend: str = "feather"
    paste_size: int = 256
    mask_erode: float = 0.02
    mask_feather: float = 0.06
    detect_every: int = 1
    max_faces: int | None = None
    crf: int = 18
    threads: int = 1
    guard: bool = True
    upscale: str = "cubic"
    sharpen: float = 0.0
    detail: float = 0.0
    detail_radius: float = 0.5
    detail_limit: float = 6.0

    def validate(self) -> None:
        if self.to not in ("a", "b"):
            raise OptionError(Ref("to"), f" must be a or b, got {self.to!r}")
        if self.colour not in COLOUR_MODES:
            raise OptionError(Ref("colour"), f" must be one of {', '.join(COLOUR_MODES)}, got {self.colour!r}")
        if self.blend not in BLEND_MODES:
            raise OptionError(Ref("blend"), f" must be one of {', '.join(BLEND_MODES)}, got {self.blend!r}")
        if not 32 <= self.paste_size <= 1024:
            raise OptionError(Ref("paste_size"), f" must be in 32..1024, got {self.paste_size}")
        if self.detect_every < 1:
            raise OptionError(Ref("detect_every"), f" must be >= 1, got {self.detect_every}")
        if self.max_faces is not None and self.max_faces < 1:
            raise OptionError(Ref("max_faces"), f" must be >= 1, got {self.max_faces}")
        if not 0 <= self.crf <= 51:
            raise OptionError(Ref("crf"), f" must be in 0..51, got {self.crf}")
        if self.upscale not in UPSCALERS:
            raise OptionError(Ref("upscale"), f" must be one of {', '.join(UPSCALERS)}, got {self.upscale!r}")
        if not 0 <= self.sharpen <= 3:
            raise OptionError(Ref("sharpen"), f" must be in 0..3, got {self.sharpen}")
        if not 0 <= self.detail <= 1:
            raise OptionError(Ref("detail"), f" must be in 0..1, got {self.detail}")
        if not 0.25 <= self.detail_radius <= 4:
            raise OptionError(Ref("detail_radius"), f" must be in 0.25..4 (decoder pixels), got {self.detail_radius}")
        if not 1 <= self.detail_limit <= 255:
            raise OptionError(Ref("detail_limit"), f" must be in 1..255 (grey levels), got {self.detail_limit}")

    def postprocess(self) -> dict[str, Any]:
        """What runs on the decoder output before and after the paste (for the sidecar)."""
        return {
            "upscale": self.upscale,
            "unsharp_mask": {"amount": self.sharpen, "sigma_decoder_px": 1.0} if self.sharpen > 0 else None,
            "detail_transfer": {
                "amount": self.detail,
                "sigma_decoder_px": self.detail_radius,
                "limit_grey_levels": self.detail_limit,
                "eyes_mouth_weight": 0.0,
                "what": "the target frame's own high-frequency band (frame - Gaussian blur) replaces the swapped "
                "face's inside the paste mask; eyes and mouth excluded",
            }
            if self.detail > 0
            else None,
        }


@dataclass
class SwapReport:
    """What `swap_media` did."""

    output: Path
    sidecar: Path
    frames: int = 0
    frames_replaced: int = 0
    faces_replaced: int = 0
    frames_without_faces: int = 0
    seconds: float = 0.0
    kind: str = "video"
    replaced: list[dict[str, Any]] = field(default_factory=list)
    faces_passed_through: int = 0
    passed_through: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    incomplete: str | None = None  # the source decoded fewer frames than it declares (truncated/corrupt)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


@dataclass
class SwapModel:
    """A loaded swap model with what identifies it."""

    net: nn.Module
    card: dict[str, Any]
    weights: Path
    sha256: str

    @property
    def image_size(self) -> int:
        return int(self.net.image_size)

    @property
    def margin(self) -> float:
        return float(self.net.crop_margin)

    @property
    def name(self) -> str:
        return str(self.card.get("name") or self.card.get("model"))

    @torch.no_grad()
    def swap(
        self, crops: np.ndarray, to: str, own: str | None = None
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Swap faces: crops (N, S, S, 3) uint8 at the model size -> ((N, S, S, 3) uint8, (N, S, S) mask or None,
        own-decoder reconstruction (N, 3, S, S) float in [0, 1] or None).

        `own`: also decode with this identity's decoder (the faces' own identity: a self-reconstruction, for
        `SwapGuard`'s render-confidence check).
        """
        x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255)
        h = self.net.encode(x)
        out = self.net.decode(h, to).float().clamp(0, 1)
        rgb = (out[:, :3].permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
        mask = out[:, 3].numpy() if out.shape[1] == 4 else None
        rec = self.net.decode(h, own)[:, :3].float().clamp(0, 1).numpy() if own else None
        return rgb, mask, rec


def load_swap_model(path: str | Path) -> SwapModel:
    """Load an exported face-swap model (.safetensors + card, export dir or run dir).

    Raises:
        BadInputError: not our export, or a model of another family (e.g. a detector).
    """
    st, _ = resolve_export(Path(path))
    net, card = load_exported(
        Path(path),
        family="swap",
        what="a face-swap model",
        hint="train one with `deepfake-lab train swap-lite --faces-a A --faces-b B`",
    )
    return SwapModel(net=net, card=card, weights=st, sha256=sha256_file(st))


def _is_swap_sidecar(path: Path, output: Path) -> bool:
    """Whether `path` is the JSON sidecar an earlier `swap` wrote for `output`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("kind") == SIDECAR_KIND and Path(str(data.get("output", ""))).name == (
        output.name
    )


def check_swap_output(output: str | Path, overwrite: bool = False) -> None:
    """Refuse to replace an existing file (or its `.json` sidecar) that is not an earlier swap output.

    An earlier swap output is recognised by its sidecar (`<output>.json`, kind `deepfake-lab/swap-output`,
    naming that output); `overwrite` replaces anything. The same rule as `detect`'s outputs.

    Raises:
        BadInputError: the output or its sidecar is a folder, or an unrelated existing file.
    """
    out = Path(output)
    side = out.with_name(out.name + ".json")
    for p, what in ((out, "output"), (side, "sidecar")):
        if p.is_dir():
            raise BadInputError(f"{what} {p} is a folder; give a file name")
    if overwrite:
        return
    ours = side.is_file() and _is_swap_sidecar(side, out)
    if out.exists() and not ours:
        raise BadInputError(
            f"output {out} exists and is not a deepfake-lab swap output; pass --overwrite to replace it"
        )
    if side.exists() and not ours:
        raise BadInputError(
            f"sidecar {side} exists and is not a deepfake-lab swap sidecar; pass --overwrite to replace it"
        )


def _ranges(indices: list[int]) -> list[list[int]]:
    """[1, 2, 3, 7] -> [[1, 3], [7, 7]]."""
    out: list[list[int]] = []
    for i in indices:
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def provenance_comment(model: SwapModel, source: Path) -> str:
    """The container `comment`: synthetic: true, tool, model id, weights hash, source name (one JSON line)."""
    return json.dumps(
        {
            "synthetic": True,
            "tool": f"deepfake-lab {__version__} swap",
            "model": model.name,
            "model_sha256": model.sha256,
            "source": source.name,
        },
        separators=(",", ":"),
    )


class FaceSwapper:
    """Swaps every face of one frame: `swapper(image, faces)` -> image (aligned, decoded, colour-matched, blended).

    Args:
        model: the loaded swap model.
        opt: options (target identity, colour, blend, paste size, mask).
    """

    def __init__(self, model: SwapModel, opt: SwapOptions) -> None:
        self.model, self.opt = model, opt
        self.guard = SwapGuard(model.card.get("swap_guard") if opt.guard else None, opt.to)
        self.checks: list[FaceCheck] = []  # the guard's verdict on each face of the last call
        self.pasted: list[tuple[np.ndarray, np.ndarray]] = []  # (frame -> crop matrix, crop mask) per pasted face

    def __call__(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        self.checks, self.pasted = [], []
        if not faces:
            return image
        opt, p, s = self.opt, self.opt.paste_size, self.model.image_size
        aligned = [align_face(image, f.mesh, p, self.model.margin) for f in faces]  # type: ignore[arg-type]
        small = np.stack([cv2.resize(a.image, (s, s), interpolation=cv2.INTER_AREA) for a in aligned])
        out, learned, rec = self.model.swap(small, opt.to, self.guard.own if self.guard.needs_recon else None)
        pts = [a.to_crop(f.landmarks68) for a, f in zip(aligned, faces, strict=True)]
        hulls = [face_mask(q, (p, p)) for q in pts]
        recon_l1 = iou = None
        if rec is not None:
            small_hull = np.stack([cv2.resize(h, (s, s), interpolation=cv2.INTER_AREA) > 0.5 for h in hulls])
            x = small.transpose(0, 3, 1, 2).astype(np.float32) / 255
            recon_l1 = masked_l1(rec, x, small_hull)
        if learned is not None:
            iou = np.array([_iou(cv2.resize(m, (p, p), interpolation=cv2.INTER_LINEAR), h) for m, h in zip(
                learned, hulls, strict=True)])  # fmt: skip
        self.checks = self.guard.check(np.stack([pose_feature(q, p) for q in pts]), recon_l1, iou)
        result = image
        erode, feather = int(round(opt.mask_erode * p)), opt.mask_feather * p
        for i, a in enumerate(aligned):
            if not self.checks[i].swap:
                continue  # outside what the model saw: the original face stays
            big = unsharp_mask(upscale(out[i], p, opt.upscale), p / s, opt.sharpen)
            lm = cv2.resize(learned[i], (p, p), interpolation=cv2.INTER_LINEAR) if learned is not None else None
            mask = paste_mask(hulls[i], lm, erode=erode, feather=feather, hull_grow=int(round(0.03 * p)))
            big = colour_transfer(big, a.image, mask, opt.colour)
            result = blend_face(result, big, a.matrix, mask, opt.blend)
            if opt.detail > 0:
                result = transfer_detail(
                    result, image, a.matrix, mask, faces[i].landmarks68,
                    sigma=opt.detail_radius * decoder_pixel(a.matrix, p, s), amount=opt.detail,
                    limit=opt.detail_limit,
                )  # fmt: skip
            self.pasted.append((a.matrix, mask))
        return result


def _iou(prob: np.ndarray, hull: np.ndarray) -> float:
    """IoU of a predicted mask (> 0.5) and the landmark hull (> 0.5)."""
    a, b = prob > 0.5, hull > 0.5
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


class _MarkAndWrite:
    """Watermark + encode of the output frames on one worker thread, in order, while the main thread swaps
    the next frame (numpy, OpenCV and the encoder release the GIL, so on 2 cores the watermark costs little
    wall time). At most `depth` frames wait; a worker error surfaces on the next `put` or at `close`."""

    def __init__(self, prov: Provenance, writer: VideoWriter, depth: int = 2) -> None:
        self._prov, self._writer, self._depth = prov, writer, depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mark-write")
        self._pending: deque[Future[None]] = deque()

    def _work(self, image: np.ndarray, t: float) -> None:
        self._writer.write(self._prov.mark(image), time=t)

    def put(self, image: np.ndarray, t: float) -> None:
        self._pending.append(self._pool.submit(self._work, image, t))
        while len(self._pending) > self._depth:
            self._pending.popleft().result()

    def close(self, wait: bool = True) -> None:
        """Finish the queued frames (`wait`) or drop them (after an error), then stop the worker."""
        try:
            while self._pending:
                fut = self._pending.popleft()
                if wait:
                    fut.result()
                else:
                    fut.cancel()
        finally:
            self._pool.shutdown(wait=True)


def swap_media(
    source: str | Path,
    model: str | Path | SwapModel,
    output: str | Path,
    options: SwapOptions | None = None,
    *,
    on_frame: Callable[[int, int | None], None] | None = None,
    provenance: bool = True,
    overwrite: bool = False,
) -> SwapReport:
    """Swap the faces of a video or image and write the result, its sidecar JSON and provenance metadata.

    Args:
        source: video file or image file.
        model: exported swap model (path) or a loaded `SwapModel`.
        output: output file: .mp4/.mov/.mkv for videos, an image suffix for images.
        options: `SwapOptions`.
        on_frame: called as on_frame(frames_done, total_or_None) after each frame.
        provenance: watermark every frame and C2PA-sign the output (`deepfake_lab.provenance`); False is the
            CLI's `--no-provenance` (the caller warns). The output is written to a hidden sibling first and
            appears under its name only once complete and signed.
        overwrite: replace an existing `output` / sidecar that is not an earlier swap output
            (`check_swap_output`).

    Returns:
        `SwapReport` (frames, replaced frames/faces, frames without faces, timing). A truncated or corrupt
        video (fewer frames decoded than its container declares) still gives an output of the decodable
        frames; `report.incomplete` then says what was missing (the sidecar records it too).

    Raises:
        BadInputError: unreadable source, wrong model, bad output suffix or options, an existing output that
            is not an earlier swap output (without `overwrite`).
    """
    opt = options or SwapOptions()
    opt.validate()
    src, out = Path(source), Path(output)
    if out.resolve() == src.resolve():
        raise BadInputError("the output must not overwrite the source")
    check_swap_output(out, overwrite)
    sm = model if isinstance(model, SwapModel) else load_swap_model(model)
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(max(1, opt.threads))
    t0 = time.perf_counter()
    try:
        with open_media(src) as reader:
            info = reader.info
            is_image = info.kind == "image"
            suffixes = tuple(sorted(IMAGE_EXTENSIONS)) if is_image else VIDEO_OUT_SUFFIXES
            if out.suffix.lower() not in suffixes:
                raise BadInputError(f"output {out.name}: a {info.kind} input needs one of {', '.join(suffixes)}")
            prov = Provenance(
                kind="swap", model=sm.name, model_sha256=sm.sha256, enabled=provenance,
                parameters={**asdict(opt), "source": src.name},
            )  # fmt: skip
            prov.check_output(out)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = tmp_output(out)
            report = SwapReport(output=out, sidecar=out.with_name(out.name + ".json"), kind=info.kind)
            total = 1 if is_image else info.frame_count
            with create_detector("mediapipe") as det:
                analyzer = FaceAnalyzer(det, detect_every=opt.detect_every, max_faces=opt.max_faces)
                swapper = FaceSwapper(sm, opt)
                no_face: list[int] = []
                writer: VideoWriter | None = None
                sink: _MarkAndWrite | None = None
                if not is_image:
                    writer = VideoWriter(
                        tmp,
                        fps=info.fps,
                        crf=opt.crf,
                        audio_from=src if info.has_audio else None,
                        metadata={"comment": provenance_comment(sm, src)},
                    )
                    sink = _MarkAndWrite(prov, writer)
                try:
                    for frame in reader:
                        faces = [f for f in analyzer(frame.image, exhaustive=is_image) if f.mesh is not None]
                        image = swapper(frame.image, faces)
                        # PROVENANCE HOOK — the single place every output frame/image passes before it is
                        # written: the invisible watermark goes on every frame here (video: `prov.mark` on the
                        # writer thread of `_MarkAndWrite`); the C2PA manifest is added when the file is
                        # complete (prov.finish below).
                        if sink is not None:
                            sink.put(image, frame.time)
                        else:
                            _write_image(tmp, prov.mark(image), provenance_comment(sm, src))
                        report.frames += 1
                        checks = swapper.checks or [FaceCheck(True)] * len(faces)
                        done = [f for f, c in zip(faces, checks, strict=True) if c.swap]
                        kept = [(f, c) for f, c in zip(faces, checks, strict=True) if not c.swap]
                        if done:
                            report.frames_replaced += 1
                            report.faces_replaced += len(done)
                            report.replaced.append(
                                {
                                    "frame": frame.index,
                                    "time": round(float(frame.time), 4),
                                    "faces": [
                                        {"track": int(f.track_id), "bbox": [round(float(v), 1) for v in f.bbox]}
                                        for f in done
                                    ],
                                }
                            )
                        if kept:
                            report.faces_passed_through += len(kept)
                            report.passed_through.append(
                                {
                                    "frame": frame.index,
                                    "time": round(float(frame.time), 4),
                                    "faces": [
                                        {"track": int(f.track_id), "bbox": [round(float(v), 1) for v in f.bbox],
                                         **c.to_dict()}
                                        for f, c in kept
                                    ],
                                }
                            )  # fmt: skip
                        if not faces:
                            no_face.append(frame.index)
                        if on_frame is not None:
                            on_frame(report.frames, total)
                    if sink is not None:
                        sink.close()
                        sink = None
                    if writer is not None:
                        writer.close()
                    report.incomplete = reader.incomplete()
                    prov.finish(tmp, out)
                finally:
                    if sink is not None:
                        sink.close(wait=False)
                    if writer is not None:
                        writer.close()
                    tmp.unlink(missing_ok=True)
    finally:
        torch.set_num_threads(prev_threads)
    report.frames_without_faces = len(no_face)
    report.seconds = time.perf_counter() - t0
    report.provenance = (
        {"watermark": prov.payload.to_dict(), "c2pa": True, "run_id": f"{prov.run_id:05x}"}
        if prov.enabled
        else {"watermark": None, "c2pa": False, "disabled": "--no-provenance"}
    )
    _write_sidecar(report, src, sm, opt, no_face, swapper.guard.thresholds())
    return report


def _write_image(path: Path, image: np.ndarray, comment: str) -> None:
    from PIL import Image, PngImagePlugin

    im = Image.fromarray(image)
    if path.suffix.lower() == ".png":
        meta = PngImagePlugin.PngInfo()
        meta.add_text("Comment", comment)
        im.save(path, pnginfo=meta)
    else:
        im.save(path, quality=95) if path.suffix.lower() in (".jpg", ".jpeg") else im.save(path)


def _write_sidecar(
    report: SwapReport, src: Path, model: SwapModel, opt: SwapOptions, no_face: list[int], guard: dict[str, Any]
) -> None:
    data = {
        "kind": SIDECAR_KIND,
        "format_version": SIDECAR_VERSION,
        "synthetic": True,
        "tool": f"deepfake-lab {__version__}",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": {"path": str(src), "name": src.name, "sha256": sha256_file(src)},
        "output": str(report.output),
        "model": {
            "name": model.name,
            "model": model.card.get("model"),
            "weights": model.weights.name,
            "weights_sha256": model.sha256,
            "target_identity": opt.to,
        },
        "options": asdict(opt),
        "postprocess": opt.postprocess(),
        "frames": report.frames,
        "frames_replaced": report.frames_replaced,
        "faces_replaced": report.faces_replaced,
        "frames_without_faces": report.frames_without_faces,
        "frames_without_faces_ranges": _ranges(no_face),
        "provenance": report.provenance,
        "source_incomplete": report.incomplete,
        "replaced": report.replaced,
        "faces_passed_through": report.faces_passed_through,
        "guard": guard,
        "passed_through": report.passed_through,
    }
    report.sidecar.write_text(json.dumps(data, indent=1) + "\n")
