"""Face detectors as plugins with fixed hooks, and the default MediaPipe detector.

A detector implements three hooks (the faceswap extract-plugin idea):

* `load()` - build models (called once, lazily, by the first use);
* `detect(image, exhaustive=False) -> list[Face]` - boxes, scores and coarse keypoints on a whole frame
  (`exhaustive=True` for still photos: slower, looks harder for small faces);
* `landmarks(image, faces) -> list[Face]` - dense landmarks for given boxes (faces whose landmarks cannot
  be found are dropped: that also removes most false detections);

plus `track(image, faces)` (landmarks for faces known from the previous frame, no detection) which by default
re-runs `landmarks` on boxes derived from the previous landmarks, and `close()`.

`detector(image, exhaustive=False)` runs detect + landmarks. Register a new detector with
`@register_detector("name")`; `create_detector(name, **kwargs)` builds one by name.

Example:
    >>> from deepfake_lab.faces import create_detector
    >>> with create_detector("mediapipe") as det:  # doctest: +SKIP
    ...     faces = det(rgb)  # rgb: (H, W, 3) uint8
    ...     faces[0].bbox, faces[0].score, faces[0].mesh.shape  # (4,), float, (478, 3)
"""

from __future__ import annotations

import abc
import contextlib
import importlib
import os
import sys
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, Literal

import cv2
import numpy as np

from deepfake_lab.faces.types import Face, box_iou, landmark_box
from deepfake_lab.registry import Registry

__all__ = [
    "FaceDetector",
    "MediaPipeDetector",
    "DETECTORS",
    "register_detector",
    "create_detector",
    "list_detectors",
    "quiet_native_stderr",
    "nms",
]

DETECTORS: Registry[FaceDetector] = Registry("face detector")
"""Registered detector classes by name (family "face"; the factory is the class)."""


def register_detector(name: str) -> Callable[[type[FaceDetector]], type[FaceDetector]]:
    """Class decorator adding a `FaceDetector` subclass to `DETECTORS` (error on a duplicate name)."""

    def deco(cls: type[FaceDetector]) -> type[FaceDetector]:
        DETECTORS.register(name, family="face")(cls)
        cls.name = name
        return cls

    return deco


def list_detectors() -> list[str]:
    """Names of the registered detectors."""
    return DETECTORS.names()


def create_detector(name: str = "mediapipe", **kwargs: Any) -> FaceDetector:
    """Instantiate a registered detector by name with its keyword arguments.

    Raises:
        BadInputError: `name` is not registered (the message lists the registered names).
    """
    return DETECTORS.get(name).factory(**kwargs)


_STDERR_LOCK = threading.Lock()


