"""One CLI: every option has help, a short flag means one thing in every command, enumerated options are
choices equal to the library's lists, every DEEPFAKE_LAB_* variable is declared on an option (so `--help`
lists it), `--json -` / `--csv -` write to stdout, `--log-file` keeps a log, `models` groups by family."""


from __future__ import annotations

import csv
import io
import json
import re
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from deepfake_lab.cli import app, main
from deepfake_lab.cli import options as cli_options

SRC = Path(__file__).resolve().parents[2] / "src" / "deepfake_lab"


def _commands() -> Iterator[tuple[str, Any]]:
    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
        yield " ".join(path) or "deepfake-lab", cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


def _options() -> Iterator[tuple[str, Any]]:
    for path, cmd in _commands():
        for p in cmd.params:
            yield path, p


def test_every_option_and_argument_has_help() -> None:
    missing = [f"{path} {p.opts[0]}" for path, p in _options() if not (getattr(p, "help", None) or "").strip()]
    assert not missing, f"no help text: {missing}"


def test_each_short_flag_means_one_thing_everywhere() -> None:
    meaning: dict[str, set[str]] = {}
    for _, p in _options():
        shorts = [o for o in (*p.opts, *p.secondary_opts) if re.fullmatch(r"-[A-Za-z]", o)]
        longs = [o for o in p.opts if o.startswith("--")]
        for s in shorts:
            meaning.setdefault(s, set()).add(longs[0] if longs else "?")
    mixed = {s: sorted(v) for s, v in meaning.items() if len(v) > 1}
    assert not mixed, mixed
    assert meaning["-o"] == {"--out"} and meaning["-q"] == {"--quiet"} and meaning["-m"] == {"--model"}


def test_progress_switch_and_output_have_one_name() -> None:
    for path, cmd in _commands():
        names = {o for p in cmd.params for o in p.opts}
        shown = {o for p in cmd.params if not getattr(p, "hidden", False) for o in p.opts}
        assert "--output" not in shown and "--no-progress" not in shown and "--aggregate" not in shown, path
        if "--no-progress" in names:  # the old spelling is still accepted where it existed
            assert "--quiet" in shown, path


def _choices(literal: Any) -> set[str]:
    return set(typing.get_args(literal))


def test_enumerated_options_are_the_librarys_choices() -> None:
    from deepfake_lab.data.paired import PAIR_KINDS
    from deepfake_lab.faces.blend import BLEND_MODES
    from deepfake_lab.faces.colour import COLOUR_MODES
    from deepfake_lab.faces.detail import UPSCALERS
    from deepfake_lab.losses.adversarial import G_LOSSES
    from deepfake_lab.metrics.detection import AGGREGATIONS

    assert _choices(cli_options.Aggregation) == set(AGGREGATIONS)
    assert _choices(cli_options.GeneratorLoss) == set(G_LOSSES)
    assert _choices(cli_options.PairKind) == set(PAIR_KINDS)
    assert _choices(cli_options.ColourTransfer) == set(COLOUR_MODES)
    assert _choices(cli_options.BlendMode) == set(BLEND_MODES)
    assert _choices(cli_options.Upscaler) == set(UPSCALERS)
    # and typer shows and enforces them
    res = CliRunner().invoke(app, ["detect", "--help"], env={"COLUMNS": "200"})
    assert "<confident|mean|max>" in res.output.replace(" ", "") or "[confident|mean|max]" in res.output


def test_every_environment_variable_is_declared_on_an_option() -> None:
    used = set()
    for f in SRC.rglob("*.py"):
        used |= set(re.findall(r"DEEPFAKE_LAB_[A-Z][A-Z_]*[A-Z]", f.read_text(encoding="utf-8")))
    declared: dict[str, list[str]] = {}
    for path, p in _options():
        env = getattr(p, "envvar", None)
        for e in [env] if isinstance(env, str) else env or []:
            declared.setdefault(e, []).append(f"{path} {p.opts[0]}")
    assert len(used) >= 6 and used <= set(declared), sorted(used - set(declared))
    from deepfake_lab.pipelines.scan import DETECTOR_ENV
    from deepfake_lab.provenance.keys import CERT_ENV, HOME_ENV, KEY_ENV

    assert (cli_options.DETECTOR_ENV, cli_options.HOME_ENV, cli_options.CERT_ENV, cli_options.KEY_ENV) == (
        DETECTOR_ENV, HOME_ENV, CERT_ENV, KEY_ENV,
    )  # fmt: skip
    res = CliRunner().invoke(app, ["detect", "--help"], env={"COLUMNS": "200"})
    assert "DEEPFAKE_LAB_DETECTOR" in res.output
    res = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "DEEPFAKE_LAB_SIGNING_CERT" in res.output and "--install-completion" in res.output  # completion on


def test_root_options_hand_provenance_settings_to_the_library(tmp_path, monkeypatch) -> None:
    from deepfake_lab.provenance.keys import provenance_home

    monkeypatch.delenv("DEEPFAKE_LAB_HOME", raising=False)
    with pytest.raises(SystemExit) as exc:
        main(["--provenance-home", str(tmp_path), "provenance", "key"])
    assert exc.value.code == 0
    assert provenance_home() == tmp_path / "provenance" and (tmp_path / "provenance").is_dir()


