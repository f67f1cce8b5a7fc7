"""The `deepfake-lab` command line: a thin typer layer over the library.

Each command group lives in its own module under `deepfake_lab.cli` and exposes `register(app)`.
No logic beyond argument handling belongs here. Command modules import only typer, rich, the standard
library and light `deepfake_lab` modules at the top; torch, OpenCV, PyAV, mediapipe, SciPy and
scikit-learn load inside the command that needs them, so `--help`, `--version` and `models` start fast
(tests/cli/test_cli_startup.py guards this).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import typer
from typer.exceptions import Abort, TyperException

from deepfake_lab.cli.options import CERT_ENV, HOME_ENV, KEY_ENV
from deepfake_lab.errors import DeepfakeLabError, OptionError, cli_flag

app = typer.Typer(
    name="deepfake-lab",
    help="Generate and detect deepfakes on a plain CPU.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    pretty_exceptions_enable=False,
)

# One line per command module; each defines `register(app: typer.Typer) -> None`.
_COMMAND_MODULES = [
    "deepfake_lab.cli.models_cmd",
    "deepfake_lab.cli.train_cmd",
    "deepfake_lab.cli.data_cmd",
    "deepfake_lab.cli.gan_cmd",
    "deepfake_lab.cli.extract_cmd",
    "deepfake_lab.cli.swap_cmd",
    "deepfake_lab.cli.faceswap_cmd",
    "deepfake_lab.cli.bench_cmd",
    "deepfake_lab.cli.detect_cmd",
    "deepfake_lab.cli.calibrate_cmd",
    "deepfake_lab.cli.demo_cmd",
    "deepfake_lab.cli.serve_cmd",
    "deepfake_lab.cli.provenance_cmd",
]


def package_version() -> str:
    """The installed distribution's version (package metadata), else `deepfake_lab.__version__`."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("deepfake-lab")
    except PackageNotFoundError:
        from deepfake_lab import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"deepfake-lab {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
    ),
    provenance_home: Path | None = typer.Option(
        None,
        "--provenance-home",
        envvar=HOME_ENV,
        file_okay=False,
        help="Folder of the local C2PA signing key (PROVENANCE_HOME/provenance/; default ~/.config/deepfake-lab).",
    ),
    signing_cert: Path | None = typer.Option(
        None,
        "--signing-cert",
        envvar=CERT_ENV,
        dir_okay=False,
        help="Your own PEM certificate chain (signer first) for C2PA manifests, instead of the local key.",
    ),
    signing_key: Path | None = typer.Option(
        None, "--signing-key", envvar=KEY_ENV, dir_okay=False, help="The PEM private key of --signing-cert."
    ),
) -> None:
    """Generate and detect deepfakes on a plain CPU."""
    # The provenance code reads these from the environment (also outside the CLI): hand the options on.
    for env, value in ((HOME_ENV, provenance_home), (CERT_ENV, signing_cert), (KEY_ENV, signing_key)):
        if value is not None:
            os.environ[env] = str(value)


for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors become one line on stderr and a non-zero exit code."""
    from deepfake_lab.cli import options

    options.COMMAND_LINE = list(argv) if argv is not None else sys.argv[1:]
    options.pause_gc_for_startup(options.COMMAND_LINE)
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="deepfake-lab")
    except (KeyboardInterrupt, Abort):
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except TyperException as exc:  # usage errors: bad options, missing arguments, bad values
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":
            sys.exit(0)
        print(f"error: {message}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2))
    except OptionError as exc:  # the library names options by their field names; here they are flags
        print(f"error: {exc.render(cli_flag)}", file=sys.stderr)
        sys.exit(2)
    except DeepfakeLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        sys.exit(2)
    sys.exit(rv if isinstance(rv, int) else 0)
