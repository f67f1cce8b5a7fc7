"""Autoencoder tasks: reconstruction (+ sparsity, denoising, contractive penalty), greedy stacked pretraining
with supervised fine-tuning, and PCA fitted in closed form."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepfake_lab.data.datasets import Batch, ImageDataset
from deepfake_lab.errors import BadInputError
from deepfake_lab.losses import (
    RECONSTRUCTION_LOSSES,
    contractive_penalty,
    kl_sparsity,
    mse_per_pixel,
    reconstruction_loss,
)
from deepfake_lab.train.tasks.base import Phase, Task, register_task


def corrupt(x: Tensor, noise: str, level: float, generator: torch.Generator | None = None) -> Tensor:
    """Corruption x̃ of the denoising autoencoder.

    Args:
        x: clean inputs [B, ...] in [0, 1].
        noise: "mask" (each input zeroed with probability ν = level), "gaussian" (x + level·N(0, 1),
            clipped to [0, 1]) or "none".
    """
    if noise == "none" or level == 0:
        return x
    if noise == "mask":
        keep = torch.rand(x.shape, generator=generator, device=x.device) >= level
        return x * keep
    if noise == "gaussian":
        return (x + level * torch.randn(x.shape, generator=generator, device=x.device)).clamp(0, 1)
    raise BadInputError(f"unknown noise {noise!r}; choose none, mask or gaussian")


def _interp_rows(model: nn.Module, x: Tensor, steps: int = 8) -> Tensor:
    """Decoded z = α z1 + (1-α) z2 between the first two images of x: [steps, C, H, W]."""
    z = model.encode(x[:2])
    alphas = torch.linspace(1, 0, steps, device=z.device).view(-1, *([1] * (z.dim() - 1)))
    return model.decode(alphas * z[0:1] + (1 - alphas) * z[1:2]).float().clamp(0, 1)


@register_task("autoencoder", family="autoencoder")
class AutoencoderTask(Task):
    """Reconstruction + optional sparsity (KL), denoising corruption and contractive penalty.

    Args:
        model: an autoencoder with `encode`/`decode`.
        loss: "mse" (squared error) or "bce" (cross-entropy, inputs read as bit probabilities).
        sparsity_beta: β of β·Σ_j KL(ρ‖ρ̂_j) (0 disables; needs code units in (0, 1)).
        sparsity_rho: ρ, the target mean activation.
        noise: denoising corruption: "none", "mask" or "gaussian".
        noise_level: ν for masking, σ for Gaussian noise.
        contractive_lambda: λ of λ·‖J_f(x)‖²_F (0 disables).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        loss: str = "mse",
        sparsity_beta: float = 0.0,
        sparsity_rho: float = 0.05,
        noise: str = "none",
        noise_level: float = 0.0,
        contractive_lambda: float = 0.0,
    ) -> None:
        if loss not in RECONSTRUCTION_LOSSES:
            raise BadInputError(f"task loss must be one of {', '.join(RECONSTRUCTION_LOSSES)}, got {loss!r}")
        if noise not in ("none", "mask", "gaussian"):
            raise BadInputError(f"noise must be none, mask or gaussian, got {noise!r}")
        if noise == "mask" and not 0 <= noise_level < 1:
            raise BadInputError(f"masking noise level ν must be in [0, 1), got {noise_level}")
        if sparsity_beta and not 0 < sparsity_rho < 1:
            raise BadInputError(f"sparsity_rho must be in (0, 1), got {sparsity_rho}")
        self.nets = {"model": model}
        self.model = model
        self.loss_kind = loss
        self.beta, self.rho = float(sparsity_beta), float(sparsity_rho)
        self.noise, self.noise_level = noise, float(noise_level)
        self.lam = float(contractive_lambda)

    def phases(self, step: int) -> list[Phase]:
        return [Phase("ae", "main", self._loss)]

    def _loss(self, batch: Batch) -> dict[str, Tensor]:
        x = batch.x
        x_in = corrupt(x, self.noise, self.noise_level)
        z = self.model.encode(x_in)
        x_hat = self.model.decode(z)
        rec = reconstruction_loss(x_hat, x, self.loss_kind)
        loss = rec
        logs: dict[str, Tensor] = {"recon": rec.detach(), "mse": mse_per_pixel(x_hat.detach(), x)}
        if self.beta:
            kl = kl_sparsity(z, self.rho)
            loss = loss + self.beta * kl
            logs["kl"] = kl.detach()
            logs["mean_activation"] = z.detach().float().mean()
        if self.lam:
            with torch.autocast(x.device.type, enabled=False):
                jac = contractive_penalty(self.model, x_in.float(), None)
            loss = loss + self.lam * jac
            logs["jacobian_sq"] = jac.detach()
        return {"loss": loss, **logs}

    def samples(self, batch: Batch) -> dict[str, Tensor]:
        x = batch.x[:8]
        x_in = corrupt(x, self.noise, self.noise_level)
        rows = [x, x_in] if self.noise != "none" else [x]
        rows.append(self.model(x_in).float().clamp(0, 1))
        return {"reconstructions": torch.cat(rows), "interpolation": _interp_rows(self.model, batch.x)}

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        x_in = corrupt(batch.x, self.noise, self.noise_level)
        out = {"eval_mse": float(mse_per_pixel(self.model(batch.x), batch.x))}
        if self.noise != "none":
            out["eval_denoise_mse"] = float(mse_per_pixel(self.model(x_in), batch.x))
        if self.beta:
            out["eval_mean_activation"] = float(self.model.encode(batch.x).float().mean())
        return out