def _detect(args: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["detect", *(str(a) for a in args), "--no-provenance"])
    out = capsys.readouterr()
    return (exc.value.code if isinstance(exc.value.code, int) else 0), out.out, out.err


def test_json_and_csv_dash_write_to_stdout(scan_media, tiny_detector, capsys, tmp_path) -> None:
    from deepfake_lab.pipelines.scan.schema import validate

    code, out, err = _detect([scan_media["face"], "-m", tiny_detector, "-q", "--json", "-"], capsys)
    assert code == 0, err
    doc = json.loads(out)  # stdout is the document and nothing else
    assert validate(doc) == [] and doc["files"][0]["source"].endswith("face.jpg")
    assert "detector:" in err and "face.jpg" in err  # the human summary went to stderr
    assert not (Path.cwd() / "-").exists()
    code, out, err = _detect([scan_media["face"], "-m", tiny_detector, "-q", "--csv", "-"], capsys)
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0][0] == "source" and len(rows) >= 2 and "detector:" in err
    code, _, err = _detect([scan_media["face"], "-m", tiny_detector, "--json", "-", "--csv", "-"], capsys)
    assert code == 2 and err.count("\n") == 1 and "only one of --json and --csv" in err


def test_aggregation_choice_old_name_and_log_file(scan_media, tiny_detector, capsys, tmp_path) -> None:
    log = tmp_path / "logs" / "detect.log"
    code, out, err = _detect(
        [scan_media["face"], "-m", tiny_detector, "-q", "--aggregate", "max", "--log-file", log], capsys
    )
    assert code == 0, err
    assert "aggregation: max" in out  # the old spelling still works
    text = log.read_text()
    assert "command line: deepfake-lab" in text and "face.jpg" in text and "detector" in text
    code, _, err = _detect([scan_media["face"], "-m", tiny_detector, "--aggregation", "median"], capsys)
    assert code == 2 and err.startswith("error: ") and "median" in err and "confident" in err
    assert err.count("\n") == 1


def test_models_are_grouped_by_family_with_sizes_from_the_factories() -> None:
    from deepfake_lab.models.catalogue import measure_model_sizes
    from deepfake_lab.models.infos import model_infos, model_sizes

    stored = model_sizes()
    assert stored == measure_model_sizes(), (
        "src/deepfake_lab/models/sizes.json is stale: run "
        "python -c 'from deepfake_lab.models.catalogue import write_model_sizes; write_model_sizes()'"
    )
    assert stored["meso4"]["input"] == [3, 256, 256] and 20_000 < stored["meso4"]["params"] < 40_000
    res = CliRunner().invoke(app, ["models"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    families = sorted({i.family for i in model_infos()})
    titles = [line.strip() for line in res.output.splitlines() if line.strip() in families]
    assert titles == families  # one table per family, in order
    det = res.output.split("\ndetector")[1].split("\ngan")[0]
    assert "meso4" in det and "dcgan-64" not in det and "3×256×256" in det  # factory default
    # what ships: read from its card and weights header (the fast preset is the old 64 px Meso-4)
    assert "detector-fast (3×64×64, 12.6k)" in det and "detector-default (3×112×112, 2.2M)" in det


def test_shell_completion_offers_commands_and_choices() -> None:
    import os
    import subprocess
    import sys

    def complete(words: str, cword: int) -> list[str]:
        env = {**os.environ, "_DEEPFAKE_LAB_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
        code = "import sys; sys.argv[0] = 'deepfake-lab'; from deepfake_lab.cli import main; main()"
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        return proc.stdout.split()

    assert "detect" in complete("deepfake-lab det", 1)
    assert complete("deepfake-lab detect --aggregation ", 3) == ["confident", "mean", "max"]


def test_train_verbose_and_log_file(tmp_path, capsys) -> None:
    log = tmp_path / "train.log"
    with pytest.raises(SystemExit) as exc:
        main(["train", "ae-dense", "--data", "digits", "--dry-run", "-q", "-v", "--log-file", str(log)])
    assert exc.value.code == 0
    assert "command line: deepfake-lab train ae-dense" in log.read_text()
    out = capsys.readouterr()
    assert "model: ae-dense" in out.out  # the resolved config, as before


@pytest.mark.parametrize(
    ("command", "what"),
    [("extract", "the faceset folder"), ("swap", "the output file"), ("faceswap-train", "the run folder")],
)
def test_commands_that_need_out_say_so_on_one_line(tmp_path: Path, command: str, what: str) -> None:
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"not read: --out is checked first")
    extra = {"faceswap-train": ["--with", str(src)], "swap": ["--model", str(src)]}.get(command, [])
    args = [command, str(src), *extra]
    res = CliRunner().invoke(app, args, env={"COLUMNS": "200"})  # the message on one line of the error box
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert f"missing option --out/-o ({what})" in res.output
