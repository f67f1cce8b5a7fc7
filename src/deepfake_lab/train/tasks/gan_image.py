"""Image-to-image adversarial tasks: pix2pix (paired) and CycleGAN (unpaired), each with a D and a G phase.

pix2pix (Isola et al. 2017), on a paired folder (`deepfake_lab.data.paired`, source channels first):
    D:  ½·[BCE(D(s, x), 1) + BCE(D(s, G(s)), 0)]            (patch logits, G(s) detached)
    G:  BCE(D(s, G(s)), 1) + λ·‖G(s) - x‖₁                   (non-saturating; λ = 100 in the paper)

CycleGAN (Zhu et al. 2017), domain A = the trainer's data, domain B = `data_b`, least-squares GAN losses:
    D:  ½·Σ_{X∈{A,B}} [(D_X(x) - 1)² + D_X(pool(x̂))²]         (x̂ from a 50-image pool of past fakes)
    G:  (D_B(G_AB(a)) - 1)² + (D_A(G_BA(b)) - 1)² + λ_cyc·(‖G_BA(G_AB(a)) - a‖₁ + ‖G_AB(G_BA(b)) - b‖₁)
        + λ_id·(‖G_BA(a) - a‖₁ + ‖G_AB(b) - b‖₁)
The pool, B's sampler and the task's random generator are in the task state, so resume is exact.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn

from deepfake_lab.data.datasets import Batch, BatchSampler, ImageDataset
from deepfake_lab.data.splits import load_test_split
from deepfake_lab.errors import BadInputError
from deepfake_lab.losses.adversarial import discriminator_loss, generator_loss
from deepfake_lab.train.tasks.base import Phase, Task, register_task
from deepfake_lab.train.tasks.gan import to_signed, to_unit

PREVIEW_ITEMS = 8


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Record a graph in which the modules' weights take no gradient (a G phase through D)."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(params, flags, strict=True):
            p.requires_grad_(f)


def _check_lr(**lrs: float | None) -> None:
    for name, lr in lrs.items():
        if lr is not None and not 0 < lr <= 10:
            raise BadInputError(f"{name} must be in (0, 10], got {lr}")


def _settings(g_lr: float | None, d_lr: float | None, betas: list[float] | None) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {"discriminator": {}, "generator": {}}
    if d_lr is not None:
        out["discriminator"]["lr"] = d_lr
    if g_lr is not None:
        out["generator"]["lr"] = g_lr
    if betas is not None:
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise BadInputError(f"betas must be two numbers in [0, 1), got {betas}")
        for v in out.values():
            v["betas"] = [float(b) for b in betas]
    return out


def _grey_to_rgb(x: Tensor) -> Tensor:
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


class TwoPlayerTask(Task):
    """A D phase then a G phase each step, one optimizer per net (`model.discriminator`, `model.generator`)
    with the learning rates in `self._settings`; subclasses define `d_step_loss` and `g_step_loss`."""

    model: nn.Module
    _settings: dict[str, dict[str, Any]]

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {
            "discriminator": list(self.model.discriminator.parameters()),
            "generator": list(self.model.generator.parameters()),
        }

    def optimizer_settings(self) -> dict[str, dict[str, Any]]:
        return self._settings

    def phases(self, step: int) -> list[Phase]:
        return [Phase("d", "discriminator", self.d_step_loss), Phase("g", "generator", self.g_step_loss)]

    def d_step_loss(self, batch: Batch) -> dict[str, Tensor]:
        raise NotImplementedError

    def g_step_loss(self, batch: Batch) -> dict[str, Tensor]:
        raise NotImplementedError


@register_task("pix2pix", family="gan")
class Pix2PixTask(TwoPlayerTask):
    """Paired translation with a conditional PatchGAN and an L1 term.

    Args:
        model: a `Pix2Pix` (model "pix2pix").
        l1_weight: λ of λ·‖G(s) - x‖₁ (the paper: 100).
        g_lr, d_lr: per-network learning rates (None: `optim.lr`).
        betas: Adam betas for both (None: `optim.betas`).
    """

    main_net = "model"

    def __init__(
        self,
        model: nn.Module,
        *,
        l1_weight: float = 100.0,
        g_lr: float | None = None,
        d_lr: float | None = None,
        betas: list[float] | None = None,
    ) -> None:
        if not hasattr(model, "translate") or not hasattr(model, "source_channels"):
            raise BadInputError("the pix2pix task needs a pix2pix model")
        if l1_weight < 0:
            raise BadInputError(f"l1_weight must be >= 0, got {l1_weight}")
        _check_lr(g_lr=g_lr, d_lr=d_lr)
        self.model = model
        self.nets = {"model": model}
        self.l1_weight = float(l1_weight)
        self._settings = _settings(g_lr, d_lr, betas)

    @classmethod
    def check_data(cls, data: ImageDataset) -> None:
        if not hasattr(data, "source_channels"):
            raise BadInputError(
                f"pix2pix trains on paired data: {data.name!r} is not a paired folder "
                "(make one with `deepfake-lab pairs FACESET -o PAIRS --kind edges|mesh|gray`)"
            )

    def setup(self, data: ImageDataset) -> None:
        cs = int(getattr(data, "source_channels", -1))
        if cs != self.model.source_channels:
            raise BadInputError(f"the data has {cs} source channels, the model {self.model.source_channels}")


    def _split(self, batch: Batch) -> tuple[Tensor, Tensor]:
        cs = self.model.source_channels
        x = to_signed(batch.x)
        return x[:, :cs], x[:, cs:]

    def d_step_loss(self, batch: Batch) -> dict[str, Tensor]:
        s, x = self._split(batch)
        with torch.no_grad():
            fake = self.model.translate(s)
        real_logits, fake_logits = self.model.discriminate(s, x), self.model.discriminate(s, fake)
        loss = 0.5 * discriminator_loss(real_logits, fake_logits, "bce")
        return {
            "loss": loss,
            "d_real": torch.sigmoid(real_logits.detach().float()).mean(),
            "d_fake": torch.sigmoid(fake_logits.detach().float()).mean(),
        }

    def g_step_loss(self, batch: Batch) -> dict[str, Tensor]:
        s, x = self._split(batch)
        fake = self.model.translate(s)
        with frozen(self.model.discriminator):
            logits = self.model.discriminate(s, fake)
        adv = generator_loss(logits, "non-saturating")
        l1 = (fake.float() - x.float()).abs().mean()
        return {"loss": adv + self.l1_weight * l1, "adv": adv.detach(), "l1": l1.detach()}

    @torch.no_grad()
    def samples(self, batch: Batch) -> dict[str, Tensor]:
        """Rows: source | G(source) | target, for the first 8 held-out pairs."""
        s, x = self._split(Batch(batch.x[:PREVIEW_ITEMS]))
        return {
            "source": _grey_to_rgb(to_unit(s)),
            "generated": to_unit(self.model.translate(s)),
            "target": to_unit(x),
        }

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        """Held-out L1 (on [0, 1] images) and PSNR of G(s) against the target."""
        s, x = self._split(batch)
        out = to_unit(self.model.translate(s))
        ref = to_unit(x)
        mse = (out - ref).pow(2).flatten(1).mean(1).clamp_min(1e-10)
        return {"eval_l1": float((out - ref).abs().mean()), "eval_psnr": float((10 * torch.log10(1 / mse)).mean())}


class ImagePool:
    """Shrivastava et al.'s history of generated images (CycleGAN: 50): D sees past fakes too.

    Each new fake is stored while the pool fills; then, with probability ½, a stored one is returned in its
    place and the new one takes its slot. Decisions use the pool's own generator (part of its state).
    """

    def __init__(self, size: int = 50, seed: int = 0) -> None:
        self.size = int(size)
        self.images: Tensor | None = None  # [n, C, H, W] float32, detached
        self.count = 0
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, fake: Tensor) -> Tensor:
        """fake [B, C, H, W] -> the batch D should see [B, C, H, W]."""
        if self.size == 0:
            return fake.detach()
        fake = fake.detach()
        out = []
        for img in fake:
            img32 = img.float().contiguous().cpu()
            if self.images is None:
                self.images = torch.zeros(self.size, *img32.shape)
            if self.count < self.size:
                self.images[self.count] = img32
                self.count += 1
                out.append(img)
            elif float(torch.rand(1, generator=self.generator)) < 0.5:
                j = int(torch.randint(0, self.size, (1,), generator=self.generator))
                old = self.images[j].clone()
                self.images[j] = img32
                out.append(old.to(img.device, img.dtype))
            else:
                out.append(img)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        images = None if self.images is None else self.images.clone()
        return {"images": images, "count": self.count, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.images, self.count = state["images"], int(state["count"])
        self.generator.set_state(state["generator"])


@register_task("cyclegan", family="gan")
class CycleGANTask(Task):
    """Unpaired A <-> B: domain A is the trainer's data, domain B is `data_b`.

    Args:
        model: a `CycleGAN` (model "cyclegan").
        data_b: dataset of domain B: a faceset folder, an image folder or a built-in name.
        cycle_weight: λ_cyc (the paper: 10).
        identity_weight: λ_id as a fraction of λ_cyc (the paper: 0.5; 0 disables the identity loss).
        pool_size: size of each image pool (0: no pool).
        g_lr, d_lr, betas: optimizer overrides (None: `optim.*`).
        seed: seed of B's sampler and the pools.
    """

    main_net = "model"

    def __init__(
        self,
        model: nn.Module,
        *,
        data_b: str | None = None,
        cycle_weight: float = 10.0,
        identity_weight: float = 0.5,
        pool_size: int = 50,
        g_lr: float | None = None,
        d_lr: float | None = None,
        betas: list[float] | None = None,
        seed: int = 0,
    ) -> None:
        if not hasattr(model, "g_ab") or not hasattr(model, "d_b"):
            raise BadInputError("the cyclegan task needs a cyclegan model")
        if not data_b:
            raise BadInputError("CycleGAN needs domain B: --set task_kwargs.data_b=FOLDER_OR_DATASET")
        if cycle_weight < 0 or identity_weight < 0 or pool_size < 0:
            raise BadInputError("cycle_weight, identity_weight and pool_size must be >= 0")
        _check_lr(g_lr=g_lr, d_lr=d_lr)
        self.model = model
        self.nets = {"model": model}
        self.data_b_name = str(data_b)
        self.w_cyc, self.w_id = float(cycle_weight), float(identity_weight) * float(cycle_weight)
        self.pool_a, self.pool_b = ImagePool(pool_size, seed + 1), ImagePool(pool_size, seed + 2)
        self.seed = int(seed)
        self._settings = _settings(g_lr, d_lr, betas)
        self.data_b: ImageDataset | None = None
        self.eval_b: ImageDataset | None = None
        self.sampler_b: BatchSampler | None = None
        self._pending_sampler: dict[str, Any] | None = None
        self._fakes: tuple[Tensor, Tensor] | None = None

    @property
    def channels(self) -> int:
        return int(self.model.out_shape[0])

    def setup(self, data: ImageDataset) -> None:
        from deepfake_lab.data.paired import load_unpaired

        c, h, _ = self.model.out_shape
        if data.shape[1:] != (h, h) or data.shape[0] not in (c, 4 if c == 3 else c):
            raise BadInputError(f"domain A {data.name!r} is {list(data.shape)}; the model expects {c}x{h}x{h}")
        if self.data_b is None:
            self.data_b = load_unpaired(self.data_b_name, "train", image_size=h, channels=c)
            self.eval_b = load_test_split(
                load_unpaired, self.data_b_name, fallback=self.data_b, image_size=h, channels=c
            )
        if self.sampler_b is None:
            self.sampler_b = BatchSampler(len(self.data_b), 1, seed=self.seed)
            if self._pending_sampler is not None:
                self.sampler_b.load_state_dict(self._pending_sampler)
                self.sampler_b.batch_size = int(self._pending_sampler.get("batch_size", 1))

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {
            "discriminator": [p for d in self.model.discriminators for p in d.parameters()],
            "generator": [p for g in self.model.generators for p in g.parameters()],
        }

    def optimizer_settings(self) -> dict[str, dict[str, Any]]:
        return self._settings

    def phases(self, step: int) -> list[Phase]:
        return [Phase("g", "generator", self.g_step_loss), Phase("d", "discriminator", self.d_step_loss)]

    # ------------------------------------------------------------------ batches
    def _a(self, batch: Batch) -> Tensor:
        return to_signed(batch.x[:, : self.channels])

    def _b(self, n: int, device: torch.device, memory_format: torch.memory_format) -> Tensor:
        assert self.data_b is not None and self.sampler_b is not None, "setup() runs before the first step"
        if self.sampler_b.batch_size != min(n, len(self.data_b)):
            self.sampler_b.batch_size = min(n, len(self.data_b))
        x = self.data_b.batch(self.sampler_b.next()).x
        return to_signed(x.to(device, memory_format=memory_format))

    # ------------------------------------------------------------------ losses
    def g_step_loss(self, batch: Batch) -> dict[str, Tensor]:
        """Both generators: LSGAN adversarial + cycle + identity terms (discriminators frozen)."""
        m = self.model
        a = self._a(batch)
        cl = batch.x.is_contiguous(memory_format=torch.channels_last)
        fmt = torch.channels_last if cl else torch.contiguous_format
        b = self._b(a.shape[0], a.device, fmt)
        fake_b, fake_a = m.g_ab(a), m.g_ba(b)
        with frozen(m.d_a, m.d_b):
            adv = generator_loss(m.d_b(fake_b), "ls") + generator_loss(m.d_a(fake_a), "ls")
        cyc = (m.g_ba(fake_b).float() - a.float()).abs().mean() + (m.g_ab(fake_a).float() - b.float()).abs().mean()
        loss = adv + self.w_cyc * cyc
        out = {"adv": adv.detach(), "cycle": cyc.detach()}
        if self.w_id:
            idt = (m.g_ba(a).float() - a.float()).abs().mean() + (m.g_ab(b).float() - b.float()).abs().mean()
            loss = loss + self.w_id * idt
            out["identity"] = idt.detach()
        self._fakes = (fake_a.detach(), fake_b.detach())
        self._real_b = b
        return {"loss": loss, **out}

    def d_step_loss(self, batch: Batch) -> dict[str, Tensor]:
        """Both discriminators on real images vs pooled fakes of this step's G phase (LSGAN, halved)."""
        m = self.model
        if self._fakes is None:
            raise RuntimeError("the cyclegan D phase needs the G phase of the same step first")
        fake_a, fake_b = self._fakes
        a, b = self._a(batch), self._real_b
        pa, pb = self.pool_a.query(fake_a), self.pool_b.query(fake_b)
        loss_a = discriminator_loss(m.d_a(a), m.d_a(pa), "ls")
        loss_b = discriminator_loss(m.d_b(b), m.d_b(pb), "ls")
        self._fakes = None
        return {"loss": 0.5 * (loss_a + loss_b), "d_a": loss_a.detach(), "d_b": loss_b.detach()}

    # ------------------------------------------------------------------ previews, eval
    @torch.no_grad()
    def samples(self, batch: Batch) -> dict[str, Tensor]:
        """Rows: A | G_AB(A) | G_BA(G_AB(A)) | B | G_BA(B) | G_AB(G_BA(B)) on held-out images."""
        m = self.model
        a = self._a(Batch(batch.x[:PREVIEW_ITEMS]))
        assert self.eval_b is not None
        b = to_signed(self.eval_b.batch(torch.arange(min(PREVIEW_ITEMS, len(self.eval_b)))).x.to(a.device))
        ab, ba = m.g_ab(a), m.g_ba(b)
        return {
            "a": to_unit(a), "a_to_b": to_unit(ab), "a_cycle": to_unit(m.g_ba(ab)),
            "b": to_unit(b), "b_to_a": to_unit(ba), "b_cycle": to_unit(m.g_ab(ba)),
        }

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        """Held-out cycle L1 (on [0, 1] images) in both directions."""
        m = self.model
        a = self._a(batch)
        assert self.eval_b is not None
        b = to_signed(self.eval_b.batch(torch.arange(min(len(a), len(self.eval_b)))).x.to(a.device))
        cyc_a = (to_unit(m.g_ba(m.g_ab(a))) - to_unit(a)).abs().mean()
        cyc_b = (to_unit(m.g_ab(m.g_ba(b))) - to_unit(b)).abs().mean()
        return {"eval_cycle_a": float(cyc_a), "eval_cycle_b": float(cyc_b)}

    # ------------------------------------------------------------------ exact resume
    def state_dict(self) -> dict[str, Any]:
        sampler = None
        if self.sampler_b is not None:
            sampler = {**self.sampler_b.state_dict(), "batch_size": self.sampler_b.batch_size}
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict(), "sampler_b": sampler}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pool_a.load_state_dict(state["pool_a"])
        self.pool_b.load_state_dict(state["pool_b"])
        if state.get("sampler_b") is not None:
            if self.sampler_b is not None:
                self.sampler_b.load_state_dict(state["sampler_b"])
                self.sampler_b.batch_size = int(state["sampler_b"]["batch_size"])
            else:
                self._pending_sampler = state["sampler_b"]
