"""torch.distributed through the one Trainer: 2 gloo processes on CPU behave like 1 process with the global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from deepfake_lab.config import DataConfig, RunConfig, TrainConfig
from deepfake_lab.errors import BadInputError
from deepfake_lab.train import distributed as ddp
from deepfake_lab.train.checkpoint import load_training_state
from deepfake_lab.train.trainer import Trainer


def _why(proc: subprocess.CompletedProcess) -> str:
    """The ranks' own error lines (torchrun's summary alone fills the tail of stderr)."""
    keys = ("Error", "error", "terminate", "what()", "Traceback", "Abort")
    lines = [x for x in proc.stderr.splitlines() if any(k in x for k in keys)]
    return "\n".join(lines[:40]) + "\n...\n" + proc.stderr[-1500:]


def _torchrun(args: list[str], cwd: Path, nproc: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    return subprocess.run(
        [*cmd, "-m", "deepfake_lab", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _losses(run: Path) -> dict[int, float]:
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in lines if "loss" in r}


def _cfg(steps: int, name: str) -> RunConfig:
    return RunConfig(
        model="ae-dense",
        data=DataConfig(name="digits"),
        name=name,
        train=TrainConfig(steps=steps, batch_size=64, log_every=5, sample_every=10**6, checkpoint_every=10**6),
    )


def test_two_processes_match_one_process_with_the_global_batch(tmp_path: Path) -> None:
    common = ["--data", "digits", "--batch-size", "64", "--no-progress", "--set", "train.log_every=5"]
    proc = _torchrun(["train", "ae-dense", "--steps", "20", "--name", "ddp", *common], tmp_path)
    assert proc.returncode == 0, _why(proc)
    assert proc.stdout.count("done:") + proc.stderr.count("done:") == 1  # only rank 0 talks

    one = Trainer(_cfg(20, "one"), tmp_path / "runs" / "one", progress=False, tensorboard=False).fit()
    ddp_losses, one_losses = _losses(tmp_path / "runs" / "ddp"), _losses(one.run_dir)
    assert sorted(ddp_losses) == sorted(one_losses) == [5, 10, 15, 20]
    for step, loss in one_losses.items():
        assert ddp_losses[step] == pytest.approx(loss, rel=1e-5), step
    assert ddp_losses[20] < ddp_losses[5]  # it trained

    state = load_training_state(tmp_path / "runs" / "ddp" / "checkpoints" / "last.pt")
    assert state["world_size"] == 2 and len(state["rng_ranks"]) == 2
    one_state = load_training_state(one.run_dir / "checkpoints" / "last.pt")
    for k, v in one_state["nets"]["model"].items():
        torch.testing.assert_close(state["nets"]["model"][k], v, rtol=1e-4, atol=1e-5)  # summation order differs

    # Resume with another world size: 2 processes for 10 steps, then 1 process to 20 == 20 steps in one go.
    proc = _torchrun(["train", "ae-dense", "--steps", "10", "--name", "half", *common], tmp_path)
    assert proc.returncode == 0, _why(proc)
    from deepfake_lab.train.trainer import resume_config

    run = tmp_path / "runs" / "half"
    cfg = resume_config(run)
    cfg.train.steps = 20
    Trainer(cfg, run, progress=False, tensorboard=False).fit(resume=True)
    assert _losses(run)[20] == pytest.approx(one_losses[20], rel=1e-5)


def test_gan_trains_on_two_processes(tmp_path: Path) -> None:
    """Two optimisers and two nets (D phase leaves G without gradients): still one clean run."""
    proc = _torchrun(
        ["train", "gan-mlp", "--data", "digits", "--steps", "6", "--batch-size", "32", "--name", "g", "--no-progress"],
        tmp_path,
    )
    assert proc.returncode == 0, _why(proc)
    state = load_training_state(tmp_path / "runs" / "g" / "checkpoints" / "last.pt")
    assert state["step"] == 6 and set(state["optimizers"]) == {"discriminator", "generator"}
    assert (tmp_path / "runs" / "g" / "export" / "model.safetensors").exists()


def test_fp16_needs_cuda(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    cfg = _cfg(2, "x")
    cfg.train.precision = "fp16"
    with pytest.raises(BadInputError, match="fp16 needs a CUDA"):
        Trainer(cfg, tmp_path / "x", progress=False, tensorboard=False)


def test_single_process_helpers_are_no_ops() -> None:
    info = ddp.env_info()
    assert not info.enabled and info.is_main
    assert ddp.mean_scalars({"a": 1.5}) == {"a": 1.5}
    assert ddp.gather_objects(3) == [3] and ddp.broadcast_object("x") == "x" and ddp.any_rank(True)
    items = list(range(7))
    assert ddp.shard(items, ddp.DistInfo(0, 2, 0)) == [0, 2, 4, 6]
    assert ddp.shard(items, ddp.DistInfo(1, 2, 0)) == [1, 3, 5]


def test_device_selection() -> None:
    from deepfake_lab.train.trainer import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(BadInputError, match="device must be"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(BadInputError, match="no CUDA device"):
            resolve_device("cuda:0")
