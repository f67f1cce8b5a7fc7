"""`swap -o` follows `detect`'s rule: an existing file (or `.json` sidecar) that is not an earlier swap output is
never replaced without --overwrite; an earlier swap output is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines.swap_video import SIDECAR_KIND, check_swap_output
from support.cli import run_cli


def test_check_swap_output_rule(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    check_swap_output(out)  # nothing there
    out.write_bytes(b"holiday video")
    with pytest.raises(BadInputError, match="exists and is not a deepfake-lab swap output; pass --overwrite"):
        check_swap_output(out)
    check_swap_output(out, overwrite=True)
    side = tmp_path / "out.mp4.json"
    side.write_text(json.dumps({"kind": SIDECAR_KIND, "output": str(tmp_path / "other.mp4")}))
    with pytest.raises(BadInputError, match="not a deepfake-lab swap output"):  # a sidecar of another file
        check_swap_output(out)
    side.write_text(json.dumps({"kind": SIDECAR_KIND, "output": str(out)}))
    check_swap_output(out)  # an earlier swap output with its sidecar
    out.unlink()
    side.write_text('{"notes": "mine"}')
    with pytest.raises(BadInputError, match="sidecar .* exists and is not a deepfake-lab swap sidecar"):
        check_swap_output(out)
    (tmp_path / "dir.mp4").mkdir()
    with pytest.raises(BadInputError, match="is a folder"):
        check_swap_output(tmp_path / "dir.mp4", overwrite=True)


def test_swap_cli_refuses_unrelated_files_and_replaces_its_own(short_clip, tiny_model, tmp_path, capsys) -> None:  # noqa: F811
    out, side = tmp_path / "out.mp4", tmp_path / "out.mp4.json"
    out.write_bytes(b"user data")
    args = ["swap", short_clip, "--model", tiny_model, "-o", out, "-q", "--no-provenance"]
    code, _, err = run_cli(args, capsys)
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "--overwrite" in lines[0] and "Traceback" not in err, err
    assert out.read_bytes() == b"user data" and not side.exists()
    out.unlink()
    side.write_text("{}")  # an unrelated sidecar alone is protected too
    code, _, err = run_cli(args, capsys)
    assert code == 2 and "sidecar" in err and side.read_text() == "{}", err
    code, _, err = run_cli([*args, "--overwrite"], capsys)
    assert code == 0, err
    assert json.loads(side.read_text())["kind"] == SIDECAR_KIND
    code, _, err = run_cli(args, capsys)  # its own earlier output: replaced without --overwrite
    assert code == 0, err
