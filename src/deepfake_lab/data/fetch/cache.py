"""The corpus cache on disk: where it is, its manifest, and whether an item's files are intact.

``<root>/manifest.json`` records, per fetched item, the sha256, size and archive member of every stored file,
its source and licence; ``<root>/<item>/`` holds the files. Nothing here downloads (see `download.py`).

Example:
    >>> sample_file("matplotlib", "grace_hopper.jpg")          # doctest: +SKIP
    PosixPath('/root/.cache/deepfake-lab/matplotlib/grace_hopper.jpg')
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import BinaryIO

from deepfake_lab.data.fetch.catalogue import ITEMS, check_names, fetch_hint
from deepfake_lab.errors import BadInputError, MissingDataError
from deepfake_lab.fsutil import atomic_write_bytes, sha256_file

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1


def data_root() -> Path:
    """The cache folder: ``$DEEPFAKE_LAB_DATA``, else ``$XDG_CACHE_HOME/deepfake-lab``, else ``~/.cache/...``.

    Returns:
        The folder (not created).
    """
    env = os.environ.get("DEEPFAKE_LAB_DATA")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "deepfake-lab"


def resolve_root(root: Path | str | None) -> Path:
    """`root` with ``~`` expanded, or `data_root()` when None."""
    return Path(root).expanduser() if root is not None else data_root()


def empty_manifest() -> dict:
    """A manifest with no items (what a new cache starts with)."""
    return {"format_version": MANIFEST_FORMAT, "items": {}}


def load_manifest(root: Path | str | None = None) -> dict:
    """Read ``<root>/manifest.json``.

    Args:
        root: Cache folder; default `data_root()`.

    Returns:
        ``{"format_version": 1, "items": {name: entry}}``; an empty one when there is no manifest yet. Each
        entry has ``source`` (registry, package, version, archive, archive_sha256), ``licence``,
        ``declared_licence`` (as the package metadata states it), ``fetched_at`` (UTC ISO 8601),
        ``files`` ({file name: {"sha256", "size", "member"}}) and ``size``.

    Raises:
        BadInputError: The manifest exists but is not a readable manifest.
    """
    path = resolve_root(root) / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return empty_manifest()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(
            f"corrupt data manifest {path} ({exc}); run `deepfake-lab data fetch` to rebuild it"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), dict):
        raise BadInputError(f"corrupt data manifest {path}; run `deepfake-lab data fetch` to rebuild it")
    return data


def write_manifest(root: Path, manifest: dict) -> None:
    """Write ``<root>/manifest.json`` atomically (`fsutil.atomic_write_bytes`), readable by every user."""

    def write(fh: BinaryIO) -> None:
        os.fchmod(fh.fileno(), 0o644)  # a shared cache: the temporary file starts 0600
        fh.write((json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))

    atomic_write_bytes(Path(root) / MANIFEST_NAME, write)


def item_dir(name: str, root: Path | str | None = None) -> Path:
    """Folder of a fetched corpus item.

    Args:
        name: Item name, one of `ITEMS`.
        root: Cache folder; default `data_root()`.

    Returns:
        ``<root>/<name>``.

    Raises:
        BadInputError: Unknown item name.
        MissingDataError: The item has not been fetched.
    """
    check_names([name])
    base = resolve_root(root)
    path = base / name
    try:
        entry = load_manifest(base)["items"].get(name)
    except BadInputError:
        entry = None
    if entry is None or not path.is_dir():
        raise MissingDataError(f"data item '{name}' is not in {base}; {fetch_hint(name)}")
    return path


def sample_file(item: str, filename: str, root: Path | str | None = None) -> Path:
    """Path of one file of a fetched corpus item.

    Args:
        item: Item name, one of `ITEMS`.
        filename: File name inside the item, e.g. ``"single_face.mp4"``.
        root: Cache folder; default `data_root()`.

    Returns:
        The existing file's path.

    Raises:
        BadInputError: Unknown item name.
        MissingDataError: The item or the file is not in the cache.
    """
    folder = item_dir(item, root)
    path = folder / filename
    if not path.is_file():
        have = sorted(p.name for p in folder.iterdir() if p.is_file())
        raise MissingDataError(
            f"'{filename}' is not in data item '{item}' (it has: {', '.join(have) or 'nothing'}); "
            f"{fetch_hint(item)}"
        )
    return path


def verify_item(name: str, root: Path | str | None = None, manifest: dict | None = None) -> str | None:
    """Check an item's files against the manifest.

    Args:
        name: Item name.
        root: Cache folder; default `data_root()`.
        manifest: An already loaded manifest (saves a read).

    Returns:
        None when every recorded file exists with its recorded size and sha256 and the recorded source
        matches the pinned spec; else a short reason ("not fetched", "corrupt: x.jpg", ...).
    """
    base = resolve_root(root)
    if manifest is None:
        try:
            manifest = load_manifest(base)
        except BadInputError:
            return "manifest unreadable"
    entry = manifest["items"].get(name)
    if not entry:
        return "not fetched"
    spec = ITEMS[name]
    src = entry.get("source", {})
    if src.get("package") != spec.package or (spec.version and src.get("version") != spec.version):
        return f"recorded source {src.get('package')} {src.get('version')} differs from {spec.source}"
    files = entry.get("files") or {}
    missing_req = [f for f in spec.required if f not in files]
    if missing_req:
        return f"manifest lacks {', '.join(missing_req)}"
    folder = base / name
    for fname, meta in files.items():
        path = folder / fname
        try:
            size = path.stat().st_size
        except OSError:
            return f"missing file {fname}"
        if size != meta.get("size") or sha256_file(path) != meta.get("sha256"):
            return f"checksum mismatch: {fname}"
    return None
