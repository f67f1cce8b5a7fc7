"""The adversarial task: a discriminator phase, then a generator phase, each with its own optimizer.

Step t of training (the lecture's alternation):
1. D phase: gradient step on D for  -[E log D(x) + E log(1 - D(G(z)))]  (G(z) detached);
2. G phase: gradient step on G for  E log(1 - D(G(z)))  ("minimax", saturating) or  -E log D(G(z))
   ("non-saturating", the lecture's "standard in practice"); D's weights get no gradient in this phase.

Data batches arrive as floats in [0, 1]; the task maps them to [-1, 1] (G ends in tanh). Conditional
models (`model.n_classes > 0`) see the batch labels: D(x, y) on real pairs, G(z, y) for the fakes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from deepfake_lab.data.datasets import Batch, ImageDataset
from deepfake_lab.errors import BadInputError
from deepfake_lab.losses.adversarial import (
    D_LOSSES,
    G_LOSSES,
    default_d_loss,
    discriminator_loss,
    generator_loss,
)
from deepfake_lab.train.tasks.base import Phase, Task, register_task

PREVIEW_PER_CLASS = 8
PREVIEW_COUNT = 64


def to_signed(x: Tensor) -> Tensor:
    """[0, 1] -> [-1, 1]."""
    return x * 2 - 1


def to_unit(x: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1] (clamped, float32)."""
    return ((x.float() + 1) / 2).clamp(0, 1)


