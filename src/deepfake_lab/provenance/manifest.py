"""C2PA manifests (c2pa-python): sign generated images/MP4s, read and validate manifests.

The manifest declares the asset as created by a trained model: one `c2pa.actions.v2` assertion with action
`c2pa.created`, IPTC digital source type `trainedAlgorithmicMedia`, the tool as software agent and the
generation parameters, plus an `org.deepfake-lab.generation` assertion (command, model, weights hash, run
id, the watermark payload, options). It is signed with `keys.load_or_create_identity()`.

Validation: c2pa-python reports a state ("Invalid", "Valid", "Trusted") and failure codes. A certificate
nobody trusts (`signingCredential.untrusted`, always the case for the local key) does not make a file
invalid: we report `valid=True, trusted=False` ("signed by an untrusted local key"). Any other failure code
(e.g. `assertion.dataHash.mismatch` after the pixels were edited) makes it invalid.
"""

from __future__ import annotations

import json
import mmap
import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deepfake_lab import __version__
from deepfake_lab.errors import BadInputError
from deepfake_lab.fsutil import replace_file
from deepfake_lab.provenance.keys import SigningIdentity

__all__ = [
    "TRAINED_ALGORITHMIC_MEDIA",
    "GENERATION_LABEL",
    "SIGNABLE_SUFFIXES",
    "C2paInfo",
    "build_manifest",
    "sign_into",
    "read_manifest",
    "may_hold_manifest",
]

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
GENERATION_LABEL = "org.deepfake-lab.generation"
UNTRUSTED_CODES = frozenset({"signingCredential.untrusted"})
SIGNABLE_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".gif", ".avif", ".mp4", ".mov", ".m4v"}
)
"""Output suffixes c2pa-python 0.38 can embed a manifest in (of those our writers produce)."""


def build_manifest(title: str, kind: str, generation: dict[str, Any]) -> dict[str, Any]:
    """The manifest definition (JSON-able) for one generated file.

    Args:
        title: file name shown by C2PA tools.
        kind: generating command ("swap", "sample", ...).
        generation: model, parameters, ids; stored as the `org.deepfake-lab.generation` assertion.
    """
    params = {k: generation[k] for k in ("model", "model_sha256", "run_id") if generation.get(k) is not None}
    return {
        "claim_generator_info": [{"name": "deepfake-lab", "version": __version__}],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": {"name": f"deepfake-lab {__version__} {kind}"},
                            "parameters": params,
                        }
                    ]
                },
            },
            {"label": GENERATION_LABEL, "data": generation},
        ],
    }


def _signer(identity: SigningIdentity):
    import c2pa

    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, identity.cert_chain, identity.private_key, None)
    return c2pa.Signer.from_info(info)


def sign_into(source: Path, dest: Path, manifest: dict[str, Any], identity: SigningIdentity) -> None:
    """Write `source` + a signed manifest to `dest` (a new file; `source` is left as it is).

    Raises:
        BadInputError: a format C2PA cannot hold, or signing failed (e.g. a key that does not match the cert).
    """
    import c2pa

    if source.suffix.lower() not in SIGNABLE_SUFFIXES:
        raise BadInputError(
            f"cannot embed a C2PA manifest in {source.suffix or 'suffix-less'} files; "
            f"use one of {', '.join(sorted(SIGNABLE_SUFFIXES))} (or --no-provenance)"
        )
    try:
        builder = c2pa.Builder(manifest)
        signer = _signer(identity)
        with open(source, "rb") as src, open(dest, "w+b") as dst:
            builder.sign(signer, _mime(source), src, dst)
    except c2pa.C2paError as exc:
        raise BadInputError(f"C2PA signing of {dest.name} failed: {exc} (signing cert {identity.cert_path})") from None


def _mime(path: Path) -> str:
    return {
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".jpeg": "image/jpeg",
        ".webp": "image/webp",
        ".tif": "image/tiff",
        ".tiff": "image/tiff",
        ".gif": "image/gif",
        ".avif": "image/avif",
        ".mp4": "video/mp4",
        ".m4v": "video/mp4",
        ".mov": "video/quicktime",
    }[path.suffix.lower()]


