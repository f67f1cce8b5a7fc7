"""Detectors train through the one Trainer (and the CLI) on a real/fake folder; labels are real=0, fake=1."""

from __future__ import annotations

import json

import pytest
import torch

from deepfake_lab.config import DataConfig, OptimConfig, RunConfig, TrainConfig
from deepfake_lab.data.datasets import load_dataset
from deepfake_lab.errors import BadInputError
from deepfake_lab.train.checkpoint import load_exported
from deepfake_lab.train.trainer import Trainer
from support.realfake_toy import write_toy_folder


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)  # tiny nets: 2 OpenMP threads only lose (badly, on a shared 2-vCPU machine)


@pytest.fixture(scope="module")
def toy_folder(tmp_path_factory):
    return write_toy_folder(tmp_path_factory.mktemp("toy"), 160, size=32, methods=("nearest", "tconv"))


def _cfg(folder, model: str, steps: int, **kw) -> RunConfig:
    return RunConfig(
        model=model,
        model_kwargs=kw.pop("model_kwargs", {}),
        task_kwargs=kw.pop("task_kwargs", {}),
        data=DataConfig(name=str(folder), image_size=32),
        optim=OptimConfig(lr=kw.pop("lr", 3e-3)),
        train=TrainConfig(
            steps=steps, batch_size=32, log_every=50, sample_every=10**6, checkpoint_every=10**6, threads=1, **kw
        ),
    )


def test_real_fake_folder_labels_do_not_follow_sort_order(tmp_path):
    # "Fake" < "real" < "zz" alphabetically: labels must still be real=0, fake=1
    root = write_toy_folder(tmp_path / "d", 10, size=16, methods=("a", "b"))
    (root / "fake").rename(root / "Fake")
    ds = load_dataset(str(root), "all", image_size=16)
    assert ds.classes == ["real", "fake"]
    assert ds.methods is not None and set(ds.methods) == {"real", "a", "b"}
    for y, m in zip(ds.labels.tolist(), ds.methods, strict=True):
        assert y == (0 if m == "real" else 1)
    sub = ds.subset(torch.tensor([0, len(ds) - 1]))
    assert sub.methods == [ds.methods[0], ds.methods[-1]]
    # a folder with other class names keeps the generic behaviour
    (root / "real").rename(root / "zz")
    assert load_dataset(str(root), "all", image_size=16).classes == ["Fake/a", "Fake/b", "zz"]


def test_detection_task_rejects_non_real_fake_data(tmp_path):
    cfg = RunConfig(model="meso4", model_kwargs={"image_size": 32}, data=DataConfig(name="digits"))
    cfg.train = TrainConfig(steps=1, batch_size=8, threads=1)
    with pytest.raises(BadInputError, match="real/ and fake/"):
        Trainer(cfg, tmp_path / "r", progress=False, tensorboard=False).fit()


def test_meso4_learns_the_toy_through_the_trainer(tmp_path, toy_folder):
    cfg = _cfg(toy_folder, "meso4", 150, model_kwargs={"image_size": 32, "dropout": 0.2})
    result = Trainer(cfg, tmp_path / "meso", progress=False, tensorboard=False).fit()
    assert result.eval["eval_auc"] > 0.8, result.eval
    assert {"eval_accuracy", "eval_ap", "eval_eer", "eval_log_loss", "eval_auc_jpeg50"} <= set(result.eval)
    model, card = load_exported(result.run_dir)
    assert card["model"] == "meso4" and card["metrics"]["eval_auc"] == result.eval["eval_auc"]
    assert model(torch.rand(2, 3, 32, 32))["probs"].shape == (2,)


