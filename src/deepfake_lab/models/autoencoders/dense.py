"""Fully connected autoencoders: undercomplete, overcomplete, linear (the PCA limit), sparse, contractive.

The lecture's f(x) = s(Wx + b) = z and g(z) = s(W'z + b') = x̂, with any number of hidden layers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from deepfake_lab.nn import make_activation
from deepfake_lab.registry import register_model


class DenseAutoencoder(nn.Module):
    """Dense encoder/decoder pair, mirrored.

    Args:
        in_shape: input image shape (C, H, W); inputs are flattened.
        hidden: widths of the hidden layers between input and code (mirrored in the decoder).
        latent_dim: size of the code z (smaller than C*H*W: undercomplete; larger: overcomplete).
        activation: activation of the hidden layers ("none" for a linear network).
        code_activation: activation applied to z ("sigmoid" for sparse/contractive AEs).
        out_activation: activation of the reconstruction ("sigmoid" for inputs in [0, 1]).
    """

    def __init__(
        self,
        *,
        in_shape: Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (256,),
        latent_dim: int = 32,
        activation: str = "relu",
        code_activation: str = "none",
        out_activation: str = "sigmoid",
    ) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        self.latent_dim = int(latent_dim)
        self.code_activation = code_activation
        in_dim = math.prod(self.in_shape)
        widths = [in_dim, *[int(h) for h in hidden], self.latent_dim]
        enc: list[nn.Module] = [nn.Flatten()]
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=False)):
            enc += [nn.Linear(a, b), make_activation(code_activation if i == len(widths) - 2 else activation)]
        dec: list[nn.Module] = []
        rev = widths[::-1]
        for i, (a, b) in enumerate(zip(rev[:-1], rev[1:], strict=False)):
            dec += [nn.Linear(a, b), make_activation(out_activation if i == len(rev) - 2 else activation)]
        dec.append(nn.Unflatten(1, self.in_shape))
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: Tensor) -> Tensor:
        """x: [B, C, H, W] -> z: [B, latent_dim]."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """z: [B, latent_dim] -> x̂: [B, C, H, W]."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def sigmoid_encoder_layer(self) -> nn.Linear | None:
        """The encoder's only layer when f(x) = sigmoid(Wx + b), else None (closed-form Jacobian case)."""
        linears = [m for m in self.encoder if isinstance(m, nn.Linear)]
        if len(linears) == 1 and self.code_activation == "sigmoid":
            return linears[0]
        return None


@register_model("ae-dense", family="autoencoder", task="autoencoder")
def ae_dense(
    *,
    in_shape: Sequence[int] = (1, 28, 28),
    hidden: Sequence[int] = (256,),
    latent_dim: int = 32,
    activation: str = "relu",
    code_activation: str = "none",
    out_activation: str = "sigmoid",
) -> DenseAutoencoder:
    """Undercomplete dense autoencoder (code smaller than the input)."""
    return DenseAutoencoder(
        in_shape=in_shape,
        hidden=hidden,
        latent_dim=latent_dim,
        activation=activation,
        code_activation=code_activation,
        out_activation=out_activation,
    )


@register_model("ae-overcomplete", family="autoencoder", task="autoencoder")
def ae_overcomplete(
    *,
    in_shape: Sequence[int] = (1, 28, 28),
    hidden: Sequence[int] = (),
    latent_dim: int = 1024,
    activation: str = "relu",
    code_activation: str = "relu",
    out_activation: str = "sigmoid",
) -> DenseAutoencoder:
    """Overcomplete dense autoencoder (code larger than the input; needs a regulariser to be useful)."""
    return DenseAutoencoder(
        in_shape=in_shape,
        hidden=hidden,
        latent_dim=latent_dim,
        activation=activation,
        code_activation=code_activation,
        out_activation=out_activation,
    )


@register_model("ae-linear", family="autoencoder", task="autoencoder")
def ae_linear(*, in_shape: Sequence[int] = (1, 28, 28), latent_dim: int = 32) -> DenseAutoencoder:
    """Linear autoencoder (no activations): with squared error it reaches PCA's optimum."""
    return DenseAutoencoder(
        in_shape=in_shape,
        hidden=(),
        latent_dim=latent_dim,
        activation="none",
        code_activation="none",
        out_activation="none",
    )


@register_model(
    "ae-sparse",
    family="autoencoder",
    task="autoencoder",
    task_defaults={"sparsity_beta": 3.0, "sparsity_rho": 0.05},
)
def ae_sparse(
    *,
    in_shape: Sequence[int] = (1, 28, 28),
    hidden: Sequence[int] = (),
    latent_dim: int = 196,
) -> DenseAutoencoder:
    """Sparse autoencoder: sigmoid code units pushed to mean activation ρ by β·Σ KL(ρ‖ρ̂_j)."""
    return DenseAutoencoder(
        in_shape=in_shape,
        hidden=hidden,
        latent_dim=latent_dim,
        activation="relu",
        code_activation="sigmoid",
        out_activation="sigmoid",
    )


@register_model(
    "ae-denoising",
    family="autoencoder",
    task="autoencoder",
    task_defaults={"noise": "mask", "noise_level": 0.3},
)
def ae_denoising(
    *,
    in_shape: Sequence[int] = (1, 28, 28),
    hidden: Sequence[int] = (256,),
    latent_dim: int = 64,
) -> DenseAutoencoder:
    """Denoising autoencoder: trained on corrupted inputs x̃, loss against the clean x."""
    return DenseAutoencoder(
        in_shape=in_shape,
        hidden=hidden,
        latent_dim=latent_dim,
        activation="relu",
        code_activation="relu",
        out_activation="sigmoid",
    )


@register_model(
    "ae-contractive",
    family="autoencoder",
    task="autoencoder",
    task_defaults={"contractive_lambda": 0.1},
)
def ae_contractive(
    *,
    in_shape: Sequence[int] = (1, 28, 28),
    hidden: Sequence[int] = (),
    latent_dim: int = 64,
) -> DenseAutoencoder:
    """Contractive autoencoder: penalty λ·‖J_f(x)‖²_F on the encoder's Jacobian."""
    return DenseAutoencoder(
        in_shape=in_shape,
        hidden=hidden,
        latent_dim=latent_dim,
        activation="sigmoid",
        code_activation="sigmoid",
        out_activation="sigmoid",
    )
