"""Library errors name options by their own names; the CLI renders them as flags (one rule for every command)."""

from __future__ import annotations

import pytest

from deepfake_lab.cli import main
from deepfake_lab.errors import BadInputError, OptionError, Ref, cli_flag
from deepfake_lab.faces.extract import ExtractOptions


def test_option_error_renders_each_front_ends_spelling() -> None:
    err = OptionError(Ref("preview_every"), " and ", Ref("checkpoint_every"), " must be >= 1")
    assert isinstance(err, BadInputError)
    assert str(err) == "preview_every and checkpoint_every must be >= 1"
    assert err.render(cli_flag) == "--preview-every and --checkpoint-every must be >= 1"
    assert err.options == ("preview_every", "checkpoint_every")


def test_library_messages_do_not_name_flags_and_the_cli_does(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    with pytest.raises(OptionError) as exc:
        ExtractOptions(detect_every=0).validate()
    assert str(exc.value) == "detect_every must be >= 1, got 0"
    with pytest.raises(SystemExit) as code:
        main(["extract", str(tmp_path), "-o", str(tmp_path / "fs"), "--detect-every", "0", "-q"])
    assert code.value.code == 2
    assert capsys.readouterr().err.strip() == "error: --detect-every must be >= 1, got 0"