def test_augmented_bf16_training_runs_and_resumes_state(tmp_path, toy_folder):
    aug = {"jpeg_p": 0.5, "blur_p": 0.3, "resize_p": 0.3, "h264_p": 0.3, "jitter_p": 0.3, "h264_crf": [20, 30]}
    cfg = _cfg(toy_folder, "resnet18", 4, precision="bf16", task_kwargs=aug,
               model_kwargs={"image_size": 32, "width": 8, "small_stem": True})  # fmt: skip
    trainer = Trainer(cfg, tmp_path / "bf16", progress=False, tensorboard=False)
    assert trainer.channels_last
    result = trainer.fit()
    assert result.step == 4 and 0 <= result.eval["eval_auc"] <= 1
    state = torch.load(result.run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert "rng" in state["task"]


def test_frequency_detector_fits_through_the_trainer(tmp_path, toy_folder):
    cfg = _cfg(toy_folder, "spectrum-lr", 100, model_kwargs={"n_bins": 32})
    result = Trainer(cfg, tmp_path / "freq", progress=False, tensorboard=False).fit()
    assert result.step == 0 and result.eval["eval_auc"] > 0.9
    model, card = load_exported(result.run_dir)
    assert card["training"]["task"] == "frequency-detection"
    assert model.weight.abs().sum() > 0


def test_cli_trains_a_detector(tmp_path, toy_folder, capsys):
    from deepfake_lab.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["train", "meso4", "--data", str(toy_folder), "--set", "data.image_size=32", "--set",
              "model_kwargs.image_size=32", "--steps", "3", "--batch-size", "16", "--no-progress",
              "--runs-dir", str(tmp_path), "--name", "cli", "--set", "task_kwargs.jpeg_p=0.5",
              "--set", "train.threads=1"])  # fmt: skip
    assert exc.value.code == 0
    card = json.loads((tmp_path / "cli" / "export" / "model.json").read_text())
    assert card["model_kwargs"]["image_size"] == 32 and card["training"]["task_kwargs"]["jpeg_p"] == 0.5
    with pytest.raises(SystemExit) as exc:
        main(["train", "meso4", "--data", str(toy_folder), "--steps", "1", "--runs-dir", str(tmp_path),
              "--set", "task_kwargs.jpeg_p=2"])  # fmt: skip
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: jpeg_p must be a probability")


@pytest.mark.slow
def test_h264_augmentation_buys_robustness_to_h264(tmp_path):
    """The lecture's first difficulty: a detector trained on clean images loses its trace after H.264;
    training with H.264/JPEG/blur augmentation keeps more of it (measured: AUC after CRF 35 0.58 -> 0.69)."""
    folder = write_toy_folder(tmp_path / "toy64", 320, size=64, methods=("a", "b"))
    aucs = {}
    for name, tk in (("clean", {}), ("aug", {"jpeg_p": 0.5, "h264_p": 0.5, "h264_crf": [20, 38], "blur_p": 0.2})):
        cfg = _cfg(folder, "meso4", 300, model_kwargs={"image_size": 64, "dropout": 0.2}, task_kwargs=tk)
        cfg.data.image_size = 64
        aucs[name] = Trainer(cfg, tmp_path / name, progress=False, tensorboard=False).fit().eval
    assert aucs["clean"]["eval_auc"] > 0.95 and aucs["aug"]["eval_auc"] > 0.95
    assert aucs["aug"]["eval_auc_h264crf35"] > aucs["clean"]["eval_auc_h264crf35"]


def test_probe_steps_train_only_the_head_first_then_everything(tmp_path, toy_folder):
    # LP-FT: the first `probe_steps` steps leave the backbone (features.*) as it was, then it learns too
    cfg = _cfg(toy_folder, "mobilenet-v2", 2, model_kwargs={"image_size": 32}, task_kwargs={"probe_steps": 2})
    cfg.train.batch_size = 8
    trainer = Trainer(cfg, tmp_path / "probe", progress=False, tensorboard=False)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.fit()
    after = dict(trainer.model.named_parameters())
    assert all(torch.equal(before[n], after[n]) for n in before if n.startswith("features."))
    assert not torch.equal(before["classifier.1.weight"], after["classifier.1.weight"])
    task = trainer.task
    task.phases(1)
    assert not any(p.requires_grad for p in task.backbone)
    task.phases(2)
    assert all(p.requires_grad for p in task.backbone)
    with pytest.raises(BadInputError, match="probe_steps"):
        type(task)(trainer.model, probe_steps=3, backbone_prefix="nothing.")
