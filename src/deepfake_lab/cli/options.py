"""Options shared by several commands, defined once so that a flag means the same thing everywhere.

Short flags (one meaning each, in every command that has them): `-o --out`, `-m --model`, `-q --quiet`,
`-v --verbose`, `-d --data`, `-c --config`, `-b --batch-size`, `-n --n`, `-i --image`, `-t --text`,
`-f --family`. Old spellings stay as hidden aliases (`--output`, `--no-progress`, `--aggregate`).

Enumerated values are `Literal` types, so typer shows and checks the choices (tests/test_cli_docs.py checks
they equal the library's own lists). Environment variables are declared with `envvar=`, so `--help` lists
them. Only typer, the standard library and `deepfake_lab.errors` are imported here (fast start-up).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Literal

import typer

# Enumerated option values (the library's lists; equality is tested).
Aggregation = Literal["confident", "mean", "max"]
ScanPrecision = Literal["auto", "fp32", "bf16"]
TrainPrecision = Literal["fp32", "bf16", "fp16"]
FaceRange = Literal["auto", "short", "full", "both"]
GeneratorLoss = Literal["minimax", "non-saturating", "ls", "hinge"]
InterpolationMode = Literal["lerp", "slerp"]
PairKind = Literal["edges", "mesh", "gray"]
Direction = Literal["ab", "ba"]
Identity = Literal["a", "b"]
ColourTransfer = Literal["reinhard", "histogram", "none"]
BlendMode = Literal["feather", "poisson"]
Compression = Literal["c0", "c23", "c40"]
SwapModelName = Literal["swap-128", "swap-lite", "swap-original"]  # pipelines.faceswap_train.SWAP_MODELS
DEVICE_HELP = "cpu | cuda | cuda:N | auto (CUDA when present)."

AGGREGATION_HELP = (
    "How a face track's frame scores become its score: confident (DFDC rule: the mean of the confident "
    "frames when there are many, else the mean) | mean | max. The file takes its highest track."
)

# Environment variables read by the library, declared on the options they set.
DETECTOR_ENV = "DEEPFAKE_LAB_DETECTOR"  # pipelines.scan.DETECTOR_ENV
DATA_ENV = "DEEPFAKE_LAB_DATA"  # data.fetch.data_root
TOKEN_ENV = "DEEPFAKE_LAB_TOKEN"  # serve
PRECISION_ENV = "DEEPFAKE_LAB_PRECISION"  # pipelines.scan.auto_precision
HOME_ENV = "DEEPFAKE_LAB_HOME"  # provenance.keys.HOME_ENV
CERT_ENV = "DEEPFAKE_LAB_SIGNING_CERT"  # provenance.keys.CERT_ENV
KEY_ENV = "DEEPFAKE_LAB_SIGNING_KEY"  # provenance.keys.KEY_ENV

COMMAND_LINE: list[str] | None = None  # set by `cli.main` (the arguments it ran with), logged first

QUIET_HELP = "No progress bar (the summary and errors still print)."


def quiet_option() -> Any:
    """`--quiet/-q`: no progress bar."""
    return typer.Option(False, "--quiet", "-q", help=QUIET_HELP)


def no_progress_alias() -> Any:
    """Hidden `--no-progress`, the old name of `--quiet` in some commands."""
    return typer.Option(False, "--no-progress", hidden=True, help="Old name of --quiet.")


def out_alias() -> Any:
    """Hidden `--output`, the old name of `--out` in some commands."""
    return typer.Option(None, "--output", hidden=True, help="Old name of --out.")


def verbose_option() -> Any:
    """`--verbose/-v` (repeatable): log level on stderr."""
    return typer.Option(0, "--verbose", "-v", count=True, help="More log lines on stderr: -v info, -vv debug.")


def log_file_option() -> Any:
    """`--log-file`: the full debug log of a long run."""
    return typer.Option(
        None, "--log-file", help="Also append the full (debug) log of this run to this file.", dir_okay=False
    )


def detector_option(help_text: str = "Exported detector (run dir, export dir or .safetensors).") -> Any:
    """`--model/-m` of the commands that load a detector (default: the shipped one)."""
    return typer.Option(None, "--model", "-m", envvar=DETECTOR_ENV, help=f"{help_text} Default: the shipped detector.")


def setup_logging(verbose: int = 0, log_file: Path | None = None) -> logging.Logger:
    """Configure the `deepfake_lab` logger: stderr at WARNING / INFO (-v) / DEBUG (-vv), and every record at
    DEBUG appended to `log_file` when given. Returns the logger; the command line is logged first."""
    log = logging.getLogger("deepfake_lab")
    for h in list(log.handlers):
        if getattr(h, "_deepfake_lab_cli", False):
            log.removeHandler(h)
            h.close()
    log.setLevel(logging.DEBUG)
    log.propagate = False
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG)
    err.setFormatter(fmt)
    handlers: list[logging.Handler] = [err]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_file, encoding="utf-8")
        fh.setLevel(logging.DEBUG)
        fh.setFormatter(fmt)
        handlers.append(fh)
    for h in handlers:
        h._deepfake_lab_cli = True  # type: ignore[attr-defined]
        log.addHandler(h)
    logging.captureWarnings(True)
    args = COMMAND_LINE if COMMAND_LINE is not None else sys.argv[1:]
    log.debug("command line: deepfake-lab %s", " ".join(str(a) for a in args))
    return log


def pick(new: Any, old: Any, new_name: str, old_name: str) -> Any:
    """The value of an option given under its new or its old (hidden) name; both at once is an error."""
    if old is not None and new is not None and old != new:
        raise typer.BadParameter(f"give {new_name} or its old name {old_name}, not both")
    return new if new is not None else old


def required_out(out: Path | None, output: Path | None, what: str) -> Path:
    """`--out/-o` (or its old hidden name `--output`), which the command needs: `what` names it in the error."""
    value = pick(out, output, "--out", "--output")
    if value is None:
        raise typer.BadParameter(f"missing option --out/-o ({what})", param_hint="--out")
    return value
