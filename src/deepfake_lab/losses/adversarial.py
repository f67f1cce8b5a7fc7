"""Adversarial objectives, written on the discriminator's logits l = logit D(x) (D(x) = σ(l)).

The lecture's minimax game is min_G max_D E log D(x) + E log(1 - D(G(z))). On logits, with
log σ(l) = -softplus(-l) and log(1 - σ(l)) = -softplus(l), every loss below is numerically stable:

- discriminator (all "minimax"/"non-saturating" runs): softplus(-l_real) + softplus(l_fake), i.e. BCE;
- generator, "minimax" (saturating): E log(1 - D(G(z))) = -E softplus(l_fake); its gradient w.r.t. the
  logit is -σ(l_fake), which vanishes when D confidently rejects the fakes (D(G(z)) ≈ 0);
- generator, "non-saturating": -E log D(G(z)) = E softplus(-l_fake); gradient -σ(-l_fake) ≈ -1 there;
- "ls" (least squares, Mao et al.) and "hinge" (Miyato et al.) for comparison.

Example:
    >>> import torch
    >>> fake = torch.full((4, 1), -10.0)   # D is sure these are fakes
    >>> float(generator_loss(fake, "non-saturating")) > 9
    True
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

G_LOSSES = ("minimax", "non-saturating", "ls", "hinge")
D_LOSSES = ("bce", "ls", "hinge")


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, kind: str = "bce") -> Tensor:
    """Loss the discriminator minimises.

    Args:
        real_logits: D's logits on real images [B] or [B, 1].
        fake_logits: D's logits on generated images [B'] or [B', 1] (detached from G for the D step).
        kind: "bce" (the lecture's max_D E log D(x) + E log(1 - D(G(z))), negated), "ls" or "hinge".

    Returns:
        A scalar (float32 even under bf16 autocast).
    """
    r, f = real_logits.float(), fake_logits.float()
    if kind == "bce":
        return F.softplus(-r).mean() + F.softplus(f).mean()
    if kind == "ls":
        return 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean()
    if kind == "hinge":
        return F.relu(1 - r).mean() + F.relu(1 + f).mean()
    raise ValueError(f"unknown discriminator loss {kind!r}; choose from {', '.join(D_LOSSES)}")


def generator_loss(fake_logits: Tensor, kind: str = "non-saturating") -> Tensor:
    """Loss the generator minimises.

    Args:
        fake_logits: D's logits on G(z) [B] or [B, 1] (graph through G kept).
        kind: "minimax" (E log(1 - D(G(z))), saturating), "non-saturating" (-E log D(G(z))), "ls" or "hinge".

    Returns:
        A scalar (float32).
    """
    f = fake_logits.float()
    if kind == "minimax":
        return -F.softplus(f).mean()
    if kind == "non-saturating":
        return F.softplus(-f).mean()
    if kind == "ls":
        return 0.5 * ((f - 1) ** 2).mean()
    if kind == "hinge":
        return -f.mean()
    raise ValueError(f"unknown generator loss {kind!r}; choose from {', '.join(G_LOSSES)}")


def default_d_loss(g_loss: str) -> str:
    """The discriminator loss that goes with a generator loss ("minimax"/"non-saturating" -> "bce")."""
    return {"ls": "ls", "hinge": "hinge"}.get(g_loss, "bce")
