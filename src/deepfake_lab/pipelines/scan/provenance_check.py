"""The provenance check inside a scan: the C2PA manifest and the invisible watermark, beside the scan.

`start_provenance_check(path)` starts a `ProvenanceCheck` on its own thread (its time is not part of
`FileScan.seconds`); it never fails the scan: a problem becomes {"error": "..."} in the file's `provenance`.

- Images: the check reads the file itself (one decode, cheap).
- Videos: the C2PA manifest is read at once; the watermark is decoded on a sample of the frames the scan
  decodes anyway (`ProvenanceCheck.offer`, called for every scanned frame): every n-th of them, n = expected
  frames / `PROVENANCE_FRAMES`, stopping once `PROVENANCE_CONFIRM` agree on a payload. The check decodes no
  video of its own (measured: a third of its cost on a 720p clip went to seeking and decoding its own
  sample, beside a scan that decodes every frame; benchmarks/RESULTS.md, start-up runs).

`prestart_provenance_check(path)` starts a file's check before the scan exists (the CLI calls it while the
detector and the face detector load, when one core is idle); the scan of that file picks it up.

Example:
    >>> from deepfake_lab.pipelines.scan.provenance_check import check_provenance
    >>> check_provenance(Path("generated.png"))["c2pa"]  # doctest: +SKIP
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepfake_lab.errors import DeepfakeLabError
from deepfake_lab.fsutil import file_identity

if TYPE_CHECKING:  # numpy, av & co. load on the check's thread: the CLI starts it before its own imports
    import numpy as np

    from deepfake_lab.video.reader import Frame

__all__ = [
    "PROVENANCE_CONFIRM",
    "PROVENANCE_FRAMES",
    "ProvenanceCheck",
    "check_provenance",
    "prestart_provenance_check",
    "start_provenance_check",
]

PROVENANCE_FRAMES = 16
"""Most video frames the provenance check of a scan examines (spread over the scanned frames)."""
PROVENANCE_CONFIRM = 3
"""The check stops once this many sampled frames carried the same watermark payload."""
_QUEUED = 2
"""Sampled frames waiting for the watermark decoder at most (memory stays bounded)."""


def check_provenance(
    path: Path, video_frames: Iterable[tuple[int, np.ndarray]] | None = None
) -> dict[str, Any] | None:
    """Findings of `deepfake_lab.provenance.inspect_provenance` (None when that module is not installed).

    Bounded: the C2PA manifest, then at most `PROVENANCE_FRAMES` frames, stopping after `PROVENANCE_CONFIRM`
    frames agree on a payload: `video_frames` when given (sampling "scan"), else key frames at evenly spaced
    times (one seek each); the report's `watermark.frames_checked` / `sample_limit` / `stopped_early` say
    what it cost."""
    try:
        from deepfake_lab.provenance import inspect_provenance  # type: ignore[attr-defined]
    except ImportError:
        return None
    try:
        rep = inspect_provenance(path, max_frames=PROVENANCE_FRAMES, confirm=PROVENANCE_CONFIRM,
                                 sampling="keyframes" if video_frames is None else "scan",
                                 video_frames=video_frames)  # fmt: skip
        return dict(rep.to_dict())
    except DeepfakeLabError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a failing check must not cost the scan
        return {"error": f"provenance check failed: {type(exc).__name__}: {str(exc)[:200]}"}


class ProvenanceCheck:
    """The provenance check of one file, running on a daemon thread.

    For a video, `plan` (how many frames the scan expects) and `offer` (each scanned frame) feed the
    watermark sample; `result` ends the sample and waits for the findings. For an image, `plan`/`offer` do
    nothing: the check reads the file itself.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.video = True  # until the thread has looked at the suffix (`_kind`)
        self._kind = threading.Event()
        self._q: queue.Queue[tuple[int, np.ndarray] | None] = queue.Queue(maxsize=_QUEUED)
        self._stopped = threading.Event()  # the check reads no more frames
        self._step = 1
        self._seen = 0
        self._taken = 0
        self._ended = False
        self._box: list[dict[str, Any] | None] = [None]
        self._thread = threading.Thread(target=self._run, name="scan-provenance", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            from deepfake_lab.video.image import is_image_path

            self.video = not is_image_path(self.path)
            self._kind.set()
            self._box[0] = check_provenance(self.path, self._frames() if self.video else None)
        finally:
            self._kind.set()
            self._stopped.set()

    def _frames(self) -> Iterator[tuple[int, np.ndarray]]:
        while (item := self._q.get()) is not None:
            yield item

    def plan(self, expected_frames: int | None, fps: float | None = None) -> None:
        """Spread the sample over `expected_frames` scanned frames (unknown: one frame per second of `fps`)."""
        if expected_frames:
            self._step = max(1, expected_frames // PROVENANCE_FRAMES)
        else:
            self._step = max(1, round(fps or 1.0))

    def offer(self, frame: Frame) -> None:
        """A frame the scan decoded: every `step`-th one goes to the check while it still wants frames (the
        scan waits when `_QUEUED` sampled frames are still waiting: the same frames are checked every run)."""
        self._kind.wait()
        self._seen += 1
        if not self.video or self._ended or (self._seen - 1) % self._step or self._taken >= PROVENANCE_FRAMES:
            return
        if self._put((int(frame.index), frame.image)):
            self._taken += 1

    def end(self) -> None:
        """No more frames (the check finishes with what it has; call it when a scan fails, too)."""
        if self._ended:
            return
        self._ended = True
        self._put(None)

    def _put(self, item: tuple[int, np.ndarray] | None) -> bool:
        """Queue `item` for the check, waiting while the queue is full; False when the check stopped reading."""
        while not self._stopped.is_set():
            try:
                self._q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def result(self) -> dict[str, Any] | None:
        """End the sample and wait for the findings."""
        self.end()
        self._thread.join()
        return self._box[0]


_EARLY: dict[tuple[str, int, int], ProvenanceCheck] = {}
_EARLY_LOCK = threading.Lock()


def prestart_provenance_check(path: Path) -> ProvenanceCheck | None:
    """Start the check of `path` now (None when it is not a file); the next `start_provenance_check` of the
    same, unchanged file takes it over instead of starting another (a check nobody takes over just ends with
    the process: it only reads)."""
    key = file_identity(path)
    if key is None:
        return None
    with _EARLY_LOCK:
        if key not in _EARLY:
            _EARLY[key] = ProvenanceCheck(Path(path))
        return _EARLY[key]


def start_provenance_check(path: Path) -> ProvenanceCheck:
    """The check of `path`: the one `prestart_provenance_check` started for it, else a new one."""
    key = file_identity(path)
    with _EARLY_LOCK:
        early = _EARLY.pop(key, None) if key is not None else None
    return early if early is not None else ProvenanceCheck(Path(path))
