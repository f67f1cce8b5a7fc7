"""Source discovery: the media files that a list of files and folders names, in a stable order.

Folders are searched recursively for videos (`VIDEO_EXTENSIONS`) and images (`video.image.IMAGE_EXTENSIONS`),
hidden files and folders skipped, names sorted naturally ("clip2" before "clip10"); files are taken as given,
whatever their suffix. Extraction and scanning both start here.

Example:
    >>> collect_sources(["clip.mp4", "photos/", "missing.mp4"])  # doctest: +SKIP
    [('clip.mp4', PosixPath('clip.mp4'), ''), ('photos/a.jpg', PosixPath('photos/a.jpg'), ''),
     ('missing.mp4', None, 'missing.mp4: no such file or folder')]
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from deepfake_lab.video.image import IMAGE_EXTENSIONS
from deepfake_lab.video.reader import natural_key

__all__ = ["VIDEO_EXTENSIONS", "collect_sources", "walk_media"]

VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".wmv",
     ".flv", ".3gp", ".ogv", ".mxf", ".y4m"}
)  # fmt: skip
"""Suffixes picked up as videos when a folder is given."""


def collect_sources(inputs: Iterable[str | Path], exclude: Path | None = None) -> list[tuple[str, Path | None, str]]:
    """Expand inputs into sources.

    Folders are searched recursively for videos and images (naturally sorted); files are taken as given,
    whatever their suffix. A missing or unreadable input becomes an error entry instead of raising.

    Args:
        inputs: files and folders.
        exclude: a folder never to descend into (e.g. the output faceset).

    Returns:
        (input as given, path or None, error message or "") per source, in order.
    """
    out: list[tuple[str, Path | None, str]] = []
    seen: set[Path] = set()
    excl = exclude.resolve() if exclude is not None else None
    for raw in inputs:
        p = Path(raw)
        if not p.exists():
            out.append((str(raw), None, f"{raw}: no such file or folder"))
            continue
        if p.is_dir():
            if not os.access(p, os.R_OK | os.X_OK):
                out.append((str(raw), None, f"{raw}: folder not readable (permission denied)"))
                continue
            try:
                found = walk_media(p, excl)
            except PermissionError as exc:
                out.append((str(raw), None, f"{exc.filename or raw}: folder not readable (permission denied)"))
                continue
            if not found:
                out.append((str(raw), None, f"{raw}: no videos or images in this folder"))
            for f in found:
                if f.resolve() not in seen:
                    seen.add(f.resolve())
                    out.append((str(f), f, ""))
        else:
            if p.resolve() not in seen:
                seen.add(p.resolve())
                out.append((str(raw), p, ""))
    return out


def walk_media(root: Path, exclude: Path | None = None) -> list[Path]:
    """Videos and images under `root`, recursively, naturally sorted; hidden names and `exclude` skipped.

    Raises:
        PermissionError: a folder below `root` cannot be read.
    """
    media = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
    found: list[Path] = []

    def onerror(exc: OSError) -> None:
        raise exc

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
        d = Path(dirpath)
        dirnames[:] = sorted(
            (n for n in dirnames if not n.startswith(".") and (exclude is None or (d / n).resolve() != exclude)),
            key=natural_key,
        )
        for name in sorted(filenames, key=natural_key):
            if Path(name).suffix.lower() in media and not name.startswith("."):
                found.append(d / name)
    return found
