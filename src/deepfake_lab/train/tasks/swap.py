"""The face-swap task: one optimizer over the shared encoder and both decoders.

Each step reconstructs an augmented batch of A (the trainer's dataset, a faceset) with decoder A and a batch
of B (the faceset `faces_b`, held by the task and drawn with its own generator) with decoder B. The loss is
taken on the face region: mask-weighted L1 / MSE plus DSSIM on the masked images (weights configurable),
where the weight outside the landmark face mask is `background_weight`. Facesets loaded with their eyes +
mouth mask (5 channels, `load_faceset(parts=True)`) add `parts_weight` to the pixel weight there. Models with a
learned mask channel train it against the landmark face hull (L1 or BCE, `mask_loss`).

With `gan_weight` > 0 a small PatchGAN discriminator (shared by both identities, its own optimizer) learns to
tell the training faces from their reconstructions pasted into them through the landmark mask, and the decoders
get its non-saturating loss on top: the L1 / DSSIM losses alone average away the texture a reconstruction
cannot predict exactly, which is what makes autoencoder swaps soft (DeepFaceLab's "GAN power"). Only the
swap model is exported; the discriminator lives in the training state.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepfake_lab.data.datasets import Batch, Faceset, ImageDataset, load_faceset
from deepfake_lab.data.faceset import DEFAULT_HOLDOUT
from deepfake_lab.data.splits import load_test_split
from deepfake_lab.data.swap_augment import SwapAugment, augment_swap_batch
from deepfake_lab.errors import BadInputError
from deepfake_lab.losses.adversarial import discriminator_loss, generator_loss
from deepfake_lab.losses.ssim import dssim, ssim
from deepfake_lab.models.gans.pix2pix import PatchDiscriminator
from deepfake_lab.train.tasks.base import Phase, Task, register_task
from deepfake_lab.train.tasks.gan_image import frozen


def masked_losses(
    pred: Tensor,
    target: Tensor,
    mask: Tensor,
    background_weight: float,
    parts: Tensor | None = None,
    parts_weight: float = 0.0,
) -> dict[str, Tensor]:
    """L1, MSE and DSSIM of pred vs target weighted by w = mask + background_weight · (1 - mask) (+ parts_weight ·
    parts: extra weight on eyes and mouth).

    Args:
        pred: [B, 3, S, S]; target: [B, 3, S, S]; mask: [B, 1, S, S] in [0, 1].
        parts: [B, 1, S, S] eyes + mouth mask in [0, 1], or None.

    Returns:
        {"l1", "mse", "dssim"} scalars (float32). L1 and MSE are normalised by the mean weight, so the extra
        weight on the parts shifts emphasis without scaling the loss; DSSIM is taken on the masked images,
        plus (with parts) DSSIM of the parts region alone times `parts_weight`.
    """
    pred, target, mask = pred.float(), target.float(), mask.float()
    w = mask + background_weight * (1 - mask)
    if parts is not None and parts_weight > 0:
        w = w + parts_weight * parts.float()
    denom = w.sum() * pred.shape[1] + 1e-6
    m = mask + background_weight * (1 - mask)
    out = {
        "l1": (w * (pred - target).abs()).sum() / denom,
        "mse": (w * (pred - target) ** 2).sum() / denom,
        "dssim": dssim(pred * m, target * m),
    }
    if parts is not None and parts_weight > 0:
        p = parts.float()
        out["dssim"] = out["dssim"] + parts_weight * dssim(pred * p, target * p)
    return out


@register_task("swap", family="swap")
class SwapTask(Task):
    """Shared-encoder face swap training on facesets A (trainer data) and B (`faces_b`).

    Args:
        model: a `SwapAutoencoder` (swap-original, swap-lite).
        faces_b: faceset folder of identity B (from `deepfake-lab extract`).
        l1_weight: weight of the masked L1 term.
        mse_weight: weight of the masked MSE term.
        dssim_weight: weight of DSSIM on the masked images.
        mask_weight: weight of the loss of a learned mask channel against the landmark mask.
        mask_loss: "l1" or "bce" (binary cross-entropy) for the learned mask channel.
        parts_weight: extra pixel weight on eyes and mouth (needs a 5-channel faceset, data.channels=5).
        background_weight: loss weight of pixels outside the face mask (0: face only).
        rotation, zoom, shift, flip, warp, colour: augmentation strengths (see `SwapAugment`).
        holdout: held-out fraction per source (must match how A is split; see `data.faceset`).
        seed: seed of the task's generator (B batches and augmentation).
        gan_weight: weight of the PatchGAN loss on the reconstructions (0: no discriminator).
        gan_start: the step from which the discriminator trains and its loss counts (after a warm-up).
        d_width, d_layers: first-stage channels and stride-2 stages of the PatchGAN (3 layers: 70 px patches).
        d_lr: the discriminator's Adam learning rate (betas 0.5, 0.999).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        faces_b: str | None = None,
        l1_weight: float = 1.0,
        mse_weight: float = 0.0,
        dssim_weight: float = 1.0,
        mask_weight: float = 1.0,
        mask_loss: str = "l1",
        parts_weight: float = 0.0,
        background_weight: float = 0.05,
        rotation: float = 10.0,
        zoom: float = 0.05,
        shift: float = 0.05,
        flip: float = 0.5,
        warp: float = 1.0,
        colour: float = 0.1,
        holdout: float = DEFAULT_HOLDOUT,
        seed: int = 0,
        gan_weight: float = 0.0,
        gan_start: int = 0,
        d_width: int = 16,
        d_layers: int = 3,
        d_lr: float = 2e-4,
    ) -> None:
        if not faces_b:
            raise BadInputError("the swap task needs the faceset of identity B: --faces-b FOLDER")
        for k, v in {"l1_weight": l1_weight, "mse_weight": mse_weight, "dssim_weight": dssim_weight}.items():
            if v < 0:
                raise BadInputError(f"{k} must be >= 0, got {v}")
        if not hasattr(model, "decoders") or not hasattr(model, "encode"):
            raise BadInputError("the swap task needs a swap model (swap-lite, swap-original)")
        if gan_weight < 0 or gan_start < 0 or not 0 < d_lr <= 1:
            raise BadInputError(f"gan_weight and gan_start must be >= 0 and d_lr in (0, 1], got {gan_weight}, "
                                f"{gan_start}, {d_lr}")  # fmt: skip
        self.nets = {"model": model}
        self.model = model
        self.w_gan, self.gan_start, self.d_lr = float(gan_weight), int(gan_start), float(d_lr)
        if self.w_gan > 0:
            self.nets["disc"] = PatchDiscriminator(cond_channels=0, width=int(d_width), n_layers=int(d_layers))
        self._pending: tuple[Batch, dict[str, Tensor]] | None = None
        self.faces_b = str(faces_b)
        self.w_l1, self.w_mse, self.w_dssim, self.w_mask = l1_weight, mse_weight, dssim_weight, mask_weight
        self.bg = float(background_weight)
        if mask_loss not in ("l1", "bce"):
            raise BadInputError(f"mask_loss must be l1 or bce, got {mask_loss!r}")
        if parts_weight < 0:
            raise BadInputError(f"parts_weight must be >= 0, got {parts_weight}")
        self.mask_loss, self.w_parts = mask_loss, float(parts_weight)
        self.aug = SwapAugment(rotation=rotation, zoom=zoom, shift=shift, flip=flip, warp=warp, colour=colour)
        self.holdout = float(holdout)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.data_b: Faceset | None = None
        self.eval_b: Faceset | None = None

    @classmethod
    def check_data(cls, data: ImageDataset) -> None:
        if not isinstance(data, Faceset):
            raise BadInputError(
                f"the swap task trains on facesets: data {data.name!r} is not a faceset "
                "(give --faces-a FOLDER from `deepfake-lab extract`)"
            )

    def setup(self, data: ImageDataset) -> None:
        size = int(self.model.image_size)
        if data.shape[1:] != (size, size) or data.shape[0] not in (4, 5) or not isinstance(data, Faceset):
            raise BadInputError(
                f"the swap task trains on facesets: data {data.name!r} is not a faceset of {size} px faces "
                "(give --faces-a FOLDER from `deepfake-lab extract`)"
            )
        if self.data_b is None:
            parts = data.shape[0] == 5  # B like A: with the eyes + mouth channel when A has it
            self.data_b = load_faceset(self.faces_b, "train", image_size=size, holdout=self.holdout, parts=parts)
            self.eval_b = load_test_split(
                load_faceset, self.faces_b, fallback=self.data_b, image_size=size, holdout=self.holdout, parts=parts
            )
        margin = float(getattr(self.model, "crop_margin", data.margin))
        for fs in (data, self.data_b):
            if abs(fs.margin - margin) > 1e-6:
                raise BadInputError(
                    f"faceset {fs.name} was extracted with --margin {fs.margin}, the model expects {margin} "
                    f"(set model_kwargs.crop_margin or re-extract)"
                )

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        groups = {"main": list(self.model.parameters())}
        if "disc" in self.nets:
            groups["disc"] = list(self.nets["disc"].parameters())
        return groups

    def optimizer_settings(self) -> dict[str, dict[str, Any]]:
        return {"disc": {"lr": self.d_lr, "betas": [0.5, 0.999]}} if "disc" in self.nets else {}

    def phases(self, step: int) -> list[Phase]:
        if "disc" in self.nets and step >= self.gan_start:
            return [Phase("disc", "disc", self._d_loss), Phase("swap", "main", self._loss)]
        return [Phase("swap", "main", self._loss)]

    def _batch_b(self, n: int, device: torch.device) -> Tensor:
        assert self.data_b is not None, "setup() was not called"
        idx = torch.randint(0, len(self.data_b), (min(n, len(self.data_b)),), generator=self.generator)
        return self.data_b.batch(idx).x.to(device)

    def _side_loss(self, out: Tensor, target: Tensor, masks: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """masks: [B, 1 or 2, S, S]: face hull (+ eyes and mouth)."""
        mask = masks[:, :1]
        regions = masks[:, 1:2] if masks.shape[1] > 1 else None
        parts = masked_losses(out[:, :3], target, mask, self.bg, regions, self.w_parts)
        loss = self.w_l1 * parts["l1"] + self.w_mse * parts["mse"] + self.w_dssim * parts["dssim"]
        if out.shape[1] == 4:
            pred_m, tgt_m = out[:, 3:4].float(), mask.float()
            if self.mask_loss == "bce":
                with torch.autocast(out.device.type, enabled=False):
                    parts["mask_bce"] = F.binary_cross_entropy(pred_m.clamp(1e-5, 1 - 1e-5), tgt_m.clamp(0, 1))
                loss = loss + self.w_mask * parts["mask_bce"]
            else:
                parts["mask_l1"] = F.l1_loss(pred_m, tgt_m)
                loss = loss + self.w_mask * parts["mask_l1"]
        return loss, parts

    def _forward(self, batch: Batch) -> dict[str, Tensor]:
        """Augment a batch of A and one of B, reconstruct each with its own decoder."""
        xa = batch.x
        xb = self._batch_b(xa.shape[0], xa.device)
        in_a, tgt_a, m_a = augment_swap_batch(xa, self.generator, self.aug)
        in_b, tgt_b, m_b = augment_swap_batch(xb, self.generator, self.aug)
        inp = torch.cat([in_a, in_b])
        if xa.dim() == 4 and xa.is_contiguous(memory_format=torch.channels_last):
            inp = inp.contiguous(memory_format=torch.channels_last)  # the trainer's layout for conv models
        h = self.model.encode(inp)
        out_a = self.model.decode(h[: len(in_a)], "a")
        out_b = self.model.decode(h[len(in_a) :], "b")
        return {"out_a": out_a, "out_b": out_b, "tgt_a": tgt_a, "tgt_b": tgt_b, "m_a": m_a, "m_b": m_b}

    def _judged(self, f: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """(real, fake) [2B, 3, S, S]: the targets, and the reconstructions pasted into them through the
        landmark face mask, so the discriminator judges the face, not the background the losses neglect."""
        real = torch.cat([f["tgt_a"], f["tgt_b"]]).float()
        mask = torch.cat([f["m_a"][:, :1], f["m_b"][:, :1]]).float()
        out = torch.cat([f["out_a"][:, :3], f["out_b"][:, :3]]).float()
        return real, out * mask + real * (1 - mask)

    def _d_loss(self, batch: Batch) -> dict[str, Tensor]:
        """Discriminator phase: real faces → 1, reconstructions → 0 (non-saturating logistic loss on patches).
        The reconstruction's graph is kept for the swap phase of the same step (one forward per step)."""
        f = self._forward(batch)
        real, fake = self._judged(f)
        f["judged"] = fake  # with its graph: the swap phase's adversarial term starts from it
        self._pending = (batch, f)
        logits = self.nets["disc"](torch.cat([real, fake.detach()]))
        lr, lf = logits[: len(real)], logits[len(real) :]
        d = discriminator_loss(lr, lf, "bce")
        return {"loss": d, "d_real": torch.sigmoid(lr).mean().detach(), "d_fake": torch.sigmoid(lf).mean().detach()}

    def _loss(self, batch: Batch) -> dict[str, Tensor]:
        pending, self._pending = self._pending, None
        f = pending[1] if pending is not None and pending[0] is batch else self._forward(batch)
        loss_a, pa = self._side_loss(f["out_a"], f["tgt_a"], f["m_a"])
        loss_b, pb = self._side_loss(f["out_b"], f["tgt_b"], f["m_b"])
        logs = {f"{k}_a": v.detach() for k, v in pa.items()} | {f"{k}_b": v.detach() for k, v in pb.items()}
        loss = loss_a + loss_b
        if "disc" in self.nets and pending is not None:
            judged = f["judged"] if "judged" in f else self._judged(f)[1]
            with frozen(self.nets["disc"]):  # its own phase has stepped already: no gradients for it here
                g = generator_loss(self.nets["disc"](judged), "non-saturating")
            loss = loss + self.w_gan * g
            logs["gan_g"] = g.detach()
        return {"loss": loss, "loss_a": loss_a.detach(), "loss_b": loss_b.detach(), **logs}

    def _eval_b_batch(self, n: int, device: torch.device) -> Tensor:
        assert self.eval_b is not None, "setup() was not called"
        k = min(n, len(self.eval_b))
        idx = torch.linspace(0, len(self.eval_b) - 1, k).round().long()
        return self.eval_b.batch(idx).x.to(device)

    def samples(self, batch: Batch) -> dict[str, Tensor]:
        """Preview rows: A, A→A, A→B (grid "a") and B, B→B, B→A (grid "b"), 8 held-out faces each."""
        xa = batch.x[:8, :3]
        xb = self._eval_b_batch(8, batch.x.device)[:, :3]
        m = self.model
        return {
            "a_recon_swap": torch.cat([xa, m(xa, "a").float(), m(xa, "b").float()]).clamp(0, 1),
            "b_recon_swap": torch.cat([xb, m(xb, "b").float(), m(xb, "a").float()]).clamp(0, 1),
        }

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        """Held-out reconstruction: masked SSIM and L1 of A→A and B→B."""
        out: dict[str, float] = {}
        xb = self._eval_b_batch(len(batch.x), batch.x.device)
        for side, x in (("a", batch.x), ("b", xb)):
            rgb, mask = x[:, :3].float(), x[:, 3:4].float()
            rec = self.model(rgb, side).float()
            out[f"eval_ssim_{side}{side}"] = float(ssim(rec * mask, rgb * mask))
            out[f"eval_l1_{side}{side}"] = float(((rec - rgb).abs() * mask).sum() / (mask.sum() * 3 + 1e-6))
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
