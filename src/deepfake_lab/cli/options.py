"""Options shared by several commands, defined once so that a flag means the same thing everywhere.

Short flags (one meaning each, in every command that has them): `-o --out`, `-m --model`, `-q --quiet`,
`-v --verbose`, `-d --data`, `-c --config`, `-b --batch-size`, `-n --n`, `-i --image`, `-t --text`,
`-f --family`. Old spellings stay as hidden aliases (`--output`, `--no-progress`, `--aggregate`).

Enumerated values are `Literal` types, so typer shows and checks the choices (tests/test_cli_docs.py checks
they equal the library's own lists). Environment variables are declared with `envvar=`, so `--help` lists
them. A library dataclass whose fields carry an `OptionSpec` (e.g. `pipelines.scan.ScanOptions`) becomes typer
options with `with_dataclass_options`, which also maps the library's `OptionError` messages (field names) to
the flags. Only typer, the standard library and torch-free library modules are imported here (fast start-up).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import logging
import sys
import typing
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any, Literal, Optional

import typer

from deepfake_lab.errors import OptionError, cli_flag

# Enumerated option values (the library's lists; equality is tested).
Aggregation = Literal["confident", "mean", "max"]
ScanPrecision = Literal["auto", "fp32", "bf16"]
Backend = Literal["auto", "onnxruntime", "torch"]  # pipelines.scan.BACKENDS
TrainPrecision = Literal["fp32", "bf16", "fp16"]
FaceRange = Literal["auto", "short", "full", "both"]
GeneratorLoss = Literal["minimax", "non-saturating", "ls", "hinge"]
InterpolationMode = Literal["lerp", "slerp"]
PairKind = Literal["edges", "mesh", "gray"]
Direction = Literal["ab", "ba"]
Identity = Literal["a", "b"]
ColourTransfer = Literal["reinhard", "histogram", "none"]
BlendMode = Literal["feather", "poisson"]
Upscaler = Literal["cubic", "lanczos"]  # faces.detail.UPSCALERS
Compression = Literal["c0", "c23", "c40"]
SwapModelName = Literal["swap-128", "swap-256", "swap-lite", "swap-original"]  # pipelines.faceswap_train.SWAP_MODELS
DEVICE_HELP = "cpu | cuda | cuda:N | auto (CUDA when present)."

# Environment variables read by the library, declared on the options they set.
DETECTOR_ENV = "DEEPFAKE_LAB_DETECTOR"  # pipelines.scan.DETECTOR_ENV
BACKEND_ENV = "DEEPFAKE_LAB_BACKEND"  # pipelines.scan.BACKEND_ENV
DATA_ENV = "DEEPFAKE_LAB_DATA"  # data.fetch.data_root
TOKEN_ENV = "DEEPFAKE_LAB_TOKEN"  # serve
HOME_ENV = "DEEPFAKE_LAB_HOME"  # provenance.keys.HOME_ENV
CERT_ENV = "DEEPFAKE_LAB_SIGNING_CERT"  # provenance.keys.CERT_ENV
KEY_ENV = "DEEPFAKE_LAB_SIGNING_KEY"  # provenance.keys.KEY_ENV

COMMAND_LINE: list[str] | None = None  # set by `cli.main` (the arguments it ran with), logged first

# Commands that call `startup_done()` once their imports and models are loaded. For them `cli.main` pauses the
# cyclic garbage collector during start-up: importing numpy, OpenCV, PyAV, ONNX Runtime and mediapipe allocates
# about a million objects and the collector walked them again and again (measured in benchmarks/RESULTS.md).
GC_PAUSED_COMMANDS = frozenset({"detect"})
_gc_paused = False


def pause_gc_for_startup(args: list[str]) -> None:
    """Pause the garbage collector when the command in `args` is one of `GC_PAUSED_COMMANDS`."""
    global _gc_paused
    import gc

    command = next((a for a in args if not a.startswith("-")), None)
    if command in GC_PAUSED_COMMANDS and gc.isenabled():
        gc.disable()
        _gc_paused = True


def startup_done() -> None:
    """The command has loaded what it needs: what exists now is moved out of the collector's way for good
    (`gc.freeze`) and the collector runs again. Does nothing unless `pause_gc_for_startup` paused it."""
    global _gc_paused
    import gc

    if _gc_paused:
        gc.freeze()
        gc.enable()
        _gc_paused = False

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


def _specs(cls: type) -> dict[str, Any]:
    return {f.name: f.metadata["option"] for f in dataclasses.fields(cls) if "option" in f.metadata}


def flag_of(cls: type, name: str) -> str:
    """The CLI flag of field `name` of dataclass `cls` (its `OptionSpec.flag`; else `--name-with-dashes`)."""
    spec = _specs(cls).get(name)
    return spec.flag if spec is not None and spec.flag else cli_flag(name)


def dataclass_options(
    cls: type, skip: Collection[str] = (), only: Collection[str] | None = None
) -> list[inspect.Parameter]:
    """typer parameters for the fields of dataclass `cls` whose `OptionSpec` names a flag (in field order; all
    but `skip`, or just those in `only`):
    the field's default, flag, help, environment variable and choices (a `Literal`, so typer lists and checks
    them). Bounds are left to the dataclass's own `validate` (one message for every front end)."""
    hints = typing.get_type_hints(cls)
    params = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("option")
        if spec is None or spec.flag is None or f.name in skip or (only is not None and f.name not in only):
            continue
        kind: Any = hints[f.name]
        if spec.choices:
            kind = Literal[spec.choices]  # type: ignore[valid-type]
            kind = Optional[kind] if f.default is None else kind  # noqa: UP045 - a runtime-built type
        option = typer.Option(f.default, spec.flag, help=spec.help, envvar=spec.env)
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind))
    return params


@contextlib.contextmanager
def flags_in_messages(cls: type) -> Iterator[None]:
    """Re-raise a library `OptionError` with the CLI flags of `cls`'s fields in place of their names."""
    try:
        yield
    except OptionError as exc:
        raise OptionError(exc.render(lambda name: flag_of(cls, name))) from None


def with_dataclass_options(
    cls: type, into: str, after: str, skip: Collection[str] = (), only: Collection[str] | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the typer command also takes the options of dataclass `cls` (`dataclass_options`, listed
    after its parameter `after`) and receives them as one `cls` instance in its parameter `into`; the
    library's option errors raised inside name the flags (`flags_in_messages`).

    Example:
        >>> @with_dataclass_options(ScanOptions, into="options", after="inputs")  # doctest: +SKIP
        ... def detect_command(inputs: list[str] = typer.Argument(...), options: ScanOptions = None): ...
    """
    extra = dataclass_options(cls, skip, only)
    names = [p.name for p in extra]

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(func, eval_str=True)
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in sig.parameters.values() if p.name != into]
        at = [p.name for p in own].index(after) + 1
        new = sig.replace(parameters=[*own[:at], *extra, *own[at:]])

        @functools.wraps(func)
        def command(**kwargs: Any) -> Any:
            values = {n: kwargs.pop(n) for n in names}
            with flags_in_messages(cls):
                return func(**kwargs, **{into: cls(**values)})

        command.__signature__ = new  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in new.parameters.values()}
        return command

    return decorate
