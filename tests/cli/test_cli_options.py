"""`cli.options.with_dataclass_options`: a library dataclass with `OptionSpec` metadata becomes typer options
(flag, default, help, env var, choices) and its `OptionError`s name the flags; `detect` is built that way."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer
from typer.testing import CliRunner

from deepfake_lab.cli import app
from deepfake_lab.cli.options import dataclass_options, flag_of, with_dataclass_options
from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines.scan.options import OptionError, OptionSpec, Ref, ScanOptions, option_specs


@dataclass
class _Toy:
    size: int = field(default=3, metadata={"option": OptionSpec("Side in px.", flag="--side", min=1)})
    mode: str = field(
        default="a", metadata={"option": OptionSpec("Mode.", flag="--mode", env="TOY_MODE", choices=("a", "b"))}
    )
    hidden: float = field(default=0.5, metadata={"option": OptionSpec("Not on the command line.")})

    def validate(self) -> None:
        if self.size < 1:
            raise OptionError(Ref("size"), f" must be >= 1, got {self.size}")


def _toy_app() -> typer.Typer:
    toy = typer.Typer()

    @toy.command()
    @with_dataclass_options(_Toy, into="opts", after="name")
    def run(name: str = typer.Argument(..., help="A name."), opts: _Toy | None = None) -> None:
        """Print the options."""
        assert opts is not None
        opts.validate()
        print(f"{name} {opts.size} {opts.mode} {opts.hidden}")

    return toy


def test_dataclass_options_follow_the_specs() -> None:
    params = {p.name: p for p in dataclass_options(_Toy)}
    assert list(params) == ["size", "mode"]  # no flag: not an option
    assert params["size"].default.param_decls == ("--side",) and params["size"].default.default == 3
    assert params["mode"].default.envvar == "TOY_MODE"
    assert flag_of(_Toy, "size") == "--side" and flag_of(_Toy, "overwrite") == "--overwrite"


def test_generated_command_parses_checks_choices_and_maps_messages(monkeypatch) -> None:
    runner = CliRunner()
    toy = _toy_app()
    res = runner.invoke(toy, ["x", "--side", "7", "--mode", "b"])
    assert res.exit_code == 0 and res.output.strip() == "x 7 b 0.5"
    monkeypatch.setenv("TOY_MODE", "b")
    assert runner.invoke(toy, ["x"]).output.strip() == "x 3 b 0.5"
    assert runner.invoke(toy, ["x", "--mode", "c"]).exit_code == 2  # typer enforces the choices
    res = runner.invoke(toy, ["x", "--side", "0"])
    assert isinstance(res.exception, BadInputError) and str(res.exception) == "--side must be >= 1, got 0"
    helptext = runner.invoke(toy, ["--help"], env={"COLUMNS": "200"}).output
    assert "--side" in helptext and "Side in px." in helptext and "TOY_MODE" in helptext and "--hidden" not in helptext


def test_detect_offers_every_flagged_scan_option_with_its_default() -> None:
    res = CliRunner().invoke(app, ["detect", "--help"], env={"COLUMNS": "250"})
    assert res.exit_code == 0
    for name, spec in option_specs(ScanOptions).items():
        if spec.flag:
            assert spec.flag in res.output, name
    assert "[default: 5]" in res.output and "DEEPFAKE_LAB_PRECISION" in res.output


def test_only_picks_fields_and_serve_takes_its_scan_defaults_from_scan_options() -> None:
    assert [p.name for p in dataclass_options(_Toy, only=("mode",))] == ["mode"]
    serve = next(c for c in app.registered_commands if c.name == "serve").callback
    import inspect

    params = inspect.signature(serve).parameters
    specs = option_specs(ScanOptions)
    for name in ("detect_every", "threads"):
        opt = params[name].default
        assert opt.param_decls == (specs[name].flag,) and opt.help == specs[name].help  # declared once
    res = CliRunner().invoke(app, ["serve", "--threads", "0"])
    assert res.exit_code != 0 and "--threads must be >= 1, got 0" in str(res.exception or res.output)
