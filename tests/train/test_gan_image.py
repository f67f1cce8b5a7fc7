"""Image-to-image GANs: paired data (edges, gray, face mesh), pix2pix and CycleGAN through the one Trainer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from deepfake_lab.config import DataConfig, OptimConfig, RunConfig, TrainConfig
from deepfake_lab.data.datasets import PairedDataset, load_dataset, load_paired
from deepfake_lab.data.paired import edges_of, make_pairs
from deepfake_lab.errors import BadInputError
from deepfake_lab.models.catalogue import create_model
from deepfake_lab.train.tasks import create_task
from deepfake_lab.train.tasks.gan_image import ImagePool
from deepfake_lab.train.trainer import Trainer


@pytest.fixture(scope="module")
def gray_pairs(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("pairs") / "gray"
    make_pairs("digits", out, kind="gray", image_size=16, limit=120)
    return str(out)


@pytest.fixture(scope="module")
def inverted_digits(tmp_path_factory) -> str:
    """Domain B of a non-face CycleGAN pair: 60 inverted digits as PNG files."""
    root = tmp_path_factory.mktemp("inverted")
    ds = load_dataset("digits", "train", limit=60)
    for i, img in enumerate(ds.images):
        Image.fromarray(255 - img[0].numpy()).save(root / f"{i:03d}.png")
    return str(root)


def test_edges_follow_the_image() -> None:
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[8:24, 8:24] = 200
    e = edges_of(rgb)
    assert e.shape == (32, 32, 1)
    assert e[7:25, 7:25].sum() > 0 and e[12:20, 12:20].sum() == 0 and e[:4].sum() == 0


def test_paired_folder_roundtrip(gray_pairs: str, tmp_path) -> None:
    ds = load_dataset(gray_pairs, "train")
    test = load_dataset(gray_pairs, "test")
    assert isinstance(ds, PairedDataset) and ds.source_channels == 1
    assert ds.images.shape[1:] == (4, 16, 16) and len(ds) + len(test) == 120 and len(test) == 24
    # gray source == luminance of the RGB target (which is grey itself for digits)
    assert (ds.images[:, 0].int() - ds.images[:, 1].int()).abs().max() <= 1
    with pytest.raises(BadInputError, match="not an empty folder"):
        make_pairs("digits", gray_pairs, kind="gray")
    with pytest.raises(BadInputError, match="kind"):
        make_pairs("digits", tmp_path / "new", kind="sketchy")


def test_mesh_pairs_from_real_faces(swap_facesets, tmp_path) -> None:  # noqa: F811
    woman, _ = swap_facesets
    rec = make_pairs(woman, tmp_path / "mesh", kind="mesh", limit=6)
    assert rec["pairs"] >= 5 and rec["source_channels"] == 3
    ds = load_paired(tmp_path / "mesh", "all")
    sketch = ds.images[:, :3].float()
    assert ds.images.shape[1:] == (6, 64, 64)
    # a sparse drawing: lines cover some of the crop, the corners are empty
    frac = (sketch.amax(1) > 60).float().mean().item()
    assert 0.02 < frac < 0.4, frac
    assert sketch[:, :, :4, :4].max() == 0


def _cfg(model: str, data: str, steps: int, **kw) -> RunConfig:
    return RunConfig(
        model=model,
        model_kwargs=kw.pop("model_kwargs", {}),
        task_kwargs=kw.pop("task_kwargs", {}),
        data=DataConfig(name=data, image_size=kw.pop("image_size", None)),
        optim=OptimConfig(lr=2e-4, betas=[0.5, 0.999]),
        train=TrainConfig(
            steps=steps, batch_size=8, log_every=1, sample_every=10**6, checkpoint_every=10**6, **kw
        ),
    )


def _log(run_dir) -> dict[int, dict]:
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "g/loss" in rec:
            out[rec["step"]] = {k: v for k, v in rec.items() if k != "time"}
    return out


def test_pix2pix_forward_backward_and_phases(gray_pairs: str) -> None:
    torch.manual_seed(0)
    m = create_model("pix2pix", in_shape=(4, 16, 16), width=8, d_width=8, d_layers=2)
    s = torch.rand(3, 1, 16, 16) * 2 - 1
    y = m.translate(s)
    assert y.shape == (3, 3, 16, 16) and y.abs().max() <= 1
    assert m.discriminate(s, y).dim() == 4  # a map of patch logits
    task = create_task("pix2pix", m, l1_weight=100.0)
    ds = load_dataset(gray_pairs)
    batch = ds.batch(torch.arange(8))
    g_phase = [p for p in task.phases(0) if p.optimizer == "generator"][0]
    out = g_phase.loss(batch)
    out["loss"].backward()
    assert all(p.grad is None for p in m.discriminator.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.generator.parameters())
    assert float(out["loss"].detach()) > 100 * 0.5 * float(out["l1"])  # the L1 term dominates at λ = 100
    with pytest.raises(BadInputError, match="paired"):
        Trainer(_cfg("pix2pix", "digits", 1), "unused-dir-not-created", progress=False, tensorboard=False)


def test_pix2pix_learns_colour_from_gray(gray_pairs: str, tmp_path) -> None:
    """A few dozen real steps: held-out L1 drops well below the untrained generator's."""
    cfg = _cfg("pix2pix", gray_pairs, 40, model_kwargs={"width": 8, "d_width": 8, "d_layers": 2})
    cfg.optim.lr = 1e-3
    t = Trainer(cfg, tmp_path / "p2p", progress=False, tensorboard=False)
    before = t.evaluate()["eval_l1"]
    result = t.fit()
    assert result.eval["eval_l1"] < 0.5 * before, (before, result.eval)
    assert (tmp_path / "p2p" / "export" / "model.safetensors").is_file()
    assert any((tmp_path / "p2p" / "samples").glob("step_*.png"))


