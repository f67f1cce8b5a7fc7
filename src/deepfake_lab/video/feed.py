"""Frames handed over by a background thread: `Prefetcher` (decode ahead, bounded) and `RealtimeFeed` (frames
released at wall-clock pace, stale ones dropped to bound latency).

Example:
    >>> from deepfake_lab.video import open_media
    >>> from deepfake_lab.video.feed import Prefetcher
    >>> with open_media("clip.mp4") as reader, Prefetcher(reader.iter_frames(), depth=4) as frames:  # doctest: +SKIP
    ...     for frame in frames:
    ...         frame.image.shape  # (H, W, 3) uint8 RGB
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator

from deepfake_lab.video.reader import Frame

__all__ = ["Prefetcher", "RealtimeFeed"]


class Prefetcher:
    """Run an iterator (e.g. `reader.iter_frames()`) in a background thread, `depth` items ahead.

    Decoding then overlaps with the consumer's work (PyAV releases the GIL while decoding). Memory stays
    bounded by `depth` frames, or, with `max_bytes`, by as many frames as fit in that many bytes of images
    (at least `depth`); `limit` changes both while it runs. Exceptions raised by the iterator are re-raised
    in the consumer. Always `close()` (or use as a context manager) before closing the reader it iterates.

    Args:
        iterator: any iterator; it is consumed only by the background thread.
        depth: maximum number of items waiting.
        max_bytes: more items may wait while their images (`item.image.nbytes`) hold less than this.
    """

    def __init__(self, iterator: Iterator[Frame], depth: int = 4, max_bytes: int = 0) -> None:
        self._items: deque[tuple[str, object, int]] = deque()
        self._bytes = 0
        self._depth, self._max_bytes = max(1, depth), max(0, max_bytes)
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(iterator,), name="frame-prefetch", daemon=True)
        self._thread.start()

    def limit(self, depth: int, max_bytes: int = 0) -> None:
        """New bounds for the items waiting (those already waiting stay)."""
        with self._cv:
            self._depth, self._max_bytes = max(1, depth), max(0, max_bytes)
            self._cv.notify_all()

    def _room(self) -> bool:
        return len(self._items) < self._depth or self._bytes < self._max_bytes

    def _put(self, kind: str, value: object) -> bool:
        size = int(getattr(getattr(value, "image", None), "nbytes", 0))
        with self._cv:
            while not self._stop and not self._room():
                self._cv.wait()
            if self._stop:
                return False
            self._items.append((kind, value, size))
            self._bytes += size
            self._cv.notify_all()
            return True

    def _run(self, iterator: Iterator[Frame]) -> None:
        try:
            for item in iterator:
                if not self._put("item", item):
                    return
            self._put("end", None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put("error", exc)

    def __iter__(self) -> Iterator[Frame]:
        while True:
            with self._cv:
                while not self._items:
                    self._cv.wait()
                kind, value, size = self._items.popleft()
                self._bytes -= size
                self._cv.notify_all()
            if kind == "item":
                yield value  # type: ignore[misc]
            elif kind == "end":
                return
            else:
                raise value  # type: ignore[misc]

    def close(self) -> None:
        """Stop the background thread and wait for it."""
        with self._cv:
            self._stop = True
            self._items.clear()
            self._bytes = 0
            self._cv.notify_all()
        self._thread.join()

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RealtimeFeed:
    """Frames delivered at wall-clock pace by a reader thread; the consumer gets the oldest frame not older
    than `max_latency`, and frames that waited longer are dropped (counted in `dropped`).

    Frames are released at their timestamps (a file plays at its native frame rate; a live source, which
    delivers at that rate anyway, is only smoothed).
    """

    def __init__(self, frames: Iterator[Frame], max_latency: float, pace: bool) -> None:
        self._frames = frames
        self._max_latency = max_latency
        self._pace = pace
        self._q: deque[tuple[float, Frame]] = deque()
        self._cv = threading.Condition()
        self._done = False
        self._error: BaseException | None = None
        self._stop = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="realtime-reader", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        t0: float | None = None
        try:
            for fr in self._frames:
                if self._stop:
                    break
                now = time.perf_counter()
                if self._pace:
                    if t0 is None:
                        t0 = now - fr.time
                    wait = t0 + fr.time - now
                    if wait > 0:
                        time.sleep(wait)
                    now = time.perf_counter()
                with self._cv:
                    while self._q and now - self._q[0][0] > self._max_latency:
                        self._q.popleft()
                        self.dropped += 1
                    self._q.append((now, fr))
                    self._cv.notify()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._error = exc
        finally:
            with self._cv:
                self._done = True
                self._cv.notify()

    def __iter__(self) -> Iterator[Frame]:
        while True:
            with self._cv:
                while not self._q and not self._done:
                    self._cv.wait(0.1)
                if not self._q:
                    if self._error is not None:
                        raise self._error
                    return
                now = time.perf_counter()
                while len(self._q) > 1 and now - self._q[0][0] > self._max_latency:
                    self._q.popleft()
                    self.dropped += 1
                _, fr = self._q.popleft()
            yield fr

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=5)

    def __enter__(self) -> RealtimeFeed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
