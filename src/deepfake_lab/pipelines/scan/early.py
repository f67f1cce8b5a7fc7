"""Decoding a video before its scan exists: `prestart_frames(path)` opens the file and decodes ahead on a
background thread while the CLI is still importing and loading its models, and the scan of that same,
unchanged file takes the reader and its frames over (`take_frames`).

Why: `detect` spends about a second in start-up (imports, the ONNX session, the face models) with one core
mostly idle. On the 720p clip of benchmarks/startup.py the file is 39-47 frames ahead when the scan starts (the
main thread's imports hold the GIL much of that second): about 0.1 s of decoding off the scan; side by side its
median wall gain ranged from -0.04 to 0.48 s over four runs, within this VM's noise (benchmarks/scan_bounds.py
`no-early`, RESULTS.md 2026-12-02). Only stdlib modules are imported here: PyAV, NumPy and the readers load on
the background thread.

Memory: at most `max_bytes` of decoded frames and one more wait (192 MiB: 73 frames of 720p, 9 of 4K) until
the scan takes them; it then bounds the feed like its own (`Prefetcher.limit`). A file no scan takes (an error
before the scan) is closed when `detect` ends (`discard_untaken`), at the latest at exit.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from deepfake_lab.fsutil import file_identity

if TYPE_CHECKING:
    from deepfake_lab.video.feed import Prefetcher
    from deepfake_lab.video.reader import MediaReader

__all__ = ["EARLY_BYTES", "EarlyFrames", "discard_untaken", "prestart_frames", "take_frames"]

EARLY_BYTES = 192 * 2**20
"""Decoded frames a prestarted file may hold before its scan takes them (and one frame more)."""


@dataclass
class EarlyFrames:
    """A video being opened, then decoded, on a background thread: its reader and the feed of its frames.
    `ident` is the file's (path, mtime, size) when it was started."""

    path: Path
    ident: tuple[str, int, int]
    every: int
    reader: MediaReader | None = None
    feed: Prefetcher | None = None
    opened: threading.Event = field(default_factory=threading.Event)

    def _open(self, max_bytes: int) -> None:
        reader = None
        try:
            from deepfake_lab.video.feed import Prefetcher
            from deepfake_lab.video.reader import open_media

            reader = open_media(self.path)
            if reader.info.kind == "video":  # stills and sequences: nothing to gain
                self.feed = Prefetcher(reader.iter_frames(self.every), depth=1, max_bytes=max_bytes)
                self.reader, reader = reader, None
        except Exception:  # noqa: BLE001, S110 - a bad file is opened again, and reported, by the scan itself
            pass
        finally:
            if reader is not None:
                reader.close()
            self.opened.set()

    def close(self) -> None:
        """Stop decoding and close the file (nobody took it over)."""
        self.opened.wait()
        if self.feed is not None:
            self.feed.close()
        if self.reader is not None:
            self.reader.close()
        self.feed = self.reader = None


_EARLY: dict[str, EarlyFrames] = {}  # by resolved path
_LOCK = threading.Lock()


def prestart_frames(path: str | Path, every: int = 1, max_bytes: int = EARLY_BYTES) -> None:
    """Start decoding the video at `path` (every `every`-th frame, up to `max_bytes` of frames ahead) on a
    background thread; nothing happens for a path that is not a regular file or already started."""
    ident = file_identity(path)
    if ident is None:
        return
    with _LOCK:
        if ident[0] in _EARLY:
            return
        early = EarlyFrames(Path(path), ident, int(every))
        try:
            threading.Thread(target=early._open, args=(max_bytes,), name="scan-early-decode", daemon=True).start()
        except RuntimeError:  # no thread to be had: the scan opens the file itself
            return
        _EARLY[ident[0]] = early


def take_frames(path: str | Path, every: int) -> tuple[MediaReader, Prefetcher] | None:
    """The prestarted reader and feed of this unchanged file at this `every` (waiting until it is open; the
    caller closes both, the feed first), or None: none was started, the file changed or did not open as a
    video (the scan opens it itself)."""
    ident = file_identity(path)
    with _LOCK:
        early = _EARLY.pop(ident[0], None) if ident is not None else None
    if early is None:
        return None
    try:
        early.opened.wait()
    except BaseException:  # Ctrl-C while it opens: nobody else will close it
        early.close()
        raise
    if early.ident != ident or early.every != every or early.reader is None or early.feed is None:
        early.close()
        return None
    return early.reader, early.feed


@atexit.register
def discard_untaken() -> None:
    """Close every prestarted file no scan took over (a command that failed before scanning; also at exit)."""
    with _LOCK:
        left = list(_EARLY.values())
        _EARLY.clear()
    for early in left:
        early.close()
