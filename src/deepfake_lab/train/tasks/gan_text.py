"""The GAN-CLS task (Reed et al. 2016): matching-aware discriminator and GAN-INT, captions from class labels.

With s_r = D(x, φ(t)) (real image, right text), s_w = D(x, φ(t̂)) (real image, wrong text) and
s_f = D(G(z, φ(t)), φ(t)) (fake image, right text), on logits:
    D:  softplus(-s_r) + ½·[softplus(s_w) + softplus(s_f)]
    G:  softplus(-s_f) + softplus(-D(G(z', φ_int), φ_int))      φ_int = β·φ(t1) + (1-β)·φ(t2)  (GAN-INT)
Each image's caption is drawn from its class's templates; the wrong caption from another class.
Embeddings of all captions are computed once in `setup` (deterministic), so resume stays exact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepfake_lab.data.datasets import Batch, ImageDataset
from deepfake_lab.errors import BadInputError
from deepfake_lab.models.gans.text2image import ENCODERS, TEMPLATES, class_captions, encode_texts
from deepfake_lab.train.tasks.base import register_task
from deepfake_lab.train.tasks.gan import to_signed, to_unit
from deepfake_lab.train.tasks.gan_image import TwoPlayerTask, _settings, frozen

PREVIEW_PER_CLASS = 8


@register_task("gan-cls", family="gan")
class GANCLSTask(TwoPlayerTask):
    """Text-conditional adversarial training on a labelled dataset.

    Args:
        model: a `TextGAN` (gan-cls-32).
        encoder: "minilm" (extra [text]) or "bow".
        n_templates: caption templates per class (1..8).
        interp_weight: weight of the GAN-INT term (0 disables).
        beta: β of the interpolation (the paper: 0.5).
        g_lr, d_lr, betas: optimizer overrides.
    """

    main_net = "model"

    def __init__(
        self,
        model: nn.Module,
        *,
        encoder: str = "minilm",
        n_templates: int = len(TEMPLATES),
        interp_weight: float = 1.0,
        beta: float = 0.5,
        g_lr: float | None = None,
        d_lr: float | None = None,
        betas: list[float] | None = None,
    ) -> None:
        if not hasattr(model, "text_dim"):
            raise BadInputError("the gan-cls task needs a text-to-image GAN (gan-cls-32)")
        if encoder not in ENCODERS:
            raise BadInputError(f"encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")
        if interp_weight < 0 or not 0 <= beta <= 1:
            raise BadInputError("interp_weight must be >= 0 and beta in [0, 1]")
        self.model = model
        self.nets = {"model": model}
        self.encoder = encoder
        self.n_templates = int(n_templates)
        self.interp_weight, self.beta = float(interp_weight), float(beta)
        self._settings = _settings(g_lr, d_lr, betas)
        self.captions: list[list[str]] = []
        self.table: Tensor | None = None  # [K, T, text_dim]

    @classmethod
    def check_data(cls, data: ImageDataset) -> None:
        if data.labels is None or not data.classes or len(data.classes) < 2:
            raise BadInputError(f"gan-cls builds captions from class labels; dataset {data.name!r} has none")

    def setup(self, data: ImageDataset) -> None:
        self.check_data(data)
        assert data.classes is not None
        self.captions = class_captions(data.classes, self.n_templates)
        flat = [c for row in self.captions for c in row]
        emb = encode_texts(flat, self.encoder)
        self.table = emb.view(len(self.captions), self.n_templates, -1)


    # ------------------------------------------------------------------ texts
    def texts_for(self, labels: Tensor) -> Tensor:
        """Embedding of a random caption of each label's class: [B, text_dim]."""
        assert self.table is not None, "setup() runs before training"
        k, t, _ = self.table.shape
        pick = torch.randint(0, t, (len(labels),))
        return self.table[labels.cpu(), pick].to(labels.device)

    def wrong_texts_for(self, labels: Tensor) -> Tensor:
        """Embedding of a caption of a different class for each label: [B, text_dim]."""
        assert self.table is not None
        k = self.table.shape[0]
        other = (labels.cpu() + torch.randint(1, k, (len(labels),))) % k
        return self.texts_for(other.to(labels.device))

    def _z(self, n: int, device: torch.device) -> Tensor:
        return torch.randn(n, self.model.latent_dim, device=device)

    # ------------------------------------------------------------------ losses
    def d_step_loss(self, batch: Batch) -> dict[str, Tensor]:
        assert batch.y is not None
        x, y = to_signed(batch.x), batch.y
        right, wrong = self.texts_for(y), self.wrong_texts_for(y)
        with torch.no_grad():
            fake = self.model.generate(self._z(len(y), x.device), right)
        s_r = self.model.discriminate(x, right).float()
        s_w = self.model.discriminate(x, wrong).float()
        s_f = self.model.discriminate(fake, right).float()
        loss = F.softplus(-s_r).mean() + 0.5 * (F.softplus(s_w).mean() + F.softplus(s_f).mean())
        return {
            "loss": loss,
            "d_real_right": torch.sigmoid(s_r.detach()).mean(),
            "d_real_wrong": torch.sigmoid(s_w.detach()).mean(),
            "d_fake": torch.sigmoid(s_f.detach()).mean(),
        }

    def g_step_loss(self, batch: Batch) -> dict[str, Tensor]:
        assert batch.y is not None
        y = batch.y
        right = self.texts_for(y)
        fake = self.model.generate(self._z(len(y), y.device), right)
        with frozen(self.model.discriminator):
            s_f = self.model.discriminate(fake, right).float()
            loss = F.softplus(-s_f).mean()
            out = {"d_g_z": torch.sigmoid(s_f.detach()).mean()}
            if self.interp_weight:
                mixed = self.beta * right + (1 - self.beta) * right[torch.randperm(len(y), device=y.device)]
                s_i = self.model.discriminate(self.model.generate(self._z(len(y), y.device), mixed), mixed).float()
                interp = F.softplus(-s_i).mean()
                loss = loss + self.interp_weight * interp
                out["interp"] = interp.detach()
        return {"loss": loss, **out}

    # ------------------------------------------------------------------ previews, eval
    @torch.no_grad()
    def samples(self, batch: Batch) -> dict[str, Tensor]:
        """One row of 8 per class, from the class's first caption and fixed z."""
        assert self.table is not None
        device = batch.x.device
        k = self.table.shape[0]
        text = self.table[:, 0].repeat_interleave(PREVIEW_PER_CLASS, 0).to(device)
        z = torch.randn(len(text), self.model.latent_dim, generator=torch.Generator().manual_seed(0)).to(device)
        return {"samples": to_unit(self.model.generate(z, text))[: k * PREVIEW_PER_CLASS]}

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        """D's mean belief on held-out (real, right text) and (real, wrong text) pairs."""
        assert batch.y is not None
        x = to_signed(batch.x)
        s_r = torch.sigmoid(self.model.discriminate(x, self.texts_for(batch.y)).float()).mean()
        s_w = torch.sigmoid(self.model.discriminate(x, self.wrong_texts_for(batch.y)).float()).mean()
        return {"eval_d_right_text": float(s_r), "eval_d_wrong_text": float(s_w)}
