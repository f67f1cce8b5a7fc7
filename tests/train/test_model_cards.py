"""Model cards are data from a file: checked against the registered factory and the weights before any build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from deepfake_lab.cli import main
from deepfake_lab.errors import BadInputError
from deepfake_lab.models import catalogue
from deepfake_lab.models.cards import validate_model_kwargs
from deepfake_lab.models.catalogue import create_model
from deepfake_lab.train.checkpoint import export_model, load_exported


def _export(tmp: Path, name: str, family: str, **kwargs) -> Path:
    torch.manual_seed(0)
    st, _ = export_model(create_model(name, **kwargs), tmp, model_name=name, model_kwargs=kwargs, family=family)
    return st


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cards")
    return {
        "detector": _export(root / "det", "meso4", "detector", image_size=64, in_channels=3),
        "swap": _export(root / "swap", "swap-lite", "swap", image_size=64, width=8, latent_dim=32),
        "generator": _export(root / "gen", "dcgan-32", "gan", in_shape=[1, 32, 32], latent_dim=16, width=8),
    }


def _tampered(st: Path, tmp: Path, **change) -> Path:
    """A copy of the export whose card's model_kwargs are changed."""
    tmp.mkdir(parents=True, exist_ok=True)
    card = json.loads(st.with_suffix(".json").read_text())
    card["model_kwargs"].update(change)
    shutil.copy(st, tmp / "model.safetensors")
    (tmp / "model.json").write_text(json.dumps(card))
    return tmp / "model.safetensors"


@pytest.fixture()
def real_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of models built for real (not on the meta device) while the test runs."""
    built: list[str] = []
    orig = catalogue.create_model

    def spy(name: str, **kw):
        if torch.empty(0).device.type != "meta":
            built.append(name)
        return orig(name, **kw)

    monkeypatch.setattr(catalogue, "create_model", spy)
    return built


def test_validate_model_kwargs_types_bounds_unknown() -> None:
    validate_model_kwargs("meso4", {"image_size": 64, "in_channels": 3, "width": 1, "mean": [0.5, 0.5, 0.5]})
    validate_model_kwargs("ae-conv", {"latent_dim": None, "in_shape": [1, 28, 28]})
    for name, kwargs, needle in (
        ("meso4", {"in_channels": 1e9}, "in_channels=1000000000.0 must be an integer"),
        ("meso4", {"in_channels": 10**9}, "out of range"),
        ("meso4", {"image_size": 2048}, "image_size=2048 is out of range"),
        ("meso4", {"image_size": True}, "must be an integer"),
        ("meso4", {"dropout": 3.0}, "dropout"),
        ("meso4", {"width": float("nan")}, "finite"),
        ("meso4", {"mean": [0.5] * 1000}, "list of at most"),
        ("meso4", {"evil": 1}, "no argument(s) evil"),
        ("swap-lite", {"learn_mask": "yes"}, "true or false"),
        ("dcgan-32", {"in_shape": [1, 4096, 32]}, "height out of range"),
        ("ae-dense", {"activation": "x" * 500}, "short string"),
        ("nope", {}, "unknown model"),
    ):
        with pytest.raises(BadInputError) as exc:
            validate_model_kwargs(name, kwargs, where="card.json")
        assert needle in str(exc.value) and "\n" not in str(exc.value), (kwargs, exc.value)


@pytest.mark.parametrize(
    ("kind", "change", "needle"),
    [
        ("detector", {"in_channels": 1e9}, "must be an integer"),
        ("detector", {"in_channels": 10**9}, "out of range"),
        ("detector", {"image_size": 128}, "does not match its card"),  # plausible, wrong: shapes differ
        ("swap", {"image_size": 2048}, "out of range"),
        ("swap", {"image_size": 1024}, "does not match its card"),  # in bounds: caught by the shape check
        ("swap", {"image_size": 128}, "does not match its card"),
        ("generator", {"width": 64}, "does not match its card"),
        ("generator", {"in_shape": [1, 64, 64]}, "cannot build model"),  # the factory refuses it
    ],
)
def test_tampered_cards_refused_before_any_real_build(exports, tmp_path, real_builds, kind, change, needle) -> None:
    bad = _tampered(exports[kind], tmp_path / "bad", **change)
    with pytest.raises(BadInputError) as exc:
        load_exported(bad)
    msg = str(exc.value)
    assert needle in msg and "\n" not in msg, msg
    assert real_builds == []  # no model was built for real: nothing large was allocated
    model, _ = load_exported(exports[kind])  # the untouched export still loads
    assert real_builds and not any(p.is_meta for p in model.parameters())


def test_weights_of_another_shape_refused(exports, tmp_path) -> None:
    """Weights and card disagree (weights of a 32-px meso4 under a 64-px card): refused by name and shape."""
    other = _export(tmp_path / "other", "meso4", "detector", image_size=32, in_channels=3)
    target = tmp_path / "mixed"
    target.mkdir()
    shutil.copy(other, target / "model.safetensors")
    shutil.copy(exports["detector"].with_suffix(".json"), target / "model.json")
    with pytest.raises(BadInputError, match="in the weights but"):
        load_exported(target)


def test_cli_one_error_line_for_tampered_cards(exports, tmp_path, capsys) -> None:
    det = _tampered(exports["detector"], tmp_path / "det", image_size=128)
    swap = _tampered(exports["swap"], tmp_path / "swap", image_size=2048)
    img = tmp_path / "in.png"
    from PIL import Image

    Image.new("RGB", (64, 64)).save(img)
    for argv in (
        ["detect", str(img), "--model", str(det)],
        ["swap", str(img), "--model", str(swap), "-o", str(tmp_path / "out.png"), "-q"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert exc.value.code == 2 and len(lines) == 1 and lines[0].startswith("error:"), err
        assert "Traceback" not in err and "card" in err
