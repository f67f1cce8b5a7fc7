"""Progress callback bases of the media pipelines, importable without torch, OpenCV or PyAV.

The CLI subclasses these to draw progress bars; keeping them here (standard library only) lets
`deepfake-lab --help` and every subcommand's `--help` start without the heavy media/model stack.
`pipelines.extract` re-exports `ExtractProgress` under its old name; scan code imports `ScanProgress` from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from deepfake_lab.pipelines.extract import SourceResult
    from deepfake_lab.pipelines.scan import FileScan, FrameScore
    from deepfake_lab.video.reader import MediaInfo

__all__ = ["ExtractProgress", "ScanProgress"]


class ScanProgress:
    """Callbacks the scan calls as it goes; the default does nothing (the CLI draws a bar / live line)."""

    def sources_found(self, count: int) -> None:
        """Number of sources to scan."""

    def file_started(self, source: str, info: MediaInfo | None, total_frames: int | None) -> None:
        """A source is open; `total_frames` to process (None when unknown)."""

    def frames_done(self, frames: list[FrameScore], running: float | None, dropped: int) -> None:
        """Frames whose scores are known (in order); `running` is the aggregation rule over the faces of the
        last 300 scored frames (None: no face yet); `dropped` counts realtime drops so far."""

    def file_finished(self, result: FileScan) -> None:
        """A source is done or failed."""

    def cancelled(self) -> bool:
        """Polled once per decoded frame: True stops this source early (the web service's delete/shutdown)."""
        return False


class ExtractProgress:
    """Callbacks `extract` calls as it goes; the default does nothing (the CLI draws a progress bar)."""

    def sources_found(self, count: int) -> None:
        """Number of sources to look at (including ones already done)."""

    def source_started(self, source: Path, info: MediaInfo, total_frames: int | None, done_frames: int) -> None:
        """A source is opened; `total_frames` to process (None if unknown), `done_frames` already done."""

    def frame_done(self, frames: int, faces: int) -> None:
        """`frames` more frames processed, `faces` more faces saved."""

    def source_finished(self, result: SourceResult) -> None:
        """A source is done, skipped (already done) or failed."""
