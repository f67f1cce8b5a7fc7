"""Shared-encoder / per-identity-decoder face-swap autoencoders (faceswap "Original" style)."""

from deepfake_lab.models.swap import original  # noqa: F401  (registers swap-original, swap-lite, swap-128)
