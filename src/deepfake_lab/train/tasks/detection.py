"""Detection tasks: binary real (0) / fake (1) classification with robustness augmentation.

* "detection": a CNN detector trained with binary cross-entropy on its logit; each training image is
  degraded with configurable probabilities (JPEG, blur, down/up-scaling, H.264 re-encode, colour jitter:
  see `deepfake_lab.data.augment`) — the lecture's first difficulty, low video quality.
  Optionally (``self_blend_p``, ``xray_p``) real training faces are turned into pseudo-fakes on the fly
  (self-blended images, Face X-ray blends: `deepfake_lab.faces.pseudo_fake`), and a detector with a
  heatmap head (``mask`` output) also learns the blend mask (``mask_weight``); ``pretrained`` names a
  `data fetch` item of ImageNet weights loaded into the backbone before training.
* "frequency-detection": a frequency detector (`spectrum-lr`, `dct-lr`) fitted in closed form in `setup`
  (like PCA): no optimiser, no steps.

Both evaluate accuracy / AUC / AP / EER / log-loss on the eval batch, and AUC again after fixed
degradations (JPEG q50, H.264 CRF 35, ×0.5 resize) to show how robust the detector is.
The data must be a real/fake folder (`real/`, `fake/` or `fake/<method>/`), which the dataset loader
labels real = 0, fake = 1 whatever the folder order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from deepfake_lab.data.augment import RobustnessAugment, h264_roundtrip, jpeg, resize_roundtrip
from deepfake_lab.data.datasets import REAL_FAKE_CLASSES, Batch, ImageDataset
from deepfake_lab.errors import BadInputError
from deepfake_lab.metrics.detection import detection_report
from deepfake_lab.train.tasks.base import Phase, Task, register_task

# fixed degradations of the eval batch: name -> function of float [B, C, H, W]
EVAL_DEGRADATIONS = {
    "jpeg50": lambda x: jpeg(x, 50),
    "h264crf35": lambda x: h264_roundtrip(x, 35),
    "resize0.5": lambda x: resize_roundtrip(x, 0.5),
}


def check_real_fake(data: ImageDataset) -> None:
    """Raise BadInputError unless `data` carries binary real/fake labels."""
    if data.labels is None or data.classes != list(REAL_FAKE_CLASSES):
        raise BadInputError(
            f"detection needs a folder with real/ and fake/ (or fake/<method>/) sub-folders; "
            f"{data.name!r} has classes {data.classes}"
        )


@torch.no_grad()
def predict_probs(model: nn.Module, x: Tensor, batch_size: int = 128) -> Tensor:
    """Fake probabilities [B] (float32) of a detector on x: [B, C, H, W], in chunks."""
    return torch.cat([model(x[i : i + batch_size])["probs"].float() for i in range(0, len(x), batch_size)])


def evaluate_detector(
    model: nn.Module, batch: Batch, *, degradations: Sequence[str] = tuple(EVAL_DEGRADATIONS)
) -> dict[str, float]:
    """eval_{accuracy,auc,ap,eer,log_loss} on the batch, plus eval_auc_<degradation> for each degradation."""
    if batch.y is None:
        raise BadInputError("evaluation needs labels")
    y = batch.y.cpu().numpy()
    rep = detection_report(y, predict_probs(model, batch.x).cpu().numpy())
    out = {f"eval_{k}": float(rep[k]) for k in ("accuracy", "auc", "ap", "eer", "log_loss")}
    for name in degradations:
        xd = EVAL_DEGRADATIONS[name](batch.x.float().cpu()).to(batch.x.device)
        out[f"eval_auc_{name}"] = float(detection_report(y, predict_probs(model, xd).cpu().numpy())["auc"])
    return out


def geometric_augment(
    x: Tensor, rng: np.random.Generator, flip_p: float = 0.0, crop_scale: tuple[float, float] = (1.0, 1.0)
) -> Tensor:
    """Per image: horizontal flip (probability `flip_p`) and a random square crop of `crop_scale` of the side,
    resized back (bilinear). x: float [B, C, S, S] -> [B, C, S, S]."""
    if flip_p <= 0 and crop_scale[0] >= 1:
        return x
    out = x.clone()
    s = x.shape[-1]
    for i in range(len(x)):
        xi = x[i : i + 1]
        if rng.random() < flip_p:
            xi = xi.flip(-1)
        f = rng.uniform(*crop_scale)
        if f < 1:
            c = max(8, int(round(s * f)))
            y0, x0 = int(rng.integers(0, s - c + 1)), int(rng.integers(0, s - c + 1))
            xi = F.interpolate(xi[..., y0 : y0 + c, x0 : x0 + c].float(), size=(s, s), mode="bilinear",
                               align_corners=False).to(x.dtype)  # fmt: skip
        out[i : i + 1] = xi
    return out


def pseudo_fake_batch(
    x: Tensor,
    y: Tensor,
    rng: np.random.Generator,
    self_blend_p: float,
    xray_p: float,
    margin: float,
    *,
    paired: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """Turn real faces of a batch into pseudo-fakes (self-blend / Face X-ray) on the fly.

    Args:
        x: float [B, 3, S, S] aligned face crops in [0, 1].
        y: float [B] labels (0 real, 1 fake).
        rng: random generator.
        self_blend_p, xray_p: probability per real face of each kind (the rest stays real).
        margin: alignment margin of the crops (template landmarks).
        paired: the second half of the reals is replaced by pseudo-fakes of the first half's images (each
            pseudo-fake's original stays in the batch); the kind is drawn in the ratio self_blend_p : xray_p.

    Returns:
        (x' float [B, 3, S, S], y' float [B], masks float [B, S, S]: blend mask of pseudo-fakes, 0 elsewhere;
        NaN for fakes that came with the data, whose mask is unknown).
    """
    from deepfake_lab.faces.pseudo_fake import self_blend, template_landmarks, xray_blend

    b, _, s, _ = x.shape
    imgs = (x.detach().float().cpu().clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
    ys = y.detach().float().cpu().clone()
    masks = torch.zeros(b, s, s)
    masks[ys > 0.5] = float("nan")
    real = [i for i in range(b) if ys[i] < 0.5]
    pts = template_landmarks(s, margin)
    out = imgs.copy()
    if paired:
        half = len(real) // 2
        total = self_blend_p + xray_p
        for src, dst in zip(real[:half], real[half : 2 * half], strict=True):
            if total <= 0:
                break
            if rng.random() < self_blend_p / total:
                out[dst], m = self_blend(imgs[src], pts, rng)
            else:
                other = int(rng.choice([k for k in real if k != src]))
                out[dst], m = xray_blend(imgs[src], imgs[other], pts, rng)
            masks[dst] = torch.from_numpy(m)
            ys[dst] = 1.0
        real = []
    for i in real:
        r = rng.random()
        if r < self_blend_p:
            out[i], m = self_blend(imgs[i], pts, rng)
        elif r < self_blend_p + xray_p and len(real) > 1:
            j = int(rng.choice([k for k in real if k != i]))
            out[i], m = xray_blend(imgs[i], imgs[j], pts, rng)
        else:
            continue
        masks[i] = torch.from_numpy(m)
        ys[i] = 1.0
    xo = torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255)
    return xo, ys, masks


def mask_loss(mask_logits: Tensor, masks: Tensor) -> Tensor:
    """BCE between a heatmap head's logits [B, 1, h, w] and blend masks [B, S, S] (area-downsampled).

    Only images whose mask is known count: reals (target 0) and pseudo-fakes (NaN marks data fakes).
    """
    known = ~torch.isnan(masks.flatten(1)).any(1)
    if not bool(known.any()):
        return mask_logits.sum() * 0.0
    h, w = mask_logits.shape[-2:]
    tgt = F.adaptive_avg_pool2d(torch.nan_to_num(masks, 0.0)[:, None], (h, w))
    return F.binary_cross_entropy_with_logits(mask_logits[known], tgt[known].to(mask_logits.dtype))


def _samples(model: nn.Module, batch: Batch, aug: RobustnessAugment | None) -> dict[str, Tensor]:
    """Rows: the 8 most-fake and 8 most-real eval images by the detector, and (if any) augmented examples."""
    p = predict_probs(model, batch.x)
    order = torch.argsort(p, descending=True)
    rows = {"most_fake": batch.x[order[:8]].float(), "most_real": batch.x[order.flip(0)[:8]].float()}
    if aug is not None and aug.active:
        rows["augmented"] = aug(batch.x[:8], np.random.default_rng(0))
    return rows


@register_task("detection", family="detector")
class DetectionTask(Task):
    """Binary cross-entropy (real = 0, fake = 1) on a detector's logit, with robustness augmentation.

    Args:
        model: a detector following the output contract.
        pos_weight: weight of the fake class in the BCE (None: 1; use n_real / n_fake for imbalance).
        label_smoothing: targets become ε/2 and 1 − ε/2.
        jpeg_p, jpeg_quality, blur_p, blur_sigma, resize_p, resize_scale, h264_p, h264_crf, jitter_p,
            jitter_strength: augmentation probabilities and ranges (see `RobustnessAugment`).
        eval_degradations: also report eval AUC after JPEG q50 / H.264 CRF 35 / ×0.5 resize.
        seed: seed of the augmentation RNG (its state is checkpointed).
        self_blend_p: probability that a real training face becomes a self-blended image (label fake).
        xray_p: probability that a real training face becomes a Face X-ray blend with another real face of
            the batch (label fake).
        pseudo_margin: alignment margin of the training crops (where the template landmarks fall).
        mask_weight: weight of the blend-mask BCE on the model's ``mask`` output (reals: all-zero target;
            pseudo-fakes: their blend mask; dataset fakes: not counted). 0 = classification only.
        pretrained: `data fetch` item with ImageNet weights for the backbone ("" = from scratch).
        paired: pseudo-fakes are made from the batch's *other* real faces, so that each pseudo-fake comes with
            its untouched original in the same batch (as SBI trains): the two differ only by the blend, so
            remembering the training people cannot tell them apart. The kind is drawn in the ratio
            self_blend_p : xray_p.
        flip_p: probability of a horizontal flip of each training image.
        crop_scale: random square crop of this fraction of the side (random position), resized back.
        probe_steps: for the first N steps only the parameters outside `backbone_prefix` learn (a linear probe
            on the pretrained features), then all of them: LP-FT (Kumar et al., ICLR 2022), which keeps more of the
            pretrained features for data unlike the (few) training people. 0 = fine-tune all from the start.
        backbone_prefix: parameter-name prefix of the backbone (torchvision MobileNetV2: ``features.``).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        pos_weight: float | None = None,
        label_smoothing: float = 0.0,
        jpeg_p: float = 0.0,
        jpeg_quality: Sequence[int] = (30, 100),
        blur_p: float = 0.0,
        blur_sigma: Sequence[float] = (0.2, 2.0),
        resize_p: float = 0.0,
        resize_scale: Sequence[float] = (0.25, 0.75),
        h264_p: float = 0.0,
        h264_crf: Sequence[int] = (18, 40),
        jitter_p: float = 0.0,
        jitter_strength: float = 0.2,
        eval_degradations: bool = True,
        seed: int = 0,
        self_blend_p: float = 0.0,
        xray_p: float = 0.0,
        pseudo_margin: float = 0.1,
        mask_weight: float = 0.0,
        pretrained: str = "",
        paired: bool = False,
        flip_p: float = 0.0,
        crop_scale: Sequence[float] = (1.0, 1.0),
        probe_steps: int = 0,
        backbone_prefix: str = "features.",
    ) -> None:
        if not (0 <= self_blend_p <= 1 and 0 <= xray_p <= 1 and self_blend_p + xray_p <= 1):
            raise BadInputError(f"self_blend_p, xray_p: probabilities with sum <= 1, got {self_blend_p}, {xray_p}")
        if mask_weight < 0:
            raise BadInputError(f"mask_weight must be >= 0, got {mask_weight}")
        if pretrained:
            from deepfake_lab.train.pretrained import load_pretrained_backbone

            load_pretrained_backbone(model, pretrained)
        self.self_blend_p, self.xray_p = float(self_blend_p), float(xray_p)
        self.pseudo_margin, self.mask_weight = float(pseudo_margin), float(mask_weight)
        self.paired, self.flip_p = bool(paired), float(flip_p)
        self.crop_scale = (float(crop_scale[0]), float(crop_scale[1]))
        if not (0 <= self.flip_p <= 1 and 0.5 <= self.crop_scale[0] <= self.crop_scale[1] <= 1):
            raise BadInputError(f"flip_p must be in [0, 1] and crop_scale within [0.5, 1], got {flip_p}, {crop_scale}")
        if not 0 <= label_smoothing < 1:
            raise BadInputError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        if pos_weight is not None and pos_weight <= 0:
            raise BadInputError(f"pos_weight must be positive, got {pos_weight}")
        self.nets = {"model": model}
        self.model = model
        self.pos_weight = pos_weight
        self.smooth = float(label_smoothing)
        self.augment = RobustnessAugment(
            jpeg_p=jpeg_p, jpeg_quality=tuple(jpeg_quality), blur_p=blur_p, blur_sigma=tuple(blur_sigma),
            resize_p=resize_p, resize_scale=tuple(resize_scale), h264_p=h264_p, h264_crf=tuple(h264_crf),
            jitter_p=jitter_p, jitter_strength=jitter_strength,
        )  # fmt: skip
        self.eval_degradations = bool(eval_degradations)
        self.rng = np.random.default_rng(seed)
        self.probe_steps = int(probe_steps)
        self.backbone = [p for n, p in model.named_parameters() if n.startswith(backbone_prefix)]
        if self.probe_steps < 0 or (self.probe_steps and not self.backbone):
            raise BadInputError(f"probe_steps needs >= 0 and parameters named {backbone_prefix}*, got {probe_steps}")

    def setup(self, data: ImageDataset) -> None:
        check_real_fake(data)

    def phases(self, step: int) -> list[Phase]:
        if self.probe_steps:  # frozen parameters get no gradient, so the optimizer leaves them (and their moments)
            for p in self.backbone:
                p.requires_grad_(step >= self.probe_steps)
        return [Phase("detect", "main", self._loss)]

    def _loss(self, batch: Batch) -> dict[str, Tensor]:
        if batch.y is None:
            raise BadInputError("detection needs labelled batches (real = 0, fake = 1)")
        x = batch.x
        fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
        y = batch.y.float()
        masks = None
        if self.self_blend_p > 0 or self.xray_p > 0:
            x = geometric_augment(x, self.rng, self.flip_p, self.crop_scale)
            x, y, masks = pseudo_fake_batch(
                x, y, self.rng, self.self_blend_p, self.xray_p, self.pseudo_margin, paired=self.paired
            )
            x = x.to(batch.x.device, memory_format=fmt)
            y = y.to(batch.x.device)
        if self.augment.active:
            x = self.augment(x, self.rng).to(x.device, memory_format=fmt)
        out = self.model(x)
        logits = out["logits"].float()
        target = y * (1 - self.smooth) + 0.5 * self.smooth
        pw = None if self.pos_weight is None else torch.tensor(self.pos_weight, device=logits.device)
        loss = F.binary_cross_entropy_with_logits(logits, target, pos_weight=pw)
        acc = ((logits.detach() > 0).float() == y).float().mean()
        logs = {"bce": loss.detach(), "train_acc": acc}
        if self.mask_weight > 0 and "mask" in out and masks is not None:
            m_loss = mask_loss(out["mask"].float(), masks.to(logits.device))
            loss = loss + self.mask_weight * m_loss
            logs["mask_bce"] = m_loss.detach()
        return {"loss": loss, **logs}

    def samples(self, batch: Batch) -> dict[str, Tensor]:
        return _samples(self.model, batch, self.augment)

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        return evaluate_detector(
            self.model, batch, degradations=tuple(EVAL_DEGRADATIONS) if self.eval_degradations else ()
        )

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]