@register_task("stacked-autoencoder", family="autoencoder")
class StackedAutoencoderTask(Task):
    """Greedy layer-wise pretraining of a StackedAutoencoder, then supervised fine-tuning.

    Steps [k·P, (k+1)·P) pretrain layer k (P = `pretrain_steps`) to reconstruct the frozen output of the
    layers below it; the remaining steps fine-tune encoder + head with cross-entropy on `n_labels`
    labelled examples (stratified, drawn once from the training set).

    Args:
        model: a StackedAutoencoder.
        pretrain_steps: steps per layer of greedy pretraining (0: classifier from random init).
        n_labels: labelled examples used for fine-tuning (None: all).
        finetune_batch: minibatch size of the fine-tuning phase.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        pretrain_steps: int = 500,
        n_labels: int | None = 100,
        finetune_batch: int = 32,
        label_seed: int = 0,
    ) -> None:
        if pretrain_steps < 0:
            raise BadInputError("pretrain_steps must be >= 0")
        self.nets = {"model": model}
        self.model = model
        self.pretrain_steps = int(pretrain_steps)
        self.n_labels = n_labels
        self.finetune_batch = int(finetune_batch)
        self.label_seed = int(label_seed)
        self.labelled: ImageDataset | None = None
        self._ft_gen = torch.Generator().manual_seed(self.label_seed + 1)

    def setup(self, data: ImageDataset) -> None:
        if data.labels is None:
            raise BadInputError(f"stacked autoencoder fine-tuning needs labels; dataset {data.name!r} has none")
        idx = torch.arange(len(data))
        if self.n_labels is not None and self.n_labels < len(data):
            g = torch.Generator().manual_seed(self.label_seed)
            n_cls = int(data.labels.max()) + 1
            per = [idx[data.labels == c] for c in range(n_cls)]
            per = [p[torch.randperm(len(p), generator=g)] for p in per]
            take = [p[: max(1, self.n_labels // n_cls)] for p in per]
            idx = torch.cat(take)[: self.n_labels]
        self.labelled = data.subset(idx)

    def stage(self, step: int) -> int:
        """Layer index being pretrained, or depth (fine-tuning)."""
        if self.pretrain_steps == 0:
            return self.model.depth
        return min(step // self.pretrain_steps, self.model.depth)

    def phases(self, step: int) -> list[Phase]:
        k = self.stage(step)
        if k < self.model.depth:
            return [Phase(f"pretrain{k}", "main", lambda b, k=k: self._pretrain_loss(b, k))]
        return [Phase("finetune", "main", self._finetune_loss)]

    def _pretrain_loss(self, batch: Batch, k: int) -> dict[str, Tensor]:
        with torch.no_grad():
            h = self.model.encode(batch.x, depth=k)
        z = self.model.encoders[k](h)
        h_hat = self.model.decoders[k](z)
        rec = F.mse_loss(h_hat.float(), h.float(), reduction="none").sum(1).mean()
        return {"loss": rec, f"recon_layer{k}": rec.detach()}

    def _finetune_loss(self, batch: Batch) -> dict[str, Tensor]:
        assert self.labelled is not None, "setup() was not called"
        n = len(self.labelled)
        idx = torch.randint(0, n, (min(self.finetune_batch, n),), generator=self._ft_gen)
        lb = self.labelled.batch(idx).to(batch.x.device)
        logits = self.model.classify(lb.x)
        loss = F.cross_entropy(logits.float(), lb.y)
        acc = (logits.argmax(1) == lb.y).float().mean()
        return {"loss": loss, "ce": loss.detach(), "train_acc": acc}

    def samples(self, batch: Batch) -> dict[str, Tensor]:
        x = batch.x[:8]
        return {"reconstructions": torch.cat([x, self.model(x).float().clamp(0, 1)])}

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        out = {"eval_mse": float(mse_per_pixel(self.model(batch.x), batch.x))}
        if batch.y is not None:
            out["eval_accuracy"] = float((self.model.classify(batch.x).argmax(1) == batch.y).float().mean())
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"ft_generator": self._ft_gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._ft_gen.set_state(state["ft_generator"])


@register_task("pca", family="autoencoder")
class PCATask(Task):
    """Fits PCA on (up to `max_fit` items of) the training set in `setup`; there is nothing to optimise."""

    def __init__(self, model: nn.Module, *, max_fit: int = 20000) -> None:
        self.nets = {"model": model}
        self.model = model
        self.max_fit = int(max_fit)
        self.fitted = False

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {}

    def setup(self, data: ImageDataset) -> None:
        if not self.fitted:
            n = min(len(data), self.max_fit)
            self.model.fit(data.batch(torch.arange(n)).x)
            self.fitted = True

    def phases(self, step: int) -> list[Phase]:
        return []

    def samples(self, batch: Batch) -> dict[str, Tensor]:
        x = batch.x[:8]
        return {
            "reconstructions": torch.cat([x, self.model(x).clamp(0, 1)]),
            "interpolation": _interp_rows(self.model, batch.x),
        }

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        return {"eval_mse": float(mse_per_pixel(self.model(batch.x), batch.x))}

    def state_dict(self) -> dict[str, Any]:
        return {"fitted": self.fitted}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.fitted = bool(state.get("fitted", False))
