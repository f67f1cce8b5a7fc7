"""The `deepfake-lab` command line: a thin typer layer over the library.

Each command group lives in its own module under `deepfake_lab.cli` and exposes `register(app)`.
No logic beyond argument handling belongs here.
"""

from __future__ import annotations

import importlib
import sys

import typer
from typer.exceptions import Abort, TyperException

from deepfake_lab.errors import DeepfakeLabError

app = typer.Typer(
    name="deepfake-lab",
    help="Generate and detect deepfakes on a plain CPU.",
    no_args_is_help=True,
    add_completion=False,
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
    "deepfake_lab.cli.bench_cmd",
    "deepfake_lab.cli.detect_cmd",
    "deepfake_lab.cli.calibrate_cmd",
    "deepfake_lab.cli.demo_cmd",
    "deepfake_lab.cli.serve_cmd",
    "deepfake_lab.cli.provenance_cmd",
]

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: user errors become one line on stderr and a non-zero exit code."""
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
    except DeepfakeLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        sys.exit(2)
    sys.exit(rv if isinstance(rv, int) else 0)
