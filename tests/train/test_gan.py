"""GAN family: every model runs forward/backward, the lecture's saturation claim, phases, exact resume."""

from __future__ import annotations

import json

import pytest
import torch

from deepfake_lab.config import DataConfig, OptimConfig, RunConfig, TrainConfig
from deepfake_lab.data.datasets import load_dataset
from deepfake_lab.losses import discriminator_loss, generator_loss
from deepfake_lab.models.catalogue import create_model, list_models, model_entry
from deepfake_lab.train.tasks import create_task
from deepfake_lab.train.trainer import Trainer

SHAPES = {"dcgan-32": (1, 32, 32), "cdcgan-32": (3, 32, 32), "dcgan-64": (3, 64, 64)}


def _small(name: str):
    kwargs = {"in_shape": SHAPES.get(name, (1, 8, 8))}
    if "width" in model_entry(name).factory.__kwdefaults__:
        kwargs["width"] = 8
    return create_model(name, **kwargs)


def _g_grad_norm(model, z: torch.Tensor, kind: str) -> float:
    model.zero_grad(set_to_none=True)
    generator_loss(model.discriminate(model.generate(z)), kind).backward()
    return float(torch.sqrt(sum((p.grad.float() ** 2).sum() for p in model.generator.parameters())))


# z -> image generators; the image-to-image (pix2pix, cyclegan) and text (gan-cls) GANs have their own tests
Z_GANS = [n for n in list_models("gan") if model_entry(n).tags["task"] in ("gan", "progan")]
OWN_TESTS = {"pix2pix": "test_gan_image.py", "cyclegan": "test_gan_image.py", "gan-cls": "test_gan_text.py"}


def test_every_gan_task_is_tested() -> None:
    for name in list_models("gan"):
        assert model_entry(name).tags["task"] in ("gan", "progan", *OWN_TESTS), name


@pytest.mark.parametrize("name", Z_GANS)
def test_every_gan_forward_backward(name: str) -> None:
    torch.manual_seed(0)
    m = _small(name)
    assert model_entry(name).tags["task"] in ("gan", "progan")
    z = torch.randn(4, m.latent_dim)
    y = torch.tensor([0, 1, 2, 3]) if m.conditional else None
    x = m.generate(z, y)
    assert x.shape == (4, *m.out_shape) and x.min() >= -1 and x.max() <= 1
    logits = m.discriminate(x, y)
    assert logits.shape == (4,)
    generator_loss(logits, "non-saturating").backward()
    params = list(m.generator.parameters())
    if hasattr(m, "set_progress"):  # progressive GAN at its first stage: only the 4x4 layers are in use
        params = list(m.generator.input.parameters()) + list(m.generator.to_rgb[0].parameters())
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in params)
    if m.conditional:  # the condition matters
        x2 = m.generate(z, torch.tensor([4, 5, 6, 7]))
        assert not torch.allclose(x, x2)
        with pytest.raises(ValueError):
            m.generate(z, None)


def test_dcgan_follows_radford_guidelines() -> None:
    m = create_model("dcgan-64")
    g_mods, d_mods = list(m.generator.modules()), list(m.discriminator.modules())
    pooling = (torch.nn.MaxPool2d, torch.nn.AvgPool2d, torch.nn.AdaptiveAvgPool2d)
    assert not any(isinstance(x, (*pooling, torch.nn.Linear)) for x in g_mods + d_mods)
    assert any(isinstance(x, torch.nn.BatchNorm2d) for x in g_mods)
    assert any(isinstance(x, torch.nn.BatchNorm2d) for x in d_mods)
    g_acts = {type(x) for x in g_mods if isinstance(x, (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.Tanh))}
    assert g_acts == {torch.nn.ReLU, torch.nn.Tanh} and isinstance(g_mods[-1], torch.nn.Tanh)
    d_acts = {type(x) for x in d_mods if isinstance(x, (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.Tanh))}
    assert d_acts == {torch.nn.LeakyReLU}
    strided = [x for x in d_mods if isinstance(x, torch.nn.Conv2d) and x.stride == (2, 2)]
    assert len(strided) == 4  # 64 -> 32 -> 16 -> 8 -> 4, no pooling


