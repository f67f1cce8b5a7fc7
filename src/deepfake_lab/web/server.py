"""Running the web app under uvicorn with a bounded, clean shutdown.

On the first SIGTERM or SIGINT the server stops accepting connections and tells the app
(`app.state.begin_shutdown`): queued and running analyses are cancelled, event streams end and uploads in
flight are refused, so open connections close within a fraction of a second; whatever still runs after
`grace_s` seconds is cancelled by uvicorn. A second signal exits at once (after `on_force_exit`, e.g.
removing the temporary jobs folder).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

DEFAULT_GRACE_S = 2.0  # uvicorn's wait for open connections; the app's cleanup adds at most ~1 s


class GracefulServer(uvicorn.Server):
    """uvicorn.Server whose first exit signal also starts the app's shutdown, and whose second exits now."""

    def __init__(self, config: uvicorn.Config, on_force_exit: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self.on_force_exit = on_force_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit:  # second signal: do not wait for anything
            os.write(2, b"second signal: exiting now\n")
            try:
                if self.on_force_exit is not None:
                    self.on_force_exit()
            finally:
                os._exit(128 + int(sig))
        super().handle_exit(sig, frame)
        begin = getattr(getattr(self.config.app, "state", None), "begin_shutdown", None)
        if begin is not None:
            begin()


def serve(
    app: Any,
    host: str,
    port: int,
    *,
    grace_s: float = DEFAULT_GRACE_S,
    on_force_exit: Callable[[], None] | None = None,
    log_level: str = "warning",
) -> None:
    """Serve `app` until a signal; returns after the graceful shutdown (then re-raises the signal like uvicorn)."""
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=grace_s)
    GracefulServer(config, on_force_exit=on_force_exit).run()


__all__ = ["DEFAULT_GRACE_S", "GracefulServer", "serve"]