class _LazyModule(types.ModuleType):
    """Stands in for a module during an import that only stores a reference to it; the real module is
    imported on first attribute access."""

    def __getattr__(self, name: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


# Modules `import mediapipe` loads that the face detector never uses: per package, attribute -> module. The
# drawing modules pull in matplotlib; `tasks` (the MediaPipe Tasks API, with sounddevice for its audio tasks)
# and the other solutions are most of the rest (measured: the import takes ~50 ms instead of ~270 ms).
_MEDIAPIPE_UNUSED: dict[str, dict[str, str]] = {
    "mediapipe": {"tasks": "mediapipe.tasks.python"},
    "mediapipe.python.solutions": {
        n: f"mediapipe.python.solutions.{n}"
        for n in ("drawing_utils", "drawing_styles", "hands", "hands_connections", "holistic", "objectron", "pose",
                  "selfie_segmentation")  # fmt: skip
    },
}


def import_mediapipe() -> Any:
    """`import mediapipe`, without paying for the parts the face detector does not use.

    mediapipe's `__init__` imports every solution (the drawing ones import `matplotlib.pyplot`) and the whole
    Tasks API (`import mediapipe.tasks.python as tasks`). During the import the modules of `_MEDIAPIPE_UNUSED`
    are held out by stand-ins in `sys.modules`, removed again afterwards; their packages then import them on
    first attribute use (PEP 562), so `mp.solutions.drawing_utils`, `mp.tasks.vision` and a later
    `import mediapipe.python.solutions.drawing_utils` all give the real modules. A stand-in that something
    touches during the import imports the real module too.
    """
    if "mediapipe" in sys.modules:
        return sys.modules["mediapipe"]
    targets = {m for attrs in _MEDIAPIPE_UNUSED.values() for m in attrs.values()}
    held = sorted(m for m in targets if m not in sys.modules)
    stand_ins = {name: _LazyModule(name) for name in held}
    if "mediapipe.tasks.python" in stand_ins:
        # `import mediapipe.tasks.python as tasks` looks up `python` on the parent package: hold that out too
        stand_ins["mediapipe.tasks"] = _LazyModule("mediapipe.tasks")
        stand_ins["mediapipe.tasks"].__dict__["python"] = stand_ins["mediapipe.tasks.python"]
    sys.modules.update(stand_ins)
    try:
        import mediapipe
    finally:
        for name, stub in stand_ins.items():
            if sys.modules.get(name) is stub:
                del sys.modules[name]
    for package, attrs in _MEDIAPIPE_UNUSED.items():
        module = sys.modules.get(package)
        lazy = {a: m for a, m in attrs.items() if m in held}
        if module is None or not lazy:
            continue
        for attr in lazy:  # the import bound the stand-ins on the package
            if isinstance(module.__dict__.get(attr), _LazyModule):
                del module.__dict__[attr]
        module.__getattr__ = _package_getattr(package, lazy)  # type: ignore[method-assign]
    return mediapipe


def _package_getattr(package: str, lazy: dict[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` (PEP 562) that imports the held-out modules of `package` on first use."""

    def __getattr__(name: str) -> Any:
        if name in lazy:
            value = importlib.import_module(lazy[name])
            # importing `mediapipe.tasks.python` binds `mediapipe.tasks` to the parent package: rebind it
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what native libraries (glog/absl in mediapipe, TFLite) write to file descriptor 2.

    Python's own `sys.stderr` is flushed first; the descriptor is restored on exit.
    """
    with _STDERR_LOCK:
        fd = 2  # the descriptor native code writes to, whatever Python's sys.stderr is
        with contextlib.suppress(AttributeError, OSError, ValueError):
            sys.stderr.flush()
        try:
            saved = os.dup(fd)
        except OSError:  # no descriptor 2 at all
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            os.close(devnull)


def nms(faces: list[Face], iou: float = 0.4) -> list[Face]:
    """Non-maximum suppression: keep the highest-scoring face of each group overlapping by more than `iou`."""
    if len(faces) < 2:
        return list(faces)
    order = sorted(range(len(faces)), key=lambda i: -faces[i].score)
    boxes = np.stack([f.bbox for f in faces])
    keep: list[int] = []
    for i in order:
        if keep and float(box_iou(boxes[i : i + 1], boxes[keep]).max()) > iou:
            continue
        keep.append(i)
    return [faces[i] for i in keep]


class FaceDetector(abc.ABC):
    """Base class of detector plugins (see module docstring for the hooks).

    Subclasses take typed keyword arguments in `__init__` and build models in `load`, never in `__init__`.
    """

    name: ClassVar[str] = "base"
    mesh_points: ClassVar[int] = 478
    """How many dense landmarks `landmarks` provides."""

    def __init__(self) -> None:
        self._loaded = False

    # -- hooks ----------------------------------------------------------------------------------------
    def load(self) -> None:  # noqa: B027 - optional hook
        """Build models. Called once before the first detection."""

    @abc.abstractmethod
    def detect(self, image: np.ndarray, exhaustive: bool = False) -> list[Face]:
        """Find faces on a whole frame.

        Args:
            image: (H, W, 3) uint8 RGB.
            exhaustive: spend more time to find every face (still photos); video frames use False.

        Returns:
            Faces with `bbox`, `score` and optionally `keypoints`; no dense landmarks yet.
        """

    @abc.abstractmethod
    def landmarks(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        """Dense landmarks for each face box; faces without landmarks are dropped.

        Args:
            image: (H, W, 3) uint8 RGB.
            faces: faces from `detect` (or from `track`).

        Returns:
            The faces found again, with `mesh` set and `bbox` replaced by the landmarks' box.
        """

    def track(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        """Follow faces from the previous frame without running the detector.

        The default re-runs `landmarks` on the previous landmark boxes. Faces lost are dropped.
        Returned faces keep `track_id` and `score` and have `tracked=True`.
        """
        found = self.landmarks(image, [Face(bbox=f.bbox.copy(), score=f.score, track_id=f.track_id) for f in faces])
        for f in found:
            f.tracked = True
        return found

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release models."""

    # -- driver ---------------------------------------------------------------------------------------
    def ensure_loaded(self) -> None:
        """Run the `load` hook once."""
        if not self._loaded:
            self.load()
            self._loaded = True

    def __call__(self, image: np.ndarray, exhaustive: bool = False) -> list[Face]:
        """Detect faces and their dense landmarks on an (H, W, 3) uint8 RGB frame (see `detect`)."""
        self.ensure_loaded()
        return self.landmarks(image, self.detect(image, exhaustive))

    def __enter__(self) -> FaceDetector:
        self.ensure_loaded()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self._loaded = False


@register_detector("mediapipe")
class MediaPipeDetector(FaceDetector):
    """MediaPipe FaceDetection (BlazeFace short/full range) + FaceMesh (478 points with irises).

    The models ship inside the mediapipe 0.10.21 wheel (`mp.solutions`), nothing is downloaded. FaceMesh is
    run on a square crop around each detected box (so small faces in group photos get landmarks too, which
    FaceMesh alone on the whole frame misses), and a detection whose crop yields no mesh is dropped.

    Args:
        model_range: "short" (faces within ~2 m, large in the frame; fastest), "full" (up to ~5 m, small
            faces), "both" (union of the two, non-maximum suppressed) or "auto": short range, plus full range
            when short range finds nothing or is unsure (a score below `auto_full_below`), and both for
            `exhaustive` calls (still photos). "auto" keeps video fast and still finds small faces in photos
            and faces that short range misses, but on video a small face beside a large, clear one is only
            found with "both".
        min_score: detector confidence threshold.
        refine: FaceMesh with attention model (478 points incl. irises) instead of 468 points.
        crop_scale: side of the square crop fed to FaceMesh, relative to the longer side of the face box.
        max_crop: crops are downscaled to at most this many pixels per side before FaceMesh.
        mesh_min_score: confidence FaceMesh's own detector needs on the crop; this second opinion removes
            false detections (text, patterns) that the full-range detector lets through.
        auto_full_below: in "auto" range, run the full-range model too when a short-range score is below this.
        tile_above: `exhaustive` detection on images larger than this (longer side, pixels) also runs the
            models on 9 overlapping half-size tiles, which finds faces too small for the models' 128/192-pixel
            inputs at full-image scale (a 1280-pixel group photo: 6 faces instead of 3).
    """

    def __init__(
        self,
        model_range: Literal["short", "full", "both", "auto"] = "auto",
        min_score: float = 0.5,
        refine: bool = True,
        crop_scale: float = 2.0,
        max_crop: int = 384,
        mesh_min_score: float = 0.5,
        auto_full_below: float = 0.75,
        tile_above: int = 640,
    ) -> None:
        super().__init__()
        if model_range not in ("short", "full", "both", "auto"):
            raise ValueError(f"model_range must be short, full, both or auto, got {model_range!r}")
        self.model_range = model_range
        self.min_score = float(min_score)
        self.refine = bool(refine)
        self.crop_scale = float(crop_scale)
        self.max_crop = int(max_crop)
        self.mesh_min_score = float(mesh_min_score)
        self.auto_full_below = float(auto_full_below)
        self.tile_above = int(tile_above)
        self._mesh_quiet = True  # until the first face: FaceMesh logs once from native code
        self.mesh_points = 478 if refine else 468
        self._detectors: dict[str, Any] = {}
        self._mesh: Any = None

    def load(self) -> None:
        with quiet_native_stderr():
            mp = import_mediapipe()  # heavy import, done once

            ranges = {"short": [0], "full": [1], "both": [0, 1], "auto": [0, 1]}[self.model_range]
            self._detectors = {
                ("short" if sel == 0 else "full"): mp.solutions.face_detection.FaceDetection(
                    model_selection=sel, min_detection_confidence=self.min_score
                )
                for sel in ranges
            }
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True,
                max_num_faces=2,
                refine_landmarks=self.refine,
                min_detection_confidence=self.mesh_min_score,
            )
            # Warm up so that the graphs' start-up log lines are emitted while stderr is silenced.
            blank = np.zeros((64, 64, 3), np.uint8)
            for d in self._detectors.values():
                d.process(blank)
            self._mesh.process(blank)

    def close(self) -> None:
        for d in self._detectors.values():
            d.close()
        if self._mesh is not None:
            self._mesh.close()
        self._detectors, self._mesh = {}, None

    def detect(self, image: np.ndarray, exhaustive: bool = False) -> list[Face]:
        self.ensure_loaded()
        image = _as_rgb(image)
        if self.model_range == "auto" and not exhaustive:
            faces = self._run(image, "short")
            if not faces or min(f.score for f in faces) < self.auto_full_below:
                faces += self._run(image, "full")
        else:
            faces = [f for tag in self._detectors for f in self._run(image, tag)]
            if exhaustive and max(image.shape[:2]) > self.tile_above:
                faces += self._tiled(image)
        return nms(faces, 0.3)

    def _tiled(self, image: np.ndarray) -> list[Face]:
        """Detections on a 3×3 grid of overlapping half-size tiles (small faces in large photos)."""
        h, w = image.shape[:2]
        side = int(np.ceil(max(h, w) / 2))
        th, tw = min(h, side), min(w, side)
        faces: list[Face] = []
        for y in sorted({0, (h - th) // 2, h - th}):
            for x in sorted({0, (w - tw) // 2, w - tw}):
                tile = np.ascontiguousarray(image[y : y + th, x : x + tw])
                for tag in self._detectors:
                    for f in self._run(tile, tag):
                        f.bbox += np.array([x, y, x, y], np.float32)
                        if f.keypoints is not None:
                            f.keypoints += np.array([x, y], np.float32)
                        faces.append(f)
        return faces

    def _run(self, image: np.ndarray, tag: str) -> list[Face]:
        h, w = image.shape[:2]
        faces: list[Face] = []
        result = self._detectors[tag].process(image)
        for d in result.detections or []:
            score = float(d.score[0])
            if score < self.min_score:
                continue
            rb = d.location_data.relative_bounding_box
            x0, y0 = rb.xmin * w, rb.ymin * h
            box = np.array([x0, y0, x0 + rb.width * w, y0 + rb.height * h], np.float32)
            kps = np.array([[k.x * w, k.y * h] for k in d.location_data.relative_keypoints], np.float32)
            faces.append(Face(bbox=box, score=score, keypoints=kps, extra={"model": tag}))
        return faces

    def landmarks(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        self.ensure_loaded()
        image = _as_rgb(image)
        out: list[Face] = []
        for face in faces:
            mesh = self._mesh_in_box(image, face.bbox)
            if mesh is None:
                continue
            face.mesh = mesh
            face.bbox = landmark_box(mesh)
            out.append(face)
        # Two boxes may have converged on the same face: keep one.
        return nms(out, 0.5)

    def _mesh_in_box(self, image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """(P, 3) mesh in frame pixels for the face in `box`, or None."""
        h, w = image.shape[:2]
        x0, y0, x1, y1 = (float(v) for v in box)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        side = max(x1 - x0, y1 - y0, 8.0) * self.crop_scale
        # Square crop, padded with black where it leaves the frame (keeps the face centred).
        ix0, iy0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        iside = int(round(side))
        scale = min(1.0, self.max_crop / iside)
        out = max(16, int(round(iside * scale)))
        scale = out / iside
        m = np.array([[scale, 0, -ix0 * scale], [0, scale, -iy0 * scale]], np.float32)
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        if scale < 1 and ix0 >= 0 and iy0 >= 0 and ix0 + iside <= w and iy0 + iside <= h:
            crop = cv2.resize(image[iy0 : iy0 + iside, ix0 : ix0 + iside], (out, out), interpolation=interp)
        else:
            crop = cv2.warpAffine(image, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        if self._mesh_quiet:
            with quiet_native_stderr():
                result = self._mesh.process(np.ascontiguousarray(crop))
        else:
            result = self._mesh.process(np.ascontiguousarray(crop))
        if not result.multi_face_landmarks:
            return None
        self._mesh_quiet = False
        best, best_iou = None, 0.0
        target = np.array([[x0, y0, x1, y1]], np.float32)
        for lms in result.multi_face_landmarks:
            pts = np.array([(p.x, p.y, p.z) for p in lms.landmark], np.float32) * out
            pts[:, 0] = pts[:, 0] / scale + ix0
            pts[:, 1] = pts[:, 1] / scale + iy0
            pts[:, 2] = pts[:, 2] / scale
            iou = float(box_iou(target, landmark_box(pts)[None])[0, 0])
            if iou > best_iou:
                best, best_iou = pts, iou
        return best if best_iou >= 0.25 else None


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) uint8 RGB, got {image.shape} {image.dtype}")
    return image if image.flags.c_contiguous else np.ascontiguousarray(image)