@register_task("frequency-detection", family="detector")
class FrequencyDetectionTask(Task):
    """Closed-form fit of a frequency detector on (up to `max_fit` items of) the training set in `setup`.

    Args:
        model: a FrequencyDetector (`spectrum-lr`, `dct-lr`).
        max_fit: at most this many training images are used.
        C: inverse L2 strength of the logistic regression.
        eval_degradations: also report eval AUC after fixed degradations.
        augment_p: probability of each robustness augmentation (JPEG, blur, resize, H.264) on the fit images
            (one pass; 0 fits on clean images).
        seed: seed of the augmentation RNG.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        max_fit: int = 20000,
        C: float = 1.0,  # noqa: N803
        eval_degradations: bool = True,
        augment_p: float = 0.0,
        seed: int = 0,
    ) -> None:
        if not hasattr(model, "fit"):
            raise BadInputError("frequency-detection needs a closed-form detector (spectrum-lr, dct-lr)")
        self.nets = {"model": model}
        self.model = model
        self.max_fit, self.C = int(max_fit), float(C)
        self.eval_degradations = bool(eval_degradations)
        self.augment = RobustnessAugment(jpeg_p=augment_p, blur_p=augment_p, resize_p=augment_p, h264_p=augment_p)
        self.seed = int(seed)
        self.fitted = False

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {}

    def setup(self, data: ImageDataset) -> None:
        check_real_fake(data)
        if self.fitted:
            return
        n = min(len(data), self.max_fit)
        idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(self.seed))[:n]
        b = data.batch(idx)
        x = self.augment(b.x, np.random.default_rng(self.seed)) if self.augment.active else b.x
        try:
            self.model.fit(x, b.y, C=self.C, seed=self.seed)
        except ValueError as exc:
            raise BadInputError(str(exc)) from None
        self.fitted = True

    def phases(self, step: int) -> list[Phase]:
        return []

    def samples(self, batch: Batch) -> dict[str, Tensor]:
        return _samples(self.model, batch, None)

    @torch.no_grad()
    def evaluate(self, batch: Batch) -> dict[str, float]:
        return evaluate_detector(
            self.model, batch, degradations=tuple(EVAL_DEGRADATIONS) if self.eval_degradations else ()
        )

    def state_dict(self) -> dict[str, Any]:
        return {"fitted": self.fitted}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.fitted = bool(state.get("fitted", False))
