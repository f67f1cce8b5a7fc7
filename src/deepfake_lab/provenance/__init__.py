"""Provenance labels on everything deepfake-lab generates, and the reader that finds them.

- `watermark`: invisible DWT-DCT watermark carrying the 64-bit `payload` (tool, command, model id, run id, CRC);
  `watermark_compat`: invisible-watermark 0.2.0's `dwtDct`, re-implemented for the compatibility check.
- `manifest`: C2PA manifest (IPTC `trainedAlgorithmicMedia`, model, parameters) signed with `keys`.
- `label.Provenance`: what generating commands call to label each image/frame/file.
- `inspect.inspect_provenance(path) -> ProvenanceReport`: both labels of a file (used by `detect`).
"""

from deepfake_lab.provenance.inspect import ProvenanceReport, WatermarkInfo, inspect_provenance
from deepfake_lab.provenance.label import DISABLED_WARNING, Provenance
from deepfake_lab.provenance.manifest import C2paInfo
from deepfake_lab.provenance.payload import WatermarkPayload
from deepfake_lab.provenance.watermark import decode_watermark, embed_watermark

__all__ = [
    "DISABLED_WARNING",
    "C2paInfo",
    "Provenance",
    "ProvenanceReport",
    "WatermarkInfo",
    "WatermarkPayload",
    "decode_watermark",
    "embed_watermark",
    "inspect_provenance",
]
