"""Faces from real media: detection (plugins), landmarks (478/68/5), alignment + paste-back, masks,
tracking and quality filters.

Example:
    >>> from deepfake_lab.faces import align_face, create_detector, face_mask, paste_back
    >>> with create_detector("mediapipe") as det:  # doctest: +SKIP
    ...     face = det(frame)[0]
    ...     aligned = align_face(frame, face.mesh, size=256, margin=0.2)
    ...     mask = face_mask(aligned.to_crop(face.mesh), (256, 256), grow=-6, feather=10)
    ...     restored = paste_back(frame, aligned.image, aligned.matrix, mask)
"""

from deepfake_lab.faces.align import (
    FACE_CENTER,
    FACE_SIDE,
    AlignedFace,
    align_face,
    alignment_matrix,
    invert_affine,
    paste_back,
    transform_points,
    umeyama,
    warp_to_crop,
)
from deepfake_lab.faces.detect import (
    DETECTORS,
    FaceDetector,
    MediaPipeDetector,
    create_detector,
    list_detectors,
    nms,
    quiet_native_stderr,
    register_detector,
)
from deepfake_lab.faces.landmarks import (
    FACE_OVAL,
    INNER_51,
    MESH_TO_68,
    TEMPLATE_5,
    TEMPLATE_68,
    mesh_to_5,
    mesh_to_68,
)
from deepfake_lab.faces.mask import face_mask, feather_mask, grow_mask, hull_polygon
from deepfake_lab.faces.quality import QualityFilter, blur_score, yaw_ratio
from deepfake_lab.faces.track import FaceAnalyzer, FaceTracker, Track, association_cost
from deepfake_lab.faces.types import Face, box_iou, landmark_box

__all__ = [
    "DETECTORS",
    "FACE_CENTER",
    "FACE_OVAL",
    "FACE_SIDE",
    "INNER_51",
    "MESH_TO_68",
    "TEMPLATE_5",
    "TEMPLATE_68",
    "AlignedFace",
    "Face",
    "FaceAnalyzer",
    "FaceDetector",
    "FaceTracker",
    "MediaPipeDetector",
    "QualityFilter",
    "Track",
    "align_face",
    "alignment_matrix",
    "association_cost",
    "blur_score",
    "box_iou",
    "create_detector",
    "face_mask",
    "feather_mask",
    "grow_mask",
    "hull_polygon",
    "invert_affine",
    "landmark_box",
    "list_detectors",
    "mesh_to_5",
    "mesh_to_68",
    "nms",
    "paste_back",
    "quiet_native_stderr",
    "register_detector",
    "transform_points",
    "umeyama",
    "warp_to_crop",
    "yaw_ratio",
]
