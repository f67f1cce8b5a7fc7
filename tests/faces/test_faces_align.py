"""Alignment, paste-back, masks, landmark conventions and quality measures."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deepfake_lab.faces import (
    FACE_CENTER,
    FACE_SIDE,
    INNER_51,
    MESH_TO_68,
    TEMPLATE_5,
    TEMPLATE_68,
    Face,
    QualityFilter,
    align_face,
    alignment_matrix,
    blur_score,
    create_detector,
    face_mask,
    invert_affine,
    mesh_to_5,
    paste_back,
    transform_points,
    umeyama,
)
from deepfake_lab.video import read_image
from support import FIXTURES

FACE_JPG = FIXTURES / "grace_hopper_face.jpg"


@pytest.fixture(scope="module")
def frame_and_face() -> tuple[np.ndarray, Face]:
    """The test face on a larger canvas (so crops with margin stay inside the frame)."""
    face = read_image(FACE_JPG)
    frame = cv2.copyMakeBorder(face, 80, 80, 100, 100, cv2.BORDER_REPLICATE)
    with create_detector("mediapipe") as det:
        (f,) = det(frame)
    return frame, f


def template_crop_positions(size: int, margin: float, points: np.ndarray) -> np.ndarray:
    side = FACE_SIDE * (1 + 2 * margin)
    return (points - (np.array(FACE_CENTER) - side / 2)) * size / side


def test_umeyama_recovers_similarity() -> None:
    rng = np.random.default_rng(1)
    src = rng.normal(size=(30, 2))
    ang, s, t = 0.7, 2.5, np.array([3.0, -4.0])
    r = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = s * src @ r.T + t
    m = umeyama(src, dst)
    assert m.shape == (3, 3)
    assert np.allclose(m[:2, :2], s * r) and np.allclose(m[:2, 2], t)
    # a mirrored target gives the best proper rotation, never a reflection
    m2 = umeyama(src, dst * [-1, 1])
    assert np.linalg.det(m2[:2, :2]) > 0
    assert np.allclose(umeyama(src, dst, estimate_scale=False)[:2, :2], r)


def test_landmark_conventions() -> None:
    assert len(set(MESH_TO_68.tolist())) == 68 and MESH_TO_68.max() < 468
    assert TEMPLATE_68[INNER_51].min() == pytest.approx(0, abs=1e-4)
    assert TEMPLATE_68[INNER_51].max() == pytest.approx(1, abs=1e-4)
    # symmetric: point i mirrors point 16-i on the jaw, eye corners mirror each other
    assert TEMPLATE_68[0, 0] + TEMPLATE_68[16, 0] == pytest.approx(1.0, abs=1e-3)
    assert TEMPLATE_68[36, 1] == pytest.approx(TEMPLATE_68[45, 1], abs=1e-3)
    assert np.allclose(mesh_to_5(TEMPLATE_68), TEMPLATE_5)
    assert TEMPLATE_5[0, 0] < TEMPLATE_5[2, 0] < TEMPLATE_5[1, 0]


@pytest.mark.parametrize("which", ["mesh", "68", "5"])
def test_alignment_matrix_puts_template_points_in_place(which: str) -> None:
    size, margin = 128, 0.2
    ang = np.deg2rad(25)
    r = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    pts68 = TEMPLATE_68 @ r.T * 150 + [300, 200]  # the canonical face, rotated, scaled and moved
    if which == "mesh":
        mesh = np.zeros((478, 2))
        mesh[MESH_TO_68] = pts68
        lm: np.ndarray = mesh
    elif which == "68":
        lm = pts68
    else:
        lm = mesh_to_5(pts68)
    m = alignment_matrix(lm, size, margin)
    expected = template_crop_positions(size, margin, TEMPLATE_68)
    got = transform_points(pts68, m)
    assert np.abs(got - expected).max() < 1e-3
    assert np.allclose(transform_points(got, invert_affine(m)), pts68, atol=1e-3)


def test_align_face_upright_and_centred(frame_and_face: tuple[np.ndarray, Face]) -> None:
    frame, face = frame_and_face
    for size in (64, 128, 256):
        a = align_face(frame, face.mesh, size=size, margin=0.2)
        assert a.image.shape == (size, size, 3) and a.image.dtype == np.uint8
        p5 = a.to_crop(face.landmarks5)
        expected = template_crop_positions(size, 0.2, TEMPLATE_5)
        assert np.abs(p5 - expected).mean() < 0.04 * size
    # a rotated frame gives the same upright crop
    h, w = frame.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), 25, 1.0)
    turned = cv2.warpAffine(frame, rot, (w, h), borderMode=cv2.BORDER_REPLICATE)
    with create_detector("mediapipe") as det:
        (tf,) = det(turned)
    a0 = align_face(frame, face.mesh, 128)
    a1 = align_face(turned, tf.mesh, 128)
    e0, e1 = a1.to_crop(tf.landmarks5)[:2]
    assert abs(np.degrees(np.arctan2(e1[1] - e0[1], e1[0] - e0[0]))) < 2.0
    centre = slice(32, 96)
    diff = np.abs(a0.image[centre, centre].astype(int) - a1.image[centre, centre]).mean()
    assert diff < 12


@pytest.mark.parametrize("landmarks", ["mesh", "68", "5"])
def test_round_trip_paste_back_is_exact(frame_and_face: tuple[np.ndarray, Face], landmarks: str) -> None:
    frame, face = frame_and_face
    lm = {"mesh": face.mesh, "68": face.landmarks68, "5": face.landmarks5}[landmarks]
    a = align_face(frame, lm, size=256, margin=0.2)
    mask = face_mask(a.to_crop(face.mesh), (256, 256), grow=-4, feather=8)
    out = paste_back(frame, a.image, a.matrix, mask)
    assert out.shape == frame.shape and out is not frame
    frame_mask = face_mask(face.mesh, frame.shape[:2]) > 0.5
    diff = np.abs(out.astype(np.float32) - frame.astype(np.float32)).mean(axis=2)
    assert diff[frame_mask].mean() < 1.0  # less than one gray level inside the mask
    outside = face_mask(face.mesh, frame.shape[:2], grow=12) == 0
    assert np.array_equal(out[outside], frame[outside])


def test_paste_back_changes_only_the_masked_face(frame_and_face: tuple[np.ndarray, Face]) -> None:
    frame, face = frame_and_face
    a = align_face(frame, face.mesh, size=128)
    white = np.full_like(a.image, 255)
    mask = face_mask(a.to_crop(face.mesh), (128, 128), feather=4)
    before = frame.copy()
    out = paste_back(frame, white, a.matrix, mask)
    assert np.array_equal(frame, before)  # not in place
    inside = face_mask(face.mesh, frame.shape[:2], grow=-6) > 0.99
    outside = face_mask(face.mesh, frame.shape[:2], grow=8) == 0
    assert out[inside].min() >= 250
    assert np.array_equal(out[outside], frame[outside])
    same = paste_back(frame.copy(), white, a.matrix, None, inplace=False)
    assert same[inside].min() >= 250
    with pytest.raises(ValueError, match="mask must be"):
        paste_back(frame, white, a.matrix, np.ones((10, 10), np.float32))


def test_small_crops_of_large_faces_are_antialiased(frame_and_face: tuple[np.ndarray, Face]) -> None:
    frame, face = frame_and_face
    big = cv2.resize(frame, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    mesh = face.mesh.copy()
    mesh[:, :2] *= 4
    small = align_face(big, mesh, size=64).image
    reference = cv2.resize(align_face(big, mesh, size=512).image, (64, 64), interpolation=cv2.INTER_AREA)
    naive = cv2.warpAffine(big, alignment_matrix(mesh, 64), (64, 64), flags=cv2.INTER_LINEAR)  # aliased
    err = np.abs(small.astype(int) - reference).mean()
    assert err < 6 and err < 0.5 * np.abs(naive.astype(int) - reference).mean()


def test_halving_keeps_the_pixel_grid() -> None:
    from deepfake_lab.faces.align import _halve

    ramp = np.tile(np.arange(203, dtype=np.float32)[None, :, None], (101, 1, 3))  # value = x, odd sides
    region, fold = _halve(ramp.astype(np.uint8), 0.2)
    assert fold == 4 and region.shape == (26, 51, 3)  # ceil(ceil(101 / 2) / 2), ceil(ceil(203 / 2) / 2)
    centres = (np.arange(51) + 0.5) * fold - 0.5  # frame x of each halved pixel
    assert np.abs(region[0, :-1, 0] - centres[:-1]).max() <= 1  # the last one holds a repeated column
    assert _halve(ramp.astype(np.uint8), 0.6)[1] == 1  # shrinks to over half the size: left to the area shrink


@pytest.mark.parametrize("at_edge", [False, True])
def test_big_shrinks_halve_first_on_the_same_grid(frame_and_face: tuple[np.ndarray, Face], at_edge: bool) -> None:
    """Faces over twice the crop are halved exactly before the general area shrink (3-4x cheaper): the crop
    stays where the one-step shrink puts it, within about a grey level, also where it leaves the frame."""
    from deepfake_lab.faces import align as align_mod

    frame, face = frame_and_face
    big = cv2.resize(frame, None, fx=5, fy=5, interpolation=cv2.INTER_CUBIC)[:-3, :-1]  # odd sides
    mesh = face.mesh.copy()
    mesh[:, :2] *= 5
    if at_edge:
        mesh[:, 1] += big.shape[0] - mesh[:, 1].max() - 5  # chin 5 px above the bottom: the crop leaves the frame
    m = alignment_matrix(mesh, 128, 0.1)
    fast = align_mod.warp_to_crop(big, m, 128).astype(int)
    halve = align_mod._halve
    try:
        align_mod._halve = lambda r, s: (r, 1)  # the one-step shrink
        slow = align_mod.warp_to_crop(big, m, 128).astype(int)
    finally:
        align_mod._halve = halve
    inside = (slow > 0).all(-1) & (fast > 0).all(-1)
    inside = cv2.erode(inside.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)  # off the black border
    assert inside.mean() > (0.5 if at_edge else 0.9)
    assert np.abs(fast - slow)[inside].mean() < 1.5
    black_fast, black_slow = (fast == 0).all(-1).sum(0), (slow == 0).all(-1).sum(0)
    assert np.abs(black_fast - black_slow).max() <= 2  # where the crop leaves the frame moves a pixel at most


def test_face_mask_grow_feather(frame_and_face: tuple[np.ndarray, Face]) -> None:
    _, face = frame_and_face
    a_pts = face.mesh
    shape = (400, 400)
    hard = face_mask(a_pts, shape)
    assert hard.dtype == np.float32 and hard.shape == shape
    assert hard.min() >= 0.0 and hard.max() <= 1.0
    grown, shrunk = face_mask(a_pts, shape, grow=6), face_mask(a_pts, shape, grow=-6)
    assert (shrunk > 0.5).sum() < (hard > 0.5).sum() < (grown > 0.5).sum()
    soft = face_mask(a_pts, shape, feather=10)
    assert ((soft > 0.05) & (soft < 0.95)).sum() > ((hard > 0.05) & (hard < 0.95)).sum()
    for p in face.landmarks5.astype(int):  # eyes, nose, mouth corners inside
        assert hard[p[1], p[0]] == 1.0
    assert hard[0, 0] == 0.0
    # works with 68 points (convex hull) too
    assert (face_mask(face.landmarks68, shape) > 0.5).sum() > 0.6 * (hard > 0.5).sum()


def test_quality(frame_and_face: tuple[np.ndarray, Face]) -> None:
    frame, face = frame_and_face
    crop = align_face(frame, face.mesh, 128).image
    blurred = cv2.GaussianBlur(crop, (0, 0), 3)
    assert blur_score(crop) > 3 * blur_score(blurred)
    big = align_face(frame, face.mesh, 256).image  # same face, another crop size: comparable score
    assert 0.5 < blur_score(big) / blur_score(crop) < 2.0
    q = QualityFilter(min_size=face.size + 1)
    assert q.check_face(face) == "size"
    assert QualityFilter(min_score=0.99).check_face(face) == "score"
    assert QualityFilter(min_size=10, min_score=0.1).check_face(face) is None
    why, score = QualityFilter(min_blur=blur_score(crop) + 1).check_crop(crop)
    assert why == "blur" and score == pytest.approx(blur_score(crop))
