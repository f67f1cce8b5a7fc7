"""Every model family; importing this package registers all models (one import line per family)."""

from deepfake_lab.models import (
    autoencoders,  # noqa: F401
    detectors,  # noqa: F401
    gans,  # noqa: F401
    swap,  # noqa: F401
)
