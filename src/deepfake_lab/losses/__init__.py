from deepfake_lab.losses.adversarial import D_LOSSES, G_LOSSES, discriminator_loss, generator_loss
from deepfake_lab.losses.contractive import contractive_penalty, jacobian_frobenius
from deepfake_lab.losses.reconstruction import RECONSTRUCTION_LOSSES, mse_per_pixel, reconstruction_loss
from deepfake_lab.losses.sparsity import kl_sparsity
from deepfake_lab.losses.ssim import dssim, ssim

__all__ = [
    "D_LOSSES",
    "G_LOSSES",
    "RECONSTRUCTION_LOSSES",
    "contractive_penalty",
    "discriminator_loss",
    "dssim",
    "generator_loss",
    "jacobian_frobenius",
    "kl_sparsity",
    "mse_per_pixel",
    "reconstruction_loss",
    "ssim",
]
