"""The one Trainer: run dir contents, exact resume, Ctrl-C, atomic checkpoints, export."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from deepfake_lab.config import DataConfig, OptimConfig, RunConfig, TrainConfig, apply_overrides
from deepfake_lab.errors import BadInputError
from deepfake_lab.train.checkpoint import load_exported, load_training_state, save_training_state
from deepfake_lab.train.logging import read_metrics
from deepfake_lab.train.trainer import Trainer, TrainingInterrupted, resume_config


def _cfg(model: str, steps: int, **task_kwargs) -> RunConfig:
    return RunConfig(
        model=model,
        task_kwargs=task_kwargs,
        data=DataConfig(name="digits"),
        optim=OptimConfig(lr=1e-3, scheduler="cosine", warmup_steps=5),
        train=TrainConfig(steps=steps, batch_size=32, log_every=1, sample_every=7, checkpoint_every=1000),
    )


def _losses(run_dir: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in read_metrics(run_dir) if "loss" in r]


def test_run_dir_has_config_metrics_samples_checkpoint_export(tmp_path):
    result = Trainer(_cfg("ae-dense", 20), tmp_path / "r", progress=False).fit()
    run = result.run_dir
    assert (run / "config.yaml").is_file()
    assert len(_losses(run)) == 20
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "latest.png",  # the preview to keep open while training: the last step's grid
        "step_000007.png",
        "step_000014.png",
        "step_000020.png",
    ]
    assert (run / "samples" / "latest.png").read_bytes() == (run / "samples" / "step_000020.png").read_bytes()
    assert list((run / "tb").iterdir())
    assert (run / "checkpoints" / "last.pt").is_file()
    model, card = load_exported(run)
    assert card["model"] == "ae-dense" and card["training"]["steps"] == 20
    assert card["input"]["shape"] == [1, 8, 8]
    with torch.no_grad():
        assert model(torch.rand(2, 1, 8, 8)).shape == (2, 1, 8, 8)
    # the resolved config round-trips
    assert resume_config(run).model_kwargs["in_shape"] == [1, 8, 8]


@pytest.mark.parametrize(
    ("model", "task_kwargs", "precision"),
    [
        ("ae-denoising", {}, "fp32"),  # random corruption: the global RNG must resume too
        ("ae-stacked", {"pretrain_steps": 6, "n_labels": 50}, "fp32"),  # stage switch inside the resumed half
        ("ae-conv", {}, "bf16"),
    ],
)
def test_resume_is_exact(tmp_path, model, task_kwargs, precision):
    """2N steps == N steps + resume + N steps (constant lr after warm-up: a cosine spans train.steps)."""
    n = 12

    def cfg(steps: int) -> RunConfig:
        c = _cfg(model, steps, **task_kwargs)
        c.train.precision = precision
        c.optim.scheduler = "none"
        return c

    Trainer(cfg(2 * n), tmp_path / "full", progress=False, tensorboard=False).fit()
    Trainer(cfg(n), tmp_path / "split", progress=False, tensorboard=False).fit()
    cont = apply_overrides(resume_config(tmp_path / "split"), [f"train.steps={2 * n}"])
    Trainer(cont, tmp_path / "split", progress=False, tensorboard=False).fit(resume=True)

    a, b = _losses(tmp_path / "full"), _losses(tmp_path / "split")
    assert [s for s, _ in a] == [s for s, _ in b] == list(range(1, 2 * n + 1))
    torch.testing.assert_close(torch.tensor([v for _, v in a]), torch.tensor([v for _, v in b]), rtol=1e-6, atol=1e-7)


def test_interrupted_run_resumes_exactly_with_cosine_schedule(tmp_path, monkeypatch):
    n = 10
    Trainer(_cfg("ae-denoising", 2 * n), tmp_path / "full", progress=False, tensorboard=False).fit()

    trainer = Trainer(_cfg("ae-denoising", 2 * n), tmp_path / "cut", progress=False, tensorboard=False)
    real_step = trainer.train_step

    def step_then_interrupt() -> dict:
        if trainer.step == n:
            raise KeyboardInterrupt
        return real_step()

    monkeypatch.setattr(trainer, "train_step", step_then_interrupt)
    with pytest.raises(TrainingInterrupted):
        trainer.fit()
    Trainer(resume_config(tmp_path / "cut"), tmp_path / "cut", progress=False, tensorboard=False).fit(resume=True)
    a, b = _losses(tmp_path / "full"), _losses(tmp_path / "cut")
    assert [s for s, _ in a] == [s for s, _ in b]
    torch.testing.assert_close(torch.tensor([v for _, v in a]), torch.tensor([v for _, v in b]), rtol=1e-6, atol=1e-7)


def test_existing_run_is_never_overwritten(tmp_path):
    Trainer(_cfg("ae-dense", 3), tmp_path / "r", progress=False, tensorboard=False).fit()
    with pytest.raises(BadInputError, match="already holds a run"):
        Trainer(_cfg("ae-dense", 3), tmp_path / "r", progress=False, tensorboard=False).fit()


def test_training_state_rejects_foreign_files(tmp_path):
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(BadInputError):
        load_training_state(bad)
    torch.save({"weights": torch.zeros(2)}, bad)  # a real torch file, but not ours
    with pytest.raises(BadInputError, match="not a deepfake-lab training state"):
        load_training_state(bad)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"kind": "deepfake-lab/training-state", "x": Evil()}, bad)  # weights_only refuses the pickle
    with pytest.raises(BadInputError):
        load_training_state(bad)


_WRITER = """
import sys, torch
from deepfake_lab.train.checkpoint import save_training_state
path = sys.argv[1]
i = 0
while True:
    i += 1
    save_training_state(path, {"i": i, "blob": torch.full((3_000_000,), float(i))})
    print(i, flush=True)