@dataclass
class C2paInfo:
    """What the C2PA manifest of a file says (all fields JSON-able through `to_dict`).

    Attributes:
        present: a manifest store was found.
        valid: the signature and the hashes of the content check out (None when absent). A certificate that
            is merely untrusted (the local key) leaves it valid.
        trusted: the signing certificate chains to a trust anchor known to the reader.
        state: c2pa-python's validation state ("Invalid" / "Valid" / "Trusted").
        errors: failure codes + explanations other than the untrusted credential.
        status: one line for people, e.g. "valid, signed by an untrusted local key".
        digital_source_type: IPTC URI of the `c2pa.created` action.
        synthetic: the digital source type says trained algorithmic media (or composite with it).
        generator: claim generator ("deepfake-lab 0.1.0") and `software_agent` of the created action.
        model, generation: our `org.deepfake-lab.generation` assertion (model name, parameters, ids).
        signer: issuer / common name of the signing certificate; `local_key`: signed by this machine's key.
        note: why a manifest could not be read (unsupported format, damaged store).
    """

    present: bool = False
    valid: bool | None = None
    trusted: bool = False
    state: str | None = None
    errors: list[str] = field(default_factory=list)
    status: str = "no C2PA manifest"
    digital_source_type: str | None = None
    synthetic: bool = False
    generator: str | None = None
    software_agent: str | None = None
    model: str | None = None
    generation: dict[str, Any] | None = None
    signer: dict[str, Any] | None = None
    local_key: bool = False
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_manifest(
    path: str | Path, local_serial: str | Callable[[], str | None] | None = None
) -> C2paInfo:
    """Read and validate the C2PA manifest of a file.

    Args:
        path: image or video file.
        local_serial: serial number of this machine's signing certificate (or a function that gives it, called
            only when a signed manifest is found); sets `local_key` when it matches.

    Returns:
        `C2paInfo` (present=False when there is none or the format is not supported).
    """
    if not may_hold_manifest(path):  # most media: no c2pa import (~0.1 s) and no parse
        return C2paInfo()
    import c2pa

    path = Path(path)
    info = C2paInfo()
    suffix = path.suffix.lower()
    if suffix and suffix.lstrip(".") not in _reader_formats():
        info.note = f"C2PA cannot be embedded in {suffix} files"
        return info
    try:
        reader = c2pa.Reader(str(path))
    except c2pa.C2paError as exc:
        text = str(exc)
        if "ManifestNotFound" in type(exc).__name__ or "ManifestNotFound" in text or "no JUMBF" in text:
            return info
        if "could not be parsed" in text or "NotSupported" in type(exc).__name__:  # not a readable asset at all
            info.note = f"not readable as {suffix or 'media'}: {text}"
            return info
        info.present = True
        info.valid = False
        info.errors = [text]
        info.status = f"damaged C2PA manifest: {text}"
        return info
    with reader:
        info.present = True
        info.state = reader.get_validation_state()
        results = reader.get_validation_results() or {}
        manifest = reader.get_active_manifest() or {}
    active = results.get("activeManifest", {}) if isinstance(results, dict) else {}
    failures = active.get("failure", []) if isinstance(active, dict) else []
    # c2pa-python < 0.38 reported a flat "validation_status" list instead; fall back to it
    if not active and isinstance(manifest, dict):
        failures = manifest.get("validation_status", []) or []
    codes = [str(f.get("code", "")) for f in failures]
    info.trusted = info.state == "Trusted"
    info.errors = [
        f"{f.get('code')}: {f.get('explanation', '')}" for f in failures if f.get("code") not in UNTRUSTED_CODES
    ]
    info.valid = info.state in ("Valid", "Trusted") or (info.state != "Invalid" and not info.errors)
    if info.errors:
        info.valid = False
    _claims(info, manifest)
    if callable(local_serial) and info.signer:
        local_serial = local_serial()
    if isinstance(local_serial, str) and info.signer and str(info.signer.get("cert_serial_number")) == local_serial:
        info.local_key = True
    if not info.valid:
        info.status = "INVALID: " + "; ".join(info.errors or [f"state {info.state}"])
    elif info.trusted:
        info.status = "valid, signed by a trusted certificate"
    else:
        who = "this machine's local deepfake-lab key" if info.local_key else "an untrusted key"
        untrusted = "signingCredential.untrusted" in codes
        info.status = f"valid, signed by {who}" + (" (not in any trust list)" if untrusted else "")
    return info


