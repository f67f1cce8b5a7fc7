"""Face extraction from one frame: detect (or track), filter, align, mask, and describe each kept face.

`FaceExtractor` is the per-frame work of the "extract" stage: it runs the `FaceAnalyzer` (detector plugin +
tracker), drops faces that fail the `QualityFilter` or exceed `max_faces`, aligns the rest to square crops and
returns them with the record fields a faceset stores (`data.faceset` writes them; `pipelines.extract` walks
the sources, resumes and reports progress).

Example:
    >>> opts = ExtractOptions(size=128, max_faces=1)
    >>> with FaceExtractor(opts) as fx:  # doctest: +SKIP
    ...     out = fx(frame_rgb, index=0, time=0.0)
    >>> out.crops[0].image.shape, out.rejected  # doctest: +SKIP
    ((128, 128, 3), [])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np

from deepfake_lab.errors import OptionError, Ref
from deepfake_lab.faces.align import align_face
from deepfake_lab.faces.detect import FaceDetector, create_detector
from deepfake_lab.faces.mask import face_mask
from deepfake_lab.faces.quality import QualityFilter
from deepfake_lab.faces.track import FaceAnalyzer
from deepfake_lab.faces.types import Face

__all__ = ["ExtractOptions", "FaceCrop", "FaceExtractor", "FrameFaces"]


@dataclass
class ExtractOptions:
    """What to extract and how.

    Args:
        size: side of the aligned square crops in pixels (64, 128, 256 ...).
        margin: context around the face square on each side (fraction of its side; see `faces.align`).
        every: process one frame in `every` (1 = all frames).
        max_faces: keep at most this many faces per frame (largest first); None = all.
        min_size: drop faces smaller than this (longer side of the landmark box, source pixels).
        min_score: drop detections below this confidence.
        min_blur: drop crops whose sharpness (`faces.quality.blur_score`) is below this; 0 = keep all.
        detector: registered detector name.
        model_range: MediaPipe detector range: "auto" (short range, full range when needed, both on
            photos), "short", "full" or "both" (see `faces.detect.MediaPipeDetector`).
        detect_every: run the detector on one processed frame in this many and follow landmarks in
            between (faster; 1 = detect on every processed frame).
        save_masks: also write the feathered face-hull mask of each crop.
        png_compression: PNG zlib level 0-9 (speed vs size; lossless either way).
    """

    # Options that change what is written: a re-run into the same faceset must use the same values.
    OUTPUT_OPTIONS: ClassVar[tuple[str, ...]] = (
        "size", "margin", "every", "max_faces", "min_size", "min_score", "min_blur", "detector", "model_range",
        "detect_every", "save_masks",
    )  # fmt: skip

    size: int = 256
    margin: float = 0.2
    every: int = 1
    max_faces: int | None = None
    min_size: float = 32.0
    min_score: float = 0.5
    min_blur: float = 0.0
    detector: str = "mediapipe"
    model_range: str = "auto"
    detect_every: int = 1
    save_masks: bool = False
    png_compression: int = 1

    def validate(self) -> None:
        """Raise `BadInputError` for impossible values."""
        if not 16 <= self.size <= 2048:
            raise OptionError(Ref("size"), f" must be in 16..2048, got {self.size}")
        if self.every < 1:
            raise OptionError(Ref("every"), f" must be >= 1, got {self.every}")
        if self.detect_every < 1:
            raise OptionError(Ref("detect_every"), f" must be >= 1, got {self.detect_every}")
        if self.max_faces is not None and self.max_faces < 1:
            raise OptionError(Ref("max_faces"), f" must be >= 1, got {self.max_faces}")
        if self.min_size < 0:
            raise OptionError(Ref("min_size"), f" must be >= 0, got {self.min_size}")
        if not -0.2 <= self.margin <= 2.0:
            raise OptionError(Ref("margin"), f" must be in -0.2..2, got {self.margin}")
        if not 0.0 <= self.min_score <= 1.0:
            raise OptionError(Ref("min_score"), f" must be in 0..1, got {self.min_score}")
        if self.model_range not in ("auto", "short", "full", "both"):
            raise OptionError(Ref("range"), f" must be auto, short, full or both, got {self.model_range!r}")

    def output_values(self) -> dict[str, Any]:
        """The `OUTPUT_OPTIONS` and their values (what a faceset records and a resume must match)."""
        return {k: getattr(self, k) for k in self.OUTPUT_OPTIONS}

    def as_record(self) -> dict[str, Any]:
        """Every option as a JSON-ready dict (the faceset's extract.json)."""
        return asdict(self)

    def detector_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `create_detector(self.detector, ...)`."""
        if self.detector == "mediapipe":
            return {"model_range": self.model_range, "min_score": min(self.min_score, 0.5)}
        return {}


@dataclass
class FaceCrop:
    """One kept face of a frame.

    Attributes:
        name: file name of the crop inside its source's folder (``<frame>_t<track>.png``).
        image: aligned RGB crop uint8 (S, S, 3).
        mask: feathered face-hull mask uint8 (S, S) with `save_masks`, else None.
        record: the faceset record fields of the face (frame, time, track, bbox, landmarks, matrix, ...).
    """

    name: str
    image: np.ndarray
    mask: np.ndarray | None
    record: dict[str, Any]


@dataclass
class FrameFaces:
    """What `FaceExtractor` found in one frame.

    Attributes:
        found: faces the analyzer reported (before any filter).
        crops: the kept faces, aligned.
        rejected: one reason per dropped face, in the order they were dropped ("size", "score",
            "max_faces", "blur").
    """

    found: int
    crops: list[FaceCrop] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def _round(a: np.ndarray, nd: int = 2) -> list[Any]:
    return np.round(np.asarray(a, dtype=np.float64), nd).tolist()


class FaceExtractor:
    """Per-frame face extraction with the options of a faceset; a context manager that closes its detector.

    Args:
        options: `ExtractOptions` (validated here).
        detector: a ready `FaceDetector` to use (not closed here) instead of creating `options.detector`.
    """

    def __init__(self, options: ExtractOptions, detector: FaceDetector | None = None) -> None:
        options.validate()
        self.options = options
        self._own_detector = detector is None
        self.detector = detector or create_detector(options.detector, **options.detector_kwargs())
        self.analyzer = FaceAnalyzer(self.detector, detect_every=options.detect_every)
        self.quality = QualityFilter(min_size=options.min_size, min_score=options.min_score,
                                     min_blur=options.min_blur)  # fmt: skip

    def __call__(self, image: np.ndarray, index: int, time: float, exhaustive: bool = False) -> FrameFaces:
        """Faces of one frame.

        Args:
            image: RGB frame uint8 (H, W, 3).
            index: frame index in its source (names the crop files).
            time: frame time in seconds.
            exhaustive: search harder (photos: both detector ranges).
        """
        opt, q = self.options, self.quality
        faces: list[Face] = self.analyzer(image, exhaustive)
        out = FrameFaces(found=len(faces))
        kept: list[Face] = []
        for face in faces:
            why = q.check_face(face)
            if why is not None:
                out.rejected.append(why)
            else:
                kept.append(face)
        if opt.max_faces is not None and len(kept) > opt.max_faces:
            largest = sorted(kept, key=lambda f: -f.size)[: opt.max_faces]
            out.rejected += ["max_faces"] * (len(kept) - opt.max_faces)
            kept = [f for f in kept if any(f is g for g in largest)]
        for face in kept:
            aligned = align_face(image, face.mesh, opt.size, opt.margin)  # type: ignore[arg-type]
            why, blur = q.check_crop(aligned.image)
            if why is not None:
                out.rejected.append(why)
                continue
            record: dict[str, Any] = {
                "frame": index,
                "time": round(float(time), 4),
                "track": face.track_id,
                "bbox": _round(face.bbox, 1),
                "landmarks": _round(face.landmarks68, 2),
                "landmarks5": _round(face.landmarks5, 2),
                "matrix": _round(aligned.matrix, 6),
                "size": opt.size,
                "scores": {
                    "detector": round(float(face.score), 4),
                    "blur": round(float(blur), 2),
                    "face_size": round(float(face.size), 1),
                },
                "tracked": bool(face.tracked),
            }
            mask = None
            if opt.save_masks:
                hull = face_mask(aligned.to_crop(face.mesh), (opt.size, opt.size), feather=opt.size / 32)  # type: ignore[arg-type]
                mask = (hull * 255 + 0.5).astype(np.uint8)
            out.crops.append(FaceCrop(f"{index:06d}_t{face.track_id:03d}.png", aligned.image, mask, record))
        return out

    def close(self) -> None:
        """Close the detector if this extractor created it."""
        if self._own_detector:
            self.detector.close()

    def __enter__(self) -> FaceExtractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
