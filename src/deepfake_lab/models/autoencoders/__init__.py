"""Generation strategy 1: the autoencoder family. Importing this module registers every variant."""

from deepfake_lab.models.autoencoders import conv, dense, pca, stacked  # noqa: F401
from deepfake_lab.models.autoencoders.conv import ConvAutoencoder
from deepfake_lab.models.autoencoders.dense import DenseAutoencoder
from deepfake_lab.models.autoencoders.pca import PCAModel
from deepfake_lab.models.autoencoders.stacked import StackedAutoencoder

__all__ = ["ConvAutoencoder", "DenseAutoencoder", "PCAModel", "StackedAutoencoder"]