def _claims(info: C2paInfo, manifest: dict[str, Any]) -> None:
    gens = manifest.get("claim_generator_info") or []
    if gens and isinstance(gens[0], dict):
        info.generator = " ".join(str(gens[0].get(k)) for k in ("name", "version") if gens[0].get(k))
    elif manifest.get("claim_generator"):
        info.generator = str(manifest["claim_generator"])
    sig = manifest.get("signature_info")
    if isinstance(sig, dict):
        info.signer = {k: sig.get(k) for k in ("issuer", "common_name", "cert_serial_number", "alg") if k in sig}
    for a in manifest.get("assertions") or []:
        label, data = a.get("label", ""), a.get("data") or {}
        if label.startswith("c2pa.actions"):
            for act in data.get("actions", []):
                if act.get("action") == "c2pa.created" or act.get("digitalSourceType"):
                    info.digital_source_type = act.get("digitalSourceType", info.digital_source_type)
                    agent = act.get("softwareAgent")
                    info.software_agent = agent.get("name") if isinstance(agent, dict) else agent
        elif label == GENERATION_LABEL:
            info.generation = data
            info.model = data.get("model")
    dst = info.digital_source_type or ""
    info.synthetic = dst.endswith("trainedAlgorithmicMedia") or dst.endswith("compositeWithTrainedAlgorithmicMedia")


# The manifest store is a JUMBF superbox whose type UUID starts with, and whose label is, the bytes "c2pa"; in these
# formats it is embedded as it is (a BMFF `uuid` box, JPEG APP11 segments whose first one holds the box headers,
# a PNG `caBX` or WebP `C2PA` chunk, a TIFF tag), so a file without those bytes holds no manifest.
_MARKER = b"c2pa"
_BMFF_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".avif", ".heic", ".heif"})
_RAW_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"})
_BMFF_C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
_RAW_SCAN_LIMIT = 256 << 20  # bytes; larger files go to c2pa-python unsearched


def may_hold_manifest(path: str | Path) -> bool:
    """False only when `path` certainly embeds no C2PA manifest store: an ISO-BMFF file (MP4, MOV, HEIF, AVIF)
    with no top-level C2PA `uuid` box, or a JPEG/PNG/WebP/TIFF file without the bytes "c2pa". Other formats,
    files whose box structure is damaged and unreadable files give True (c2pa-python decides and reports)."""
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix in _BMFF_SUFFIXES:
            return _bmff_may_hold(p)
        if suffix in _RAW_SUFFIXES and 0 < p.stat().st_size <= _RAW_SCAN_LIMIT:
            with open(p, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return data.find(_MARKER) >= 0
    except (OSError, ValueError):
        return True
    return True


def _bmff_may_hold(path: Path) -> bool:
    """Walk the top-level boxes (headers only) for the C2PA `uuid` box; True when the structure is unreadable."""
    with open(path, "rb") as fh:
        end = fh.seek(0, 2)
        pos = 0
        while pos < end:
            fh.seek(pos)
            head = fh.read(32)
            if len(head) < 8:
                return True
            size, kind = struct.unpack(">I4s", head[:8])
            offset = 8
            if size == 1:
                if len(head) < 16:
                    return True
                size, offset = struct.unpack(">Q", head[8:16])[0], 16
            elif size == 0:
                size = end - pos
            if size < offset or pos + size > end:
                return True
            if kind == b"uuid" and head[offset : offset + 16] == _BMFF_C2PA_UUID:
                return True
            pos += size
    return False


_FORMATS: set[str] | None = None


def _reader_formats() -> set[str]:
    global _FORMATS
    if _FORMATS is None:
        import c2pa

        _FORMATS = {m for m in c2pa.Reader.get_supported_mime_types() if "/" not in m}
    return _FORMATS


def manifest_json(path: str | Path) -> dict[str, Any] | None:
    """The whole manifest store of a file as JSON (for `provenance inspect --full`), or None."""
    import c2pa

    try:
        with c2pa.Reader(str(path)) as reader:
            return json.loads(reader.json())
    except c2pa.C2paError:
        return None


def replace_atomically(tmp: Path, final: Path) -> None:
    """Move a finished file into place (same folder, so the rename is atomic; data and folder fsynced)."""
    replace_file(tmp, final)
