"""Every model family (autoencoders, gans, swap, detectors), registered by name with `@register_model`.

Importing this package alone registers nothing (so that `deepfake_lab.models.infos` lists the models without
torch): `deepfake_lab.models.catalogue` imports every family and builds models by name (`create_model`).
"""

from pathlib import Path

SIZES_FILE = Path(__file__).resolve().parent / "sizes.json"
"""Parameters and input shape of every model at its factory's defaults (`catalogue.write_model_sizes`)."""
