"""Source discovery (`video.discover`): natural order, hidden names, the excluded folder, error entries."""

from __future__ import annotations

from pathlib import Path

from deepfake_lab.video.discover import VIDEO_EXTENSIONS, collect_sources, walk_media


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_folders_are_walked_in_natural_order_without_hidden_or_excluded(tmp_path: Path) -> None:
    for rel in ("clip10.mp4", "clip2.MOV", "a/photo.jpg", "notes.txt", ".hidden.mp4", ".cache/x.mp4", "out/f.png"):
        _touch(tmp_path / rel)
    found = walk_media(tmp_path, exclude=(tmp_path / "out").resolve())
    # a folder's own files first, then its sub-folders
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["clip2.MOV", "clip10.mp4", "a/photo.jpg"]
    assert ".mov" in VIDEO_EXTENSIONS and ".jpg" not in VIDEO_EXTENSIONS


def test_inputs_become_sources_or_one_error_entry_each(tmp_path: Path) -> None:
    video = _touch(tmp_path / "media" / "v.mp4")
    odd = _touch(tmp_path / "clip.bin")  # a file given by name is taken whatever its suffix
    (tmp_path / "empty").mkdir()
    sources = collect_sources([tmp_path / "media", video, odd, tmp_path / "missing.mp4", tmp_path / "empty"])
    assert sources == [
        (str(video), video, ""),  # the same file twice is one source
        (str(odd), odd, ""),
        (str(tmp_path / "missing.mp4"), None, f"{tmp_path / 'missing.mp4'}: no such file or folder"),
        (str(tmp_path / "empty"), None, f"{tmp_path / 'empty'}: no videos or images in this folder"),
    ]
