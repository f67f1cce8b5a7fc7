"""CLI start-up stays light: `--help` (top level and every subcommand), `--version` and `models` never import
the heavy stack (torch, SciPy, scikit-learn, mediapipe, OpenCV, PyAV) nor the corpus downloader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version

import deepfake_lab
from deepfake_lab.models.catalogue import list_models
from deepfake_lab.models.infos import model_infos
from deepfake_lab.registry import MODELS

HEAVY = ("torch", "scipy", "sklearn", "mediapipe", "cv2", "av", "deepfake_lab.data.fetch.download")

# Runs in a fresh interpreter: every command path of the click app gets `--help`, then `models` runs;
# prints the command paths it tried and the heavy modules loaded, as JSON.
_PROBE = r"""
import contextlib, io, json, sys
import typer.main
from deepfake_lab.cli import app, main

def paths(cmd, prefix):
    yield prefix
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from paths(sub, prefix + [name])

tried = []
for path in paths(typer.main.get_command(app), []):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(path + ["--help"])
        except SystemExit as exc:
            assert exc.code == 0, (path, exc.code)
    tried.append(" ".join(path))
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main(["models"])
    except SystemExit as exc:
        assert exc.code == 0, exc.code
heavy = sorted(m for m in HEAVY if m in sys.modules)
print(json.dumps({"tried": tried, "heavy": heavy, "models": out.getvalue()}))
"""


def _probe() -> dict:
    code = f"HEAVY = {HEAVY!r}\n" + _PROBE
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=dict(os.environ)
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_help_of_every_command_and_models_import_no_heavy_module() -> None:
    res = _probe()
    tried = set(res["tried"])
    assert {"", "detect", "swap", "train", "extract", "models", "bench build", "provenance inspect"} <= tried
    assert res["heavy"] == [], f"imported at start-up: {res['heavy']}"
    assert "dcgan-64" in res["models"] and "swap-original" in res["models"]


def test_version_prints_package_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "deepfake_lab", "--version"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    try:
        expected = version("deepfake-lab")
    except PackageNotFoundError:  # pragma: no cover  (running from a source tree without metadata)
        expected = deepfake_lab.__version__
    assert proc.stdout.strip() == f"deepfake-lab {expected}"


def test_model_infos_match_the_live_registry() -> None:
    """The torch-free index read from the decorators equals what importing the models registers."""
    infos = {i.name: i for i in model_infos()}
    assert sorted(infos) == list_models()
    for entry in MODELS:
        info = infos[entry.name]
        assert (info.family, info.tags, info.summary) == (entry.family, entry.tags, entry.summary), entry.name
    assert [i.name for i in model_infos("detector")] == list_models("detector")


def test_detect_help_names_every_aggregation() -> None:
    from typer.testing import CliRunner

    from deepfake_lab.cli import app
    from deepfake_lab.metrics.detection import AGGREGATIONS

    res = CliRunner().invoke(app, ["detect", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    for name in AGGREGATIONS:
        assert name in res.output


_DETECT_PROBE = r"""
import gc, json, sys
from deepfake_lab.cli import main
try:
    main(["detect", sys.argv[1], "-q", "--json", sys.argv[2]])
except SystemExit as exc:
    code = exc.code
unused = ("c2pa", "cryptography.x509", "mediapipe.tasks.python", "mediapipe.python.solutions.hands", "matplotlib",
          "sounddevice")
print(json.dumps({"code": code, "gc": gc.isenabled(), "frozen": gc.get_freeze_count(),
                  "loaded": [m for m in unused if m in sys.modules]}))
"""


def test_detect_skips_what_an_unlabelled_video_does_not_need(scan_media: dict, tmp_path) -> None:
    """No C2PA reader or certificate parsing for a file without a manifest, none of mediapipe's other APIs; the
    collector, paused while the command starts, runs again once frames are scored."""
    out = tmp_path / "scan.json"
    proc = subprocess.run(
        [sys.executable, "-c", _DETECT_PROBE, str(scan_media["real"]), str(out)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["code"] == 0 and res["gc"] and res["frozen"] > 10_000 and res["loaded"] == [], res
    assert json.loads(out.read_text())["files"][0]["provenance"]["c2pa"]["present"] is False
