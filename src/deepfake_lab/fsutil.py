"""File helpers every layer uses: the one sha256 of a file and the one atomic write (fsync + rename).

An atomic write goes to a temporary file beside the target (`.<name>.<random>.tmp`), is flushed and
fsynced, renamed over the target, and the folder is fsynced, so a process killed mid-write leaves either
the old file or the new one, never a torn one. `remove_stale_temp` deletes what a killed writer left.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


def sha256_file(path: str | Path, chunk: int = CHUNK) -> str:
    """Hex sha256 of a file, read in chunks (flat memory).

    Example: ``sha256_file("weights.safetensors")`` → ``"9f86d0…"`` (64 hex digits).
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_identity(path: str | Path) -> tuple[str, int, int] | None:
    """(resolved path, mtime in ns, size) of a regular file, None otherwise: a changed file gets another."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return (str(Path(path).resolve()), st.st_mtime_ns, st.st_size) if stat.S_ISREG(st.st_mode) else None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_UMASK_LOCK = threading.Lock()


def _new_file_mode(path: Path) -> int:
    """The mode a plain `open(path, "w")` would give: the old file's mode, else 0o666 minus the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        pass
    with _UMASK_LOCK:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: str | Path, writer: Callable[[BinaryIO], object], mode: int | None = None) -> None:
    """Call `writer(fileobj)` on a temp file beside `path`, fsync, then rename it onto `path`.

    The file gets `mode` if given (e.g. 0o600 for a private key), else what a plain write would give it (the
    replaced file's mode, or 0o666 minus the umask) — not the 0o600 of the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    final_mode = _new_file_mode(path) if mode is None else mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, final_mode)
        with os.fdopen(fd, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_file(tmp: str | Path, final: str | Path) -> None:
    """Move a finished file that another writer (PIL, PyAV, c2pa) wrote at `tmp` onto `final`, atomically:
    fsync its data, rename (same folder), fsync the folder — the same guarantee as `atomic_write_bytes`."""
    tmp, final = Path(tmp), Path(final)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    _fsync_dir(final.parent)


def atomic_write_text(path: str | Path, text: str, mode: int | None = None) -> None:
    """Write `text` (UTF-8) to `path` atomically; see `atomic_write_bytes`."""
    atomic_write_bytes(path, lambda f: f.write(text.encode("utf-8")), mode=mode)


def remove_stale_temp(folder: str | Path) -> list[Path]:
    """Delete the temporary files `atomic_write_bytes` leaves when a process is killed mid-write.

    Only names of its pattern (`.<name>.<random>.tmp`) are touched. Call it where no write can be running
    (at the start of a run or a resume). Returns the removed paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in folder.glob(".*.tmp"):
        if p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
