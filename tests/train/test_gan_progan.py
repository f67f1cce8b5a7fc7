"""Progressive GAN: shared layers (pixel norm, equalised LR, minibatch stddev), fade-in, schedule, training."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from deepfake_lab.config import DataConfig, OptimConfig, RunConfig, TrainConfig
from deepfake_lab.errors import BadInputError
from deepfake_lab.models.catalogue import create_model
from deepfake_lab.nn.layers import EqualizedConv2d, EqualizedLinear, PixelNorm, minibatch_stddev
from deepfake_lab.train.tasks import create_task
from deepfake_lab.train.tasks.gan import progan_schedule
from deepfake_lab.train.trainer import Trainer


def test_pixel_norm_gives_unit_mean_square_per_pixel() -> None:
    x = torch.randn(3, 16, 5, 5) * 7 + 2
    y = PixelNorm()(x)
    assert torch.allclose(y.pow(2).mean(1), torch.ones(3, 5, 5), atol=1e-4)


def test_equalized_layers_scale_unit_weights_at_run_time() -> None:
    conv = EqualizedConv2d(8, 4, 3, 1)
    assert abs(float(conv.weight.detach().std()) - 1) < 0.2  # stored N(0, 1)
    assert conv.scale == pytest.approx(math.sqrt(2) / math.sqrt(8 * 9))
    x = torch.randn(2, 8, 6, 6)
    ref = torch.nn.functional.conv2d(x, conv.weight * conv.scale, conv.bias, padding=1)
    assert torch.allclose(conv(x), ref)
    lin = EqualizedLinear(100, 10, gain=1.0)
    assert lin.scale == pytest.approx(0.1)
    # the equalised layer keeps activations at unit scale for unit inputs
    assert 0.5 < float(lin(torch.randn(4096, 100)).detach().std()) < 1.5


def test_minibatch_stddev_sees_variety() -> None:
    same = torch.ones(8, 3, 4, 4)
    out = minibatch_stddev(same)
    assert out.shape == (8, 4, 4, 4) and float(out[:, 3].abs().max()) < 1e-3
    varied = torch.randn(8, 3, 4, 4)
    assert float(minibatch_stddev(varied)[:, 3].min()) > 0.3
    assert minibatch_stddev(torch.randn(6, 2, 2, 2), group_size=4).shape == (6, 3, 2, 2)  # 6 -> groups of 3


def test_schedule_grows_with_fade_in() -> None:
    got = [progan_schedule(s, 100, 4) for s in (0, 99, 100, 125, 150, 199, 200, 300, 399, 1000)]
    want = [(0, 1.0), (0, 1.0), (1, 0.0), (1, 0.5), (1, 1.0), (1, 1.0), (2, 0.0), (3, 0.0), (3, 1.0), (3, 1.0)]
    assert got == want


def test_every_stage_runs_and_fade_in_is_continuous() -> None:
    torch.manual_seed(0)
    m = create_model("progan-32", in_shape=(1, 32, 32), width=8, max_width=32)
    z, x = torch.randn(4, m.latent_dim), torch.rand(4, 1, 32, 32) * 2 - 1
    for s in range(m.n_stages):
        m.set_progress(s, 1.0)
        img = m.generate(z)
        assert img.shape == (4, 1, 32, 32) and m.resolution == 4 * 2**s
        k = 32 // m.resolution  # generated at the stage's resolution, shown upsampled (nearest)
        blocky = F.interpolate(F.avg_pool2d(img, k), scale_factor=k, mode="nearest")
        assert torch.allclose(blocky, img, atol=1e-6)
        logits = m.discriminate(img)
        logits.sum().backward()
        assert logits.shape == (4,)
    for s in range(1, m.n_stages):  # α = 0 of stage s is exactly stage s-1
        m.set_progress(s - 1, 1.0)
        g_prev, d_prev = m.generate(z), m.discriminate(x)
        m.set_progress(s, 0.0)
        assert torch.allclose(m.generate(z), g_prev, atol=1e-6)
        assert torch.allclose(m.discriminate(x), d_prev, atol=1e-5)
        m.set_progress(s, 0.5)
        assert not torch.allclose(m.generate(z), g_prev, atol=1e-4)
    with pytest.raises(ValueError):
        m.set_progress(4, 1.0)
    with pytest.raises(BadInputError):
        create_task("progan", create_model("dcgan-32", width=8))


def _cfg(steps: int) -> RunConfig:
    return RunConfig(
        model="progan-32",
        model_kwargs={"width": 8, "max_width": 32},
        task_kwargs={"stage_steps": 3, "fade_fraction": 0.5},
        data=DataConfig(name="digits", image_size=16),
        optim=OptimConfig(lr=1e-3, betas=[0.0, 0.99]),
        train=TrainConfig(steps=steps, batch_size=16, log_every=1, sample_every=10**6, checkpoint_every=10**6),
    )


def _log(run_dir) -> dict[int, dict]:
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "d/loss" in rec:
            out[rec["step"]] = {k: v for k, v in rec.items() if k != "time"}
    return out


def test_progan_grows_through_the_trainer_and_resumes_exactly(tmp_path) -> None:
    """16 px digits, 3 steps per stage: the log shows 4 -> 8 -> 16 px; a split run equals the full one."""
    Trainer(_cfg(8), tmp_path / "full", progress=False, tensorboard=False).fit()
    Trainer(_cfg(4), tmp_path / "split", progress=False, tensorboard=False).fit()
    Trainer(_cfg(8), tmp_path / "split", progress=False, tensorboard=False).fit(resume=True)
    full, split = _log(tmp_path / "full"), _log(tmp_path / "split")
    assert full == split
    res = [full[s]["d/resolution"] for s in range(1, 9)]
    assert res == [4, 4, 4, 8, 8, 8, 16, 16]
    assert full[4]["d/alpha"] == 0.0 and full[6]["d/alpha"] == 1.0
    from deepfake_lab.train.checkpoint import load_exported

    model, card = load_exported(tmp_path / "full")
    assert model.resolution == 16  # the export carries the grown stage