def test_image_pool_returns_history_and_restores() -> None:
    pool = ImagePool(size=4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: fakes pass through
    state = pool.state_dict()
    new = torch.full((16, 1, 1, 1), 9.0)
    out = pool.query(new)
    assert (out < 9).any() and (out == 9).any()  # about half come from the history
    twin = ImagePool(size=4, seed=123)
    twin.load_state_dict(state)
    pool2 = ImagePool(size=4, seed=0)
    pool2.query(first)
    assert torch.equal(twin.query(new), pool2.query(new))


def test_cyclegan_trains_and_resumes_exactly(inverted_digits: str, tmp_path) -> None:
    """digits <-> inverted digits; the pools and B's sampler are task state: split run == full run."""
    kw = {
        "model_kwargs": {"width": 4, "n_blocks": 1, "d_width": 4, "d_layers": 2},
        "task_kwargs": {"data_b": inverted_digits, "pool_size": 3},
        "image_size": 16,
    }
    n = 2

    def run(name: str, steps: int, resume: bool = False) -> None:
        cfg = _cfg("cyclegan", "digits", steps, **{k: dict(v) if isinstance(v, dict) else v for k, v in kw.items()})
        Trainer(cfg, tmp_path / name, progress=False, tensorboard=False).fit(resume=resume)

    run("full", 2 * n)
    run("split", n)
    run("split", 2 * n, resume=True)
    full, split = _log(tmp_path / "full"), _log(tmp_path / "split")
    assert sorted(full) == list(range(1, 2 * n + 1))
    assert full == split
    assert {"g/cycle", "g/identity", "d/d_a", "d/d_b"} <= set(full[1])
    assert (tmp_path / "full" / "export" / "model.safetensors").is_file()


@pytest.mark.slow
def test_cyclegan_cycle_loss_falls(inverted_digits: str, tmp_path) -> None:
    cfg = _cfg(
        "cyclegan", "digits", 24, image_size=16,
        model_kwargs={"width": 8, "n_blocks": 2, "d_width": 8, "d_layers": 2},
        task_kwargs={"data_b": inverted_digits},
    )
    cfg.optim.lr = 1e-3
    t = Trainer(cfg, tmp_path / "cyc", progress=False, tensorboard=False)
    log_every = cfg.train.log_every
    assert log_every == 1
    t.fit()
    log = _log(tmp_path / "cyc")
    first = np.mean([log[s]["g/cycle"] for s in range(1, 5)])
    last = np.mean([log[s]["g/cycle"] for s in range(21, 25)])
    assert last < 0.6 * first, (first, last)


def test_cyclegan_needs_domain_b() -> None:
    with pytest.raises(BadInputError, match="d_layers<=2"):
        create_model("cyclegan", in_shape=(1, 16, 16))
    m = create_model("cyclegan", in_shape=(1, 16, 16), width=4, n_blocks=1, d_layers=2)
    with pytest.raises(BadInputError, match="data_b"):
        create_task("cyclegan", m)
    assert m.translate(torch.zeros(1, 1, 16, 16), "ba").shape == (1, 1, 16, 16)
    with pytest.raises(ValueError):
        m.translate(torch.zeros(1, 1, 16, 16), "xy")


def _cli(*args: object) -> int:
    from deepfake_lab.cli import main

    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    return int(info.value.code or 0)


def test_pairs_train_translate_cli(tmp_path, inverted_digits: str) -> None:
    pairs = tmp_path / "pairs"
    assert _cli("pairs", "digits", "-o", pairs, "--kind", "edges", "--size", 16, "--limit", 40) == 0
    assert json.loads((pairs / "pairs.json").read_text())["pairs"] == 40
    assert _cli("pairs", "digits", "-o", pairs, "--kind", "edges") == 2  # never overwrites
    common = ["--steps", 2, "--batch-size", 4, "--runs-dir", tmp_path / "runs", "--no-progress"]
    kw = ["--set", "model_kwargs.width=4", "--set", "model_kwargs.d_width=4", "--set", "model_kwargs.d_layers=2"]
    assert _cli("train", "pix2pix", "--data", pairs, "--name", "p", *common, *kw) == 0
    img = tmp_path / "in.png"
    Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16)).save(img)
    out = tmp_path / "out.png"
    assert _cli("translate", tmp_path / "runs" / "p", "-i", img, "-o", out) == 0
    assert Image.open(out).size[0] > Image.open(out).size[1]  # input | output side by side
    cyc = ["--set", "model_kwargs.width=4", "--set", "model_kwargs.n_blocks=1", "--set", "model_kwargs.d_layers=2"]
    cyc += ["--set", f"task_kwargs.data_b={inverted_digits}", "--set", "data.image_size=16"]
    assert _cli("train", "cyclegan", "--data", "digits", "--name", "c", *common, *cyc) == 0
    assert _cli("translate", tmp_path / "runs" / "c", "-i", img, "--direction", "ba", "-o", out) == 0
    assert _cli("translate", tmp_path / "runs" / "c", "-i", img, "--direction", "up", "-o", out) == 2
    assert _cli("train", "cyclegan", "--data", "digits", "--name", "c2", *common, *cyc[:-2]) == 2  # 8 px: too small
    assert _cli("translate", tmp_path / "runs" / "p", "-i", tmp_path / "nothing.png", "-o", out) == 2
    assert _cli("sample", tmp_path / "runs" / "p", "-o", out) == 2  # image-to-image: use translate
