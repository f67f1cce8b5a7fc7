"""Label what a generating command writes: watermark every image/frame, sign every file with C2PA.

One `Provenance` object per command run carries the ids (model, run) and the options; the writers call it:

- `prov.check_output(path)` before any work (a format C2PA cannot hold is refused up front);
- `prov.mark(image)` on every image / video frame (the invisible watermark);
- `prov.save_image(array, path)` for still images (watermark + write + sign, atomically);
- `prov.finish(tmp, path)` for videos written to `tmp` (sign into `path`, atomically).

`Provenance(..., enabled=False)` (the `--no-provenance` flag) writes files without either label; the CLI
prints `DISABLED_WARNING` when it is used, so it is never skipped silently.

Example:
    >>> prov = Provenance("sample", "dcgan-32", parameters={"n": 64, "seed": 0})  # doctest: +SKIP
    >>> prov.save_image(grid_uint8, Path("samples.png"))  # doctest: +SKIP
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_lab import __version__
from deepfake_lab.errors import BadInputError
from deepfake_lab.fsutil import sha256_file
from deepfake_lab.models.cards import resolve_export
from deepfake_lab.provenance import manifest as _manifest
from deepfake_lab.provenance.keys import load_or_create_identity
from deepfake_lab.provenance.payload import ID_BITS, WatermarkPayload, short_id
from deepfake_lab.provenance.watermark import MIN_SIDE, PIX, embed_watermark, prepare_small

__all__ = ["Provenance", "DISABLED_WARNING", "tmp_output"]

DISABLED_WARNING = (
    "warning: --no-provenance: the output carries NO watermark and NO C2PA manifest; it will not be "
    "recognisable as synthetic. Label it yourself before sharing it."
)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass
class Provenance:
    """How a run of a generating command labels its outputs.

    Args:
        kind: the command ("swap", "sample", "interpolate", "latent-arith", "showcase", "demo", ...).
        model: model name (card name or registry name).
        model_sha256: SHA-256 of the weights when known (the watermark's model id is derived from it).
        parameters: the generation options, recorded in the C2PA manifest.
        enabled: False = `--no-provenance` (no watermark, no manifest).
        signing_cert, signing_key: the user's own PEM credentials (default: env vars, else the local key).
        notify: where one-line notices go (key created, small image enlarged); default stderr.
    """

    kind: str
    model: str
    model_sha256: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    signing_cert: str | Path | None = None
    signing_key: str | Path | None = None
    notify: Callable[[str], None] = _stderr
    run_id: int = field(default_factory=lambda: secrets.randbits(ID_BITS))

    _identity: Any = field(default=None, init=False, repr=False)
    _small_noted: bool = field(default=False, init=False, repr=False)

    @classmethod
    def for_export(
        cls, kind: str, export: str | Path, card: dict[str, Any], parameters: dict[str, Any], enabled: bool = True
    ) -> Provenance:
        """Provenance of outputs of an exported model (run dir / export dir / .safetensors / card)."""
        st, _ = resolve_export(Path(export))
        name = str(card.get("name") or card.get("model"))
        params = {"model_name": card.get("model"), "training_data": (card.get("training") or {}).get("data")}
        return cls(kind=kind, model=name, model_sha256=sha256_file(st), parameters={**params, **parameters},
                   enabled=enabled)  # fmt: skip

    @property
    def payload(self) -> WatermarkPayload:
        """The 64-bit watermark payload (tool tag, command, model id, run id, CRC)."""
        return WatermarkPayload(self.kind, short_id(self.model_sha256 or self.model), self.run_id)

    def generation(self, title: str) -> dict[str, Any]:
        """The `org.deepfake-lab.generation` assertion."""
        return {
            "synthetic": True,
            "tool": f"deepfake-lab {__version__}",
            "command": self.kind,
            "model": self.model,
            "model_sha256": self.model_sha256,
            "run_id": f"{self.run_id:05x}",
            "watermark": self.payload.to_dict(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "file": title,
            "parameters": _jsonable(self.parameters),
        }

    def identity(self):
        """The signing identity (created on first use; its folder is printed once then)."""
        if self._identity is None:
            ident = load_or_create_identity(self.signing_cert, self.signing_key)
            if ident.created:
                self.notify(
                    f"provenance: created a local C2PA signing key and certificate in {ident.cert_path.parent} "
                    "(untrusted outside this machine; set DEEPFAKE_LAB_SIGNING_CERT/KEY to use your own)"
                )
            self._identity = ident
        return self._identity

    def check_output(self, path: Path) -> None:
        """Refuse an output format C2PA cannot label (before any work is done)."""
        if self.enabled and path.suffix.lower() not in _manifest.SIGNABLE_SUFFIXES:
            raise BadInputError(
                f"output {path.name}: C2PA manifests cannot be embedded in {path.suffix or 'suffix-less'} files; "
                f"use one of {', '.join(sorted(_manifest.SIGNABLE_SUFFIXES))} or pass --no-provenance"
            )

    def mark(self, image: np.ndarray) -> np.ndarray:
        """Watermark one frame/image: uint8 (H, W, 3) or (H, W) -> same shape (unchanged when disabled).

        Frames smaller than 64 pixels on a side cannot hold the payload tile; they are left unmarked with
        a notice (once). Still images go through `save_image`, which enlarges small ones instead.
        """
        if not self.enabled:
            return image
        if min(image.shape[:2]) < 8 * PIX:
            if not self._small_noted:
                self.notify(
                    f"provenance: frames of {image.shape[1]}×{image.shape[0]} are too small for the watermark "
                    "(min 64 px a side); they carry the C2PA manifest only"
                )
                self._small_noted = True
            return image
        return embed_watermark(image, self.payload)

    def save_image(self, image: np.ndarray, path: str | Path) -> Path:
        """Watermark, write and C2PA-sign a still image; the final file appears only when complete.

        Images under `MIN_SIDE` px a side are enlarged by an integer factor (nearest neighbour, pixels
        unchanged otherwise) so that the watermark fits twice per side; a notice says so.

        Args:
            image: uint8 (H, W, 3) RGB or (H, W) grayscale.
            path: output file (.png, .jpg, .webp, ...).
        """
        from PIL import Image

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.enabled:
            Image.fromarray(image).save(path)
            return path
        self.check_output(path)
        big, k = prepare_small(image, MIN_SIDE)
        if k > 1:
            self.notify(
                f"provenance: {path.name} enlarged ×{k} (nearest neighbour, {image.shape[1]}×{image.shape[0]} → "
                f"{big.shape[1]}×{big.shape[0]}) so that the invisible watermark fits"
            )
        marked = embed_watermark(big, self.payload)
        tmp = _tmp_name(path, "unsigned")
        try:
            im = Image.fromarray(marked)
            if path.suffix.lower() in (".jpg", ".jpeg"):
                im.save(tmp, format="JPEG", quality=95)
            else:
                im.save(tmp, format=Image.registered_extensions().get(path.suffix.lower()))
            self.finish(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def finish(self, tmp: Path, path: Path) -> None:
        """Sign the finished file `tmp` into `path` (C2PA) atomically, then remove `tmp`.

        When disabled, `tmp` is just renamed to `path`.
        """
        if not self.enabled:
            _manifest.replace_atomically(tmp, path)
            return
        signed = _tmp_name(path, "signed")
        try:
            manifest = _manifest.build_manifest(path.name, self.kind, self.generation(path.name))
            _manifest.sign_into(tmp, signed, manifest, self.identity())
            _manifest.replace_atomically(signed, path)
        finally:
            signed.unlink(missing_ok=True)
            tmp.unlink(missing_ok=True)


def _tmp_name(path: Path, tag: str) -> Path:
    """A hidden sibling with the same suffix (writers pick the format from it)."""
    return path.with_name(f".{path.stem}.{tag}-{secrets.token_hex(4)}{path.suffix}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def tmp_output(path: Path) -> Path:
    """Where a writer puts an output before `Provenance.finish` moves it into place."""
    return _tmp_name(path, "partial")