def test_minimax_generator_gradient_saturates_when_d_is_confident() -> None:
    """The lecture: log(1 - D(G(z))) is flat where D rejects the fakes; -log D(G(z)) is not (>= 100x)."""
    torch.manual_seed(0)
    data = load_dataset("digits")
    m = create_model("gan-mlp", in_shape=(1, 8, 8))
    opt = torch.optim.Adam(m.discriminator.parameters(), lr=1e-3)
    for _ in range(40):  # train D alone until it is confident on G's fakes
        x = data.batch(torch.randint(0, len(data), (64,))).x * 2 - 1
        with torch.no_grad():
            fake = m.generate(torch.randn(64, m.latent_dim))
        loss = discriminator_loss(m.discriminate(x), m.discriminate(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
    z = torch.randn(256, m.latent_dim)
    with torch.no_grad():
        d_g_z = float(torch.sigmoid(m.discriminate(m.generate(z))).mean())
    assert d_g_z < 0.01
    g_mm, g_ns = _g_grad_norm(m, z, "minimax"), _g_grad_norm(m, z, "non-saturating")
    assert g_ns >= 100 * g_mm, (g_ns, g_mm)

    # the same with a D whose output bias says "fake" with certainty: D(G(z)) ~ e^-12
    with torch.no_grad():
        m.discriminator.net[-1].bias.fill_(-12.0)
    assert _g_grad_norm(m, z, "non-saturating") >= 1e4 * _g_grad_norm(m, z, "minimax")


def test_d_phase_leaves_g_unchanged_and_g_phase_leaves_d_unchanged() -> None:
    torch.manual_seed(0)
    m = create_model("dcgan-32", in_shape=(1, 32, 32), width=8)
    task = create_task("gan", m)
    groups = task.parameter_groups()
    opts = {k: torch.optim.Adam(v, lr=1e-2) for k, v in groups.items()}
    data = load_dataset("digits", image_size=32)
    batch = data.batch(torch.arange(16))

    def params(net):
        return [p.detach().clone() for p in net.parameters()]

    for phase in task.phases(0):
        g0, d0 = params(m.generator), params(m.discriminator)
        m.zero_grad(set_to_none=True)
        phase.loss(batch)["loss"].backward()
        opts[phase.optimizer].step()
        g1, d1 = params(m.generator), params(m.discriminator)
        g_same = all(torch.equal(a, b) for a, b in zip(g0, g1, strict=False))
        d_same = all(torch.equal(a, b) for a, b in zip(d0, d1, strict=False))
        if phase.optimizer == "discriminator":
            assert g_same and not d_same
            assert all(p.grad is None for p in m.generator.parameters())
        else:
            assert d_same and not g_same
            assert all(p.grad is None for p in m.discriminator.parameters())  # D took no gradient


def test_one_generator_forward_per_step_and_the_kept_fakes_give_the_fresh_gradient() -> None:
    torch.manual_seed(0)
    m = create_model("dcgan-32", in_shape=(1, 32, 32), width=8)
    task = create_task("gan", m)
    batch = load_dataset("digits", image_size=32).batch(torch.arange(16))
    calls = []
    hook = m.generator.register_forward_hook(lambda *_: calls.append(1))
    d_phase, g_phase = task.phases(0)
    torch.manual_seed(1)
    d_phase.loss(batch)["loss"].backward()  # no optimizer step: D's weights stay as they are
    m.zero_grad(set_to_none=True)
    g_phase.loss(batch)["loss"].backward()
    hook.remove()
    assert len(calls) == 1  # the G phase reused the D phase's fakes
    kept = [p.grad.clone() for p in m.generator.parameters()]
    assert all(p.grad is None for p in m.discriminator.parameters())
    m.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the same z, G forward recorded afresh
    generator_loss(m.discriminate(m.generate(torch.randn(16, m.latent_dim))), "non-saturating").backward()
    fresh = [p.grad for p in m.generator.parameters()]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(kept, fresh, strict=True))


def _cfg(model: str, steps: int, precision: str, image_size: int | None) -> RunConfig:
    return RunConfig(
        model=model,
        model_kwargs={"width": 8} if "dcgan" in model else {},
        data=DataConfig(name="digits", image_size=image_size),
        optim=OptimConfig(lr=2e-4, betas=[0.5, 0.999]),
        train=TrainConfig(
            steps=steps,
            batch_size=32,
            precision=precision,
            log_every=1,
            sample_every=10**6,
            checkpoint_every=10**6,
        ),
    )


def _losses(run_dir) -> dict[int, tuple[float, float]]:
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "d/loss" in rec:
            out[rec["step"]] = (rec["d/loss"], rec["g/loss"])
    return out


@pytest.mark.parametrize(
    ("model", "precision", "size"), [("gan-mlp", "fp32", None), ("dcgan-32", "bf16", 32)]
)
def test_gan_resume_is_exact(tmp_path, model: str, precision: str, size: int | None) -> None:
    n = 6
    Trainer(_cfg(model, 2 * n, precision, size), tmp_path / "full", progress=False, tensorboard=False).fit()
    Trainer(_cfg(model, n, precision, size), tmp_path / "split", progress=False, tensorboard=False).fit()
    Trainer(_cfg(model, 2 * n, precision, size), tmp_path / "split", progress=False, tensorboard=False).fit(
        resume=True
    )
    full, split = _losses(tmp_path / "full"), _losses(tmp_path / "split")
    assert sorted(full) == sorted(split) == list(range(1, 2 * n + 1))
    assert full == split


def test_gan_optimizers_take_task_settings(tmp_path) -> None:
    cfg = _cfg("gan-mlp", 1, "fp32", None)
    cfg.task_kwargs = {"g_lr": 1e-3, "d_lr": 4e-4, "betas": [0.0, 0.9]}
    t = Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False)
    g, d = t.optimizers["generator"].param_groups[0], t.optimizers["discriminator"].param_groups[0]
    assert (g["lr"], d["lr"], g["betas"], d["betas"]) == (1e-3, 4e-4, (0.0, 0.9), (0.0, 0.9))
    cfg2 = _cfg("gan-mlp", 1, "fp32", None)
    t2 = Trainer(cfg2, tmp_path / "r2", progress=False, tensorboard=False)
    assert t2.optimizers["generator"].param_groups[0]["betas"] == (0.5, 0.999)


def test_bad_gan_options_are_user_errors() -> None:
    from deepfake_lab.errors import BadInputError

    m = create_model("gan-mlp", in_shape=(1, 8, 8))
    with pytest.raises(BadInputError, match="g_loss"):
        create_task("gan", m, g_loss="wasserstein")
    with pytest.raises(BadInputError, match="image_size=32"):
        create_model("dcgan-32", in_shape=(1, 28, 28))
