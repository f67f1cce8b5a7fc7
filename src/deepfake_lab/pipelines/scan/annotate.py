"""The annotated output of a scan: each face boxed in the colour of its probability with the percentage drawn
(`draw_annotations`), written as a video beside the source's audio or as a marked image.

Example:
    >>> from deepfake_lab.pipelines.scan.annotate import prob_colour
    >>> prob_colour(0.0), prob_colour(1.0)
    ((0, 255, 0), (255, 0, 0))
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines.scan.options import OptionError, Ref
from deepfake_lab.pipelines.scan.result import FrameScore
from deepfake_lab.pipelines.scan.writers import OUTPUT_MARK
from deepfake_lab.video.image import IMAGE_EXTENSIONS
from deepfake_lab.video.reader import MediaInfo
from deepfake_lab.video.writer import VideoWriter

__all__ = ["annotation_path", "draw_annotations", "open_annotation", "prob_colour", "write_image"]


def open_annotation(path: Path, src: str, info: MediaInfo, live: bool) -> VideoWriter | None:
    """The writer of an annotated video (None for an image: `write_image` writes it at the end).

    Raises:
        OptionError: a suffix that does not fit the input, or the source itself as the output.
    """
    if info.kind == "image":
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            raise OptionError(Ref("annotate"), f" {path.name}: an image input needs an image suffix (.png, .jpg)")
        return None
    if path.suffix.lower() not in (".mp4", ".mov", ".mkv"):
        raise OptionError(Ref("annotate"), f" {path.name}: a video input needs .mp4, .mov or .mkv")
    if not live and path.resolve() == Path(src).resolve():
        raise OptionError(Ref("annotate"), " must not overwrite the source")
    path.parent.mkdir(parents=True, exist_ok=True)
    has_audio = info.has_audio and info.kind == "video" and not live
    return VideoWriter(
        path,
        fps=info.fps,
        crf=23,
        preset="veryfast",
        audio_from=src if has_audio else None,
        metadata={"comment": f"{OUTPUT_MARK}: annotated scan of {Path(src).name}"},
    )


def write_image(path: Path, image: np.ndarray) -> None:
    """Write an annotated image (PNG text chunk / JPEG comment marks it as a scan output)."""
    from PIL import PngImagePlugin

    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(image)
    suffix = path.suffix.lower()
    try:
        if suffix == ".png":
            meta = PngImagePlugin.PngInfo()
            meta.add_text("Comment", OUTPUT_MARK)
            im.save(path, pnginfo=meta)
        elif suffix in (".jpg", ".jpeg"):
            im.save(path, quality=92, comment=OUTPUT_MARK.encode())
        else:
            im.save(path)
    except (OSError, ValueError, KeyError) as exc:
        raise BadInputError(f"cannot write {path.name} ({exc})") from None


def prob_colour(p: float) -> tuple[int, int, int]:
    """RGB colour of a probability: green (0) through yellow (0.5) to red (1)."""
    p = float(np.clip(p, 0.0, 1.0))
    return (int(255 * min(1.0, 2 * p)), int(255 * min(1.0, 2 * (1 - p))), 0)


def draw_annotations(image: np.ndarray, rec: FrameScore) -> np.ndarray:
    """Copy of an RGB frame with each face's box coloured by its probability and the percentage drawn."""
    out = image.copy()
    h = out.shape[0]
    thick = max(2, h // 240)
    scale = max(0.5, h / 720)
    for f in rec.faces:
        x0, y0, x1, y1 = (int(round(v)) for v in f.box)
        c = prob_colour(f.prob) if f.evaluated else (160, 160, 160)
        cv2.rectangle(out, (x0, y0), (x1, y1), c, thick)
        short = {"face_too_small": "too small", "face_too_blurry": "too blurry"}
        label = f"{100 * f.prob:.0f}% fake" if f.evaluated else f"not scored: {short.get(f.reason or '', '?')}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        ty = y0 - 4 if y0 - th - base - 4 > 0 else y1 + th + 4
        cv2.rectangle(out, (x0, ty - th - base), (x0 + tw + 4, ty + base // 2), c, -1)
        cv2.putText(out, label, (x0 + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    if not rec.faces:
        cv2.putText(
            out, "no face", (8, int(28 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA
        )
    return out


def annotation_path(annotate: Path, source: str, kind_hint: str, many: bool) -> Path:
    """Where the annotated output of `source` goes: `annotate` itself, or with `many` sources
    `annotate/<stem>.annotated.mp4` (an image keeps its suffix)."""
    if not many:
        return annotate
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in Path(source).stem)[:60] or "source"
    suffix = Path(source).suffix.lower() if kind_hint == "image" else ".mp4"
    return annotate / f"{stem}.annotated{suffix}"