@register_task("gan", family="gan")
class GANTask(Task):
    """Alternating D/G training of a `GAN` (unconditional or class-conditional).

    Args:
        model: a `deepfake_lab.models.gans.GAN`.
        g_loss: "minimax" (saturating log(1 - D(G(z)))), "non-saturating" (-log D(G(z))), "ls" or "hinge".
        d_loss: "bce", "ls" or "hinge"; default: the one matching g_loss ("bce" for minimax/non-saturating).
        g_lr: generator learning rate (None: `optim.lr`).
        d_lr: discriminator learning rate (None: `optim.lr`).
        betas: Adam betas for both optimizers (None: `optim.betas`).
    """

    main_net = "model"

    def __init__(
        self,
        model: nn.Module,
        *,
        g_loss: str = "non-saturating",
        d_loss: str | None = None,
        g_lr: float | None = None,
        d_lr: float | None = None,
        betas: list[float] | None = None,
    ) -> None:
        if not (hasattr(model, "generator") and hasattr(model, "discriminator")):
            raise BadInputError("the gan task needs a GAN model (generator + discriminator)")
        if g_loss not in G_LOSSES:
            raise BadInputError(f"g_loss must be one of {', '.join(G_LOSSES)}, got {g_loss!r}")
        d_loss = d_loss or default_d_loss(g_loss)
        if d_loss not in D_LOSSES:
            raise BadInputError(f"d_loss must be one of {', '.join(D_LOSSES)}, got {d_loss!r}")
        for name, lr in (("g_lr", g_lr), ("d_lr", d_lr)):
            if lr is not None and not 0 < lr <= 10:
                raise BadInputError(f"{name} must be in (0, 10], got {lr}")
        if betas is not None and (len(betas) != 2 or not all(0 <= b < 1 for b in betas)):
            raise BadInputError(f"betas must be two numbers in [0, 1), got {betas}")
        self.model = model
        self.nets = {"model": model}
        self.g_loss_kind, self.d_loss_kind = g_loss, d_loss
        self.g_lr, self.d_lr = g_lr, d_lr
        self.betas = None if betas is None else [float(b) for b in betas]
        self.conditional = int(getattr(model, "n_classes", 0)) > 0
        self._pending_fake: tuple[Batch, Tensor] | None = None

    # ------------------------------------------------------------------ optimizers
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {
            "discriminator": list(self.model.discriminator.parameters()),
            "generator": list(self.model.generator.parameters()),
        }

    def optimizer_settings(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {"discriminator": {}, "generator": {}}
        if self.d_lr is not None:
            out["discriminator"]["lr"] = self.d_lr
        if self.g_lr is not None:
            out["generator"]["lr"] = self.g_lr
        if self.betas is not None:
            for v in out.values():
                v["betas"] = self.betas
        return out

    def setup(self, data: ImageDataset) -> None:
        if self.conditional and data.labels is None:
            raise BadInputError(f"a conditional GAN needs labelled data; dataset {data.name!r} has no labels")

    def phases(self, step: int) -> list[Phase]:
        return [Phase("d", "discriminator", self.d_step_loss), Phase("g", "generator", self.g_step_loss)]

    # ------------------------------------------------------------------ losses
    def _labels(self, batch: Batch) -> Tensor | None:
        return batch.y if self.conditional else None

    def _z(self, batch: Batch) -> Tensor:
        return torch.randn(batch.x.shape[0], self.model.latent_dim, device=batch.x.device)

    def _d_logits(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """D's logits on the real batch and on detached fakes of the same size.

        The fakes are generated with G's graph recorded and kept for the G phase of the same step (as in the
        DCGAN reference implementations): one G forward per step instead of two (measured +14 % it/s on
        DCGAN-32, 1 thread).
        """
        y = self._labels(batch)
        fake = self.model.generate(self._z(batch), y)
        self._pending_fake = (batch, fake)
        return self.model.discriminate(to_signed(batch.x), y), self.model.discriminate(fake.detach(), y)

    def _fake_for_g(self, batch: Batch, y: Tensor | None) -> Tensor:
        """The fakes the D phase made from this batch (graph kept), or fresh ones when there were none."""
        pending, self._pending_fake = self._pending_fake, None
        if pending is not None and pending[0] is batch:
            return pending[1]
        return self.model.generate(self._z(batch), y)

    def d_step_loss(self, batch: Batch) -> dict[str, Tensor]:
        """D phase: BCE (or ls/hinge) on real images vs detached fakes."""
        real_logits, fake_logits = self._d_logits(batch)
        loss = discriminator_loss(real_logits, fake_logits, self.d_loss_kind)
        return {
            "loss": loss,
            "d_real": torch.sigmoid(real_logits.detach().float()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),
        }

    def g_step_loss(self, batch: Batch) -> dict[str, Tensor]:
        """G phase: the generator objective through a D whose weights take no gradient."""
        y = self._labels(batch)
        d_params = list(self.model.discriminator.parameters())
        flags = [p.requires_grad for p in d_params]
        for p in d_params:  # the graph is recorded now: D's weights stay out of it
            p.requires_grad_(False)
        try:
            fake_logits = self.model.discriminate(self._fake_for_g(batch, y), y)
        finally:
            for p, f in zip(d_params, flags, strict=False):
                p.requires_grad_(f)
        loss = generator_loss(fake_logits, self.g_loss_kind)
        return {"loss": loss, "d_g_z": torch.sigmoid(fake_logits.detach().float()).mean()}

    # ------------------------------------------------------------------ previews, eval
    def _preview_labels(self, device: torch.device) -> Tensor | None:
        if not self.conditional:
            return None
        return torch.arange(self.model.n_classes, device=device).repeat_interleave(PREVIEW_PER_CLASS)

    @torch.no_grad()
    def samples(self, batch: Batch) -> dict[str, Tensor]:
        """64 samples from fixed z (the trainer seeds previews); conditional: one row of 8 per class."""
        device = batch.x.device
        y = self._preview_labels(device)
        n = PREVIEW_COUNT if y is None else len(y)
        z = torch.randn(n, self.model.latent_dim, generator=torch.Generator().manual_seed(0)).to(device)
        return {"samples": to_unit(self.model.generate(z, y))}

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        """D's mean belief on held-out real images and on as many fakes (in eval mode)."""
        y = self._labels(batch)
        z = torch.randn(batch.x.shape[0], self.model.latent_dim, device=batch.x.device)
        fake = self.model.generate(z, y)
        d_real = torch.sigmoid(self.model.discriminate(to_signed(batch.x), y).float()).mean()
        d_fake = torch.sigmoid(self.model.discriminate(fake, y).float()).mean()
        return {"eval_d_real": float(d_real), "eval_d_fake": float(d_fake)}


def progan_schedule(step: int, stage_steps: int, n_stages: int, fade_fraction: float = 0.5) -> tuple[int, float]:
    """(stage, α) at a training step: each stage lasts `stage_steps`; stages ≥ 1 fade in over the first
    `fade_fraction` of theirs (α: 0 -> 1), then train stable (α = 1); the last stage runs to the end."""
    stage = min(step // stage_steps, n_stages - 1)
    if stage == 0:
        return 0, 1.0
    fade = max(1, int(stage_steps * fade_fraction))
    return stage, min(1.0, (step - stage * stage_steps) / fade)


@register_task("progan", family="gan")
class ProGANTask(GANTask):
    """The adversarial task with progressive growing: the step sets the nets' (stage, α) before each step.

    Args:
        model: a `ProGAN`.
        stage_steps: training steps per resolution stage (4×4, 8×8, ...).
        fade_fraction: fraction of a new stage's steps spent fading it in.
        drift: ε of the paper's drift penalty ε·E[D(x)²] on real logits (keeps D's output near 0).
        g_loss, d_loss, g_lr, d_lr, betas: as the gan task.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        stage_steps: int = 600,
        fade_fraction: float = 0.5,
        drift: float = 1e-3,
        g_loss: str = "non-saturating",
        d_loss: str | None = None,
        g_lr: float | None = None,
        d_lr: float | None = None,
        betas: list[float] | None = None,
    ) -> None:
        if not hasattr(model, "set_progress"):
            raise BadInputError("the progan task needs a progressive GAN (progan-32)")
        if stage_steps < 1 or not 0 <= fade_fraction <= 1 or drift < 0:
            raise BadInputError("stage_steps must be >= 1, fade_fraction in [0, 1] and drift >= 0")
        super().__init__(model, g_loss=g_loss, d_loss=d_loss, g_lr=g_lr, d_lr=d_lr, betas=betas)
        self.stage_steps, self.fade_fraction, self.drift = int(stage_steps), float(fade_fraction), float(drift)

    def phases(self, step: int) -> list[Phase]:
        stage, alpha = progan_schedule(step, self.stage_steps, self.model.n_stages, self.fade_fraction)
        self.model.set_progress(stage, alpha)
        return super().phases(step)

    def d_step_loss(self, batch: Batch) -> dict[str, Tensor]:
        """The gan task's D loss + ε·E[D(x)²]; logs the current resolution and α."""
        real_logits, fake_logits = self._d_logits(batch)
        loss = discriminator_loss(real_logits, fake_logits, self.d_loss_kind)
        return {
            "loss": loss + self.drift * real_logits.float().pow(2).mean(),
            "d_real": torch.sigmoid(real_logits.detach().float()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),
            "resolution": torch.tensor(float(self.model.resolution)),
            "alpha": self.model.generator.alpha.detach().float().clone(),
        }
