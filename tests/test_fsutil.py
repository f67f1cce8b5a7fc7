"""The one sha256 and the one atomic write (fsync + rename) every layer uses."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from deepfake_lab.fsutil import atomic_write_bytes, atomic_write_text, remove_stale_temp, sha256_file


def test_sha256_file_matches_hashlib_across_chunks(tmp_path: Path) -> None:
    data = bytes(range(256)) * 5000  # > 1 chunk of 1 MiB
    p = tmp_path / "blob.bin"
    p.write_bytes(data)
    assert sha256_file(p) == hashlib.sha256(data).hexdigest()
    assert sha256_file(p, chunk=7) == hashlib.sha256(data).hexdigest()


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "card.json"
    atomic_write_text(p, "one")
    atomic_write_text(p, "två")
    assert p.read_text(encoding="utf-8") == "två"
    assert [q.name for q in p.parent.iterdir()] == ["card.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    p = tmp_path / "state.pt"
    p.write_bytes(b"old")

    def boom(f) -> None:
        f.write(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write_bytes(p, boom)
    assert p.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [p]


def test_remove_stale_temp_only_touches_its_pattern(tmp_path: Path) -> None:
    (tmp_path / ".state.pt.abc123.tmp").write_bytes(b"x")
    (tmp_path / "keep.tmp").write_bytes(b"x")
    (tmp_path / "state.pt").write_bytes(b"x")
    removed = remove_stale_temp(tmp_path)
    assert [p.name for p in removed] == [".state.pt.abc123.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tmp", "state.pt"]
    assert remove_stale_temp(tmp_path / "missing") == []


def test_new_files_get_the_umask_mode_and_replacements_keep_theirs(tmp_path: Path) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        p = tmp_path / "scan.json"
        atomic_write_text(p, "{}")
        assert stat.S_IMODE(p.stat().st_mode) == 0o644  # not the 0o600 of mkstemp
        p.chmod(0o640)
        atomic_write_text(p, "{ }")
        assert stat.S_IMODE(p.stat().st_mode) == 0o640
        key = tmp_path / "key.pem"
        atomic_write_bytes(key, lambda f: f.write(b"secret"), mode=0o600)
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_replace_file_moves_a_finished_file_into_place(tmp_path: Path) -> None:
    from deepfake_lab.fsutil import replace_file

    tmp, final = tmp_path / ".out.png.tmp", tmp_path / "out.png"
    final.write_bytes(b"old")
    tmp.write_bytes(b"new")
    replace_file(tmp, final)
    assert final.read_bytes() == b"new" and not tmp.exists()
    with pytest.raises(FileNotFoundError):
        replace_file(tmp, final)  # nothing to move: the old file stays
    assert final.read_bytes() == b"new"