"""


def test_sigkill_during_save_keeps_previous_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    save_training_state(path, {"i": 0, "blob": torch.zeros(3_000_000)})
    for delay in (0.0, 0.05, 0.13):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the child finished one save: never a vacuous kill
        assert first.strip() and int(first) >= 1, "the writer never saved"
        time.sleep(delay)  # the next saves are under way: the kill lands before, during or after a write
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = load_training_state(path)  # never a torn file
        assert int(state["i"]) >= 1 and bool((state["blob"] == float(state["i"])).all())
    assert not [p for p in tmp_path.iterdir() if p.name != "last.pt" and not p.name.endswith(".tmp")]


def test_ctrl_c_saves_checkpoint_and_resume_continues(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "deepfake_lab",
        "train",
        "ae-dense",
        "--data",
        "digits",
        "--steps",
        "1000000",
        "--runs-dir",
        str(tmp_path),
        "--name",
        "r",
        "--no-progress",
        "--set",
        "train.log_every=10",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    metrics = tmp_path / "r" / "metrics.jsonl"
    # readiness: the first metrics line is written inside the loop, after the Ctrl-C handler is installed
    deadline = time.time() + 300  # start-up alone can take a minute on a loaded 2-core machine
    while time.time() < deadline and proc.poll() is None and not (metrics.exists() and metrics.stat().st_size > 0):
        time.sleep(0.2)
    if not (metrics.exists() and metrics.stat().st_size > 0):
        proc.kill()
        pytest.fail(f"training never logged a step (exit {proc.poll()}): {proc.communicate()[1][-2000:]}")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted at step" in err and "--resume" in err
    step = load_training_state(tmp_path / "r" / "checkpoints" / "last.pt")["step"]
    assert step > 0
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "deepfake_lab",
            "train",
            "--resume",
            str(tmp_path / "r"),
            "--steps",
            str(step + 20),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert load_training_state(tmp_path / "r" / "checkpoints" / "last.pt")["step"] == step + 20
    card = json.loads((tmp_path / "r" / "export" / "model.json").read_text())
    assert card["training"]["steps"] == step + 20


def test_cross_entropy_loss_trains(tmp_path):
    cfg = _cfg("ae-dense", 60)
    cfg.task_kwargs = {"loss": "bce"}
    Trainer(cfg, tmp_path / "bce", progress=False, tensorboard=False).fit()
    losses = [v for _, v in _losses(tmp_path / "bce")]
    assert losses[-1] < 0.8 * losses[0]


def test_resume_after_a_kill_drops_stale_temp_files_and_relogged_steps(tmp_path, monkeypatch):
    """A run killed after logging step 7 with its last checkpoint at step 5 (and a save torn by the kill):
    the resume removes the `.last.pt.*.tmp` leftovers and logs steps 6 and 7 once, not twice."""
    cfg = _cfg("ae-dense", 10)
    cfg.train.checkpoint_every = 5
    run = tmp_path / "r"
    trainer = Trainer(cfg, run, progress=False, tensorboard=False)
    real_step = Trainer.train_step

    def dies_after_step_7(self):
        if self.step == 7:
            raise RuntimeError("killed")  # like kill -9: no checkpoint on the way out
        return real_step(self)

    monkeypatch.setattr(Trainer, "train_step", dies_after_step_7)
    with pytest.raises(RuntimeError, match="killed"):
        trainer.fit()
    monkeypatch.undo()
    assert load_training_state(run / "checkpoints" / "last.pt")["step"] == 5
    assert [s for s, _ in _losses(run)] == list(range(1, 8))
    stale = [run / "checkpoints" / ".last.pt.k1ll3d.tmp", run / "checkpoints" / ".last.pt.x9.tmp"]
    for p in stale:
        p.write_bytes(b"\0" * 1000)
    with (run / "metrics.jsonl").open("a") as f:
        f.write('{"step": 8, "lo')  # a line torn by the kill
    Trainer(resume_config(run), run, progress=False, tensorboard=False).fit(resume=True)
    assert [s for s, _ in _losses(run)] == list(range(1, 11))  # each step once, in order
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    assert (run / "checkpoints" / "last.pt").is_file()
