"""Generation strategy 2: the GAN family. Importing this module registers every variant."""

from deepfake_lab.models.gans import cgan, cyclegan, dcgan, pix2pix, progan, text2image, vanilla  # noqa: F401
from deepfake_lab.models.gans.base import GAN
from deepfake_lab.models.gans.dcgan import DCGANDiscriminator, DCGANGenerator
from deepfake_lab.models.gans.vanilla import MLPDiscriminator, MLPGenerator

__all__ = ["GAN", "DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator"]
