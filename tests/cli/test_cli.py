"""The CLI end to end: train, interpolate, export, and one-line errors (never a traceback)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from deepfake_lab.cli import main


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_train_interpolate_export(tmp_path, capsys):
    code, _, err = run_cli(
        [
            "train",
            "ae-conv",
            "--data",
            "digits",
            "--steps",
            "30",
            "--runs-dir",
            str(tmp_path),
            "--name",
            "r",
            "--no-progress",
            "--set",
            "train.sample_every=10",
        ],
        capsys,
    )
    assert code == 0, err
    run = tmp_path / "r"
    for rel in (
        "config.yaml",
        "metrics.jsonl",
        "samples/step_000030.png",
        "checkpoints/last.pt",
        "export/model.safetensors",
        "export/model.json",
    ):
        assert (run / rel).exists(), rel
    code, out, err = run_cli(
        ["interpolate", str(run), "--a", "0", "--b", "5", "--steps", "6", "-o", str(tmp_path / "strip.png")], capsys
    )
    assert code == 0, err
    strip = Image.open(tmp_path / "strip.png")
    assert strip.width > 5 * strip.height  # one row of 6 images
    code, out, _ = run_cli(["export", str(run)], capsys)
    assert code == 0 and out.strip().endswith("model.safetensors")


def test_dry_run_prints_resolved_config(capsys):
    code, out, _ = run_cli(["train", "ae-sparse", "--dry-run", "--set", "optim.lr=2e-4"], capsys)
    assert code == 0
    assert "model: ae-sparse" in out and "lr: 0.0002" in out


@pytest.mark.parametrize(
    "args",
    [
        ["train", "no-such-model"],
        ["train", "ae-dense", "--data", "no-such-data"],
        ["train", "ae-dense", "--steps", "abc"],
        ["train", "ae-dense", "--set", "optim.lr=-1"],
        ["train", "ae-dense", "--precision", "fp8"],
        ["train", "ae-dense", "--bogus-flag"],
        ["train", "--resume", "/nonexistent/run"],
        ["interpolate", "/nonexistent/run", "--a", "0", "--b", "1"],
        ["models", "--family", "nope"],
    ],
)
def test_bad_input_is_one_line_error(args, capsys):
    code, _, err = run_cli(args, capsys)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err


def test_empty_and_corrupt_image_folders(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli(["train", "ae-dense", "--data", str(empty), "--steps", "1"], capsys)
    assert code == 2 and "no images" in err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"not a png")
    code, _, err = run_cli(["train", "ae-dense", "--data", str(bad), "--steps", "1"], capsys)
    assert code == 2 and "no readable images" in err


def test_interpolate_refuses_foreign_model_file(tmp_path, capsys):
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 16)
    (tmp_path / "model.json").write_text('{"hello": 1}')
    code, _, err = run_cli(["interpolate", str(tmp_path / "model.safetensors"), "--a", "0", "--b", "1"], capsys)
    assert code == 2 and "not a deepfake-lab model card" in err


def test_module_entry_point_and_models_listing():
    res = subprocess.run(
        [sys.executable, "-m", "deepfake_lab", "models", "--family", "autoencoder"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0
    assert "ae-sparse" in res.stdout and "pca" in res.stdout
