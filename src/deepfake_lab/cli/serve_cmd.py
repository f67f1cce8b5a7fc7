"""`deepfake-lab serve`: the web service and page (FastAPI + uvicorn; needs the `[web]` extra)."""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import typer
from rich.console import Console

from deepfake_lab.cli.options import detector_option, with_dataclass_options
from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines.scan.options import ScanOptions

TOKEN_ENV = "DEEPFAKE_LAB_TOKEN"
UPLOAD_TIMEOUT_ENV = "DEEPFAKE_LAB_UPLOAD_TIMEOUT"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(app: typer.Typer) -> None:
    @app.command("serve")
    @with_dataclass_options(ScanOptions, into="defaults", after="jobs_dir", only=("detect_every", "threads"))
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: this machine only)."),
        port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port to listen on."),
        workers: int = typer.Option(1, "--workers", min=1, max=64, help="Analyses scanned at the same time."),
        queue: int = typer.Option(16, "--queue", min=1, max=10_000, help="Analyses allowed to wait."),
        model: Path = detector_option(),
        token: str = typer.Option(
            None, "--token", envvar=TOKEN_ENV, help="Require 'Authorization: Bearer TOKEN' on the API."
        ),
        max_upload_mb: float = typer.Option(500.0, "--max-upload-mb", min=0.001, help="Largest upload accepted."),
        ttl: float = typer.Option(3600.0, "--ttl", min=1.0, help="Seconds a finished analysis is kept."),
        jobs_dir: Path = typer.Option(
            None, "--jobs-dir", help="Where uploads and results live (default: a temporary folder removed on exit)."
        ),
        upload_timeout: float = typer.Option(
            30.0, "--upload-timeout", min=0.1, max=3600.0, envvar=UPLOAD_TIMEOUT_ENV,
            help="Seconds an upload may send nothing before it is refused (408) and its slot freed.",
        ),  # fmt: skip
        defaults: ScanOptions | None = None,
    ) -> None:
        """Serve the API and the upload page; open http://HOST:PORT/ in a browser.

        --detect-every and --threads set the defaults of every analysis.
        """
        try:
            from deepfake_lab.web.app import create_app
            from deepfake_lab.web.server import serve as run_server
        except ImportError as exc:
            raise BadInputError(
                f"the web service needs the [web] extra: pip install 'deepfake-lab[web]' ({exc.name})"
            ) from None
        from deepfake_lab.pipelines.scan import load_detector

        console = Console(stderr=True)
        token = token or os.environ.get(TOKEN_ENV) or None
        if not _is_loopback(host) and not token:
            console.print(
                f"[yellow]warning:[/] listening on {host} without a token: anyone who reaches this port can upload "
                f"files and read results. Set --token or {TOKEN_ENV}."
            )
        defaults = defaults or ScanOptions()
        defaults.validate()
        detector = load_detector(model, precision=defaults.precision, threads=defaults.threads)
        if "torch" in sys.modules:  # the torch backend (ONNX Runtime sets its threads per session)
            sys.modules["torch"].set_num_threads(defaults.threads)
        detector.choose_precision(defaults.precision)
        temp = jobs_dir is None
        root = Path(tempfile.mkdtemp(prefix="deepfake-lab-serve-")) if temp else jobs_dir
        if not temp and root.exists() and any(root.iterdir()):
            raise BadInputError(f"--jobs-dir {root} is not empty; give an empty or new folder")
        web = create_app(
            detector,
            jobs_dir=root,
            workers=workers,
            max_queue=queue,
            ttl_s=ttl,
            max_upload_bytes=int(max_upload_mb * 1024 * 1024),
            token=token,
            defaults=defaults,
            upload_timeout_s=upload_timeout,
        )
        console.print(
            f"deepfake-lab serving on http://{host}:{port}/ (API docs at /docs; model {detector.name}; "
            f"jobs in {root}). Ctrl-C stops."
        )
        # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit so `finally` cleans up.
        # First SIGTERM/SIGINT: analyses cancelled, streams and uploads closed, exit within ~5 s; a second
        # one exits at once (the temporary jobs folder is removed either way).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

        def remove_temp() -> None:
            if temp:
                shutil.rmtree(root, ignore_errors=True)

        try:
            run_server(web, host, port, on_force_exit=remove_temp)
        finally:
            remove_temp()
