"""Shared fixtures: small, real data (sklearn digits, a real face photo in tests/fixtures, the sample corpus).

Builders that are plain functions/constants live in `tests/support/`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deepfake_lab.config import DataConfig, OptimConfig, RunConfig, TrainConfig
from deepfake_lab.train.trainer import Trainer
from support.corpus import MARGIN as SWAP_MARGIN
from support.corpus import SIZE as SWAP_SIZE
from support.corpus import sample
from support.media import face_frames, write_video
from support.scan import CROP, MARGIN, N_BLANK, N_FAKE, N_REAL, fake_frames


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(2)


@pytest.fixture(scope="session", autouse=True)
def _provenance_home(tmp_path_factory: pytest.TempPathFactory):
    """Signing keys made by tests go to a temporary home, never the user's ~/.config (subprocesses inherit it)."""
    old = os.environ.get("DEEPFAKE_LAB_HOME")
    os.environ["DEEPFAKE_LAB_HOME"] = str(tmp_path_factory.mktemp("dfl-home"))
    yield
    if old is None:
        os.environ.pop("DEEPFAKE_LAB_HOME", None)
    else:
        os.environ["DEEPFAKE_LAB_HOME"] = old


@pytest.fixture
def train_quick(tmp_path):
    """Train a model on digits through the one Trainer; returns (trainer, result)."""
    counter = iter(range(10**6))

    def _train(
        model: str,
        *,
        steps: int,
        model_kwargs=None,
        task_kwargs=None,
        lr=1e-3,
        batch_size=64,
        seed=0,
        scheduler="none",
        data="digits",
        **train_kw,
    ):
        cfg = RunConfig(
            model=model,
            model_kwargs=model_kwargs or {},
            task_kwargs=task_kwargs or {},
            data=DataConfig(name=data),
            optim=OptimConfig(lr=lr, scheduler=scheduler),
            train=TrainConfig(
                steps=steps,
                batch_size=batch_size,
                seed=seed,
                sample_every=10**6,
                checkpoint_every=10**6,
                log_every=100,
                **train_kw,
            ),
        )
        trainer = Trainer(cfg, tmp_path / f"run{next(counter)}", progress=False, tensorboard=False)
        return trainer, trainer.fit()

    return _train


# --- scan: tiny videos of a real face photo and a meso4 detector trained in seconds

@pytest.fixture(scope="session")
def scan_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """real.mp4 (faces then blank frames, with audio), fake.mp4 (manipulated faces), mixed.mp4 (N_REAL real
    frames then N_FAKE manipulated ones), blank.png (no face), face.jpg."""
    d = tmp_path_factory.mktemp("scanmedia")
    real = face_frames(N_REAL + N_FAKE)
    fake = fake_frames(real)
    blank = [np.full((240, 320, 3), 60, np.uint8)] * N_BLANK
    write_video(d / "real.mp4", real + blank)
    write_video(d / "fake.mp4", fake)
    write_video(d / "mixed.mp4", real[:N_REAL] + fake[N_REAL:])
    Image.fromarray(blank[0]).save(d / "blank.png")
    Image.fromarray(real[3]).save(d / "face.jpg", quality=95)
    return {
        "real": d / "real.mp4",
        "fake": d / "fake.mp4",
        "mixed": d / "mixed.mp4",
        "blank": d / "blank.png",
        "face": d / "face.jpg",
        "dir": d,
    }


@pytest.fixture(scope="session")
def tiny_detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A meso4 (64 px, margin 0.1) trained through the one Trainer on aligned crops of real and manipulated
    frames; returns the export folder (model.safetensors + model.json with a `crop` entry)."""
    from deepfake_lab.config import DataConfig, OptimConfig, RunConfig, TrainConfig
    from deepfake_lab.faces import align_face, create_detector
    from deepfake_lab.train.checkpoint import export_model, load_exported
    from deepfake_lab.train.trainer import Trainer

    root = tmp_path_factory.mktemp("scandet")
    data = root / "data"
    rng = np.random.default_rng(0)
    frames = face_frames(24, size=(320, 240))
    shifted = [np.roll(f, int(rng.integers(-20, 20)), axis=1) for f in frames]
    with create_detector("mediapipe") as det:
        for i, frame in enumerate(frames + shifted):
            faces = det(frame)
            if not faces:
                continue
            f = faces[0]
            real_crop = align_face(frame, f.mesh, CROP, MARGIN).image  # type: ignore[arg-type]
            g = frame.copy()
            x0, y0, x1, y1 = (max(0, int(v)) for v in f.bbox)
            g[y0:y1, x0:x1] = g[y0:y1, x0:x1, ::-1]
            fake_crop = align_face(g, f.mesh, CROP, MARGIN).image  # type: ignore[arg-type]
            for label, crop in (("real", real_crop), ("fake", fake_crop)):
                (data / label).mkdir(parents=True, exist_ok=True)
                Image.fromarray(crop).save(data / label / f"{i:03d}.png")
    cfg = RunConfig(
        model="meso4",
        model_kwargs={"image_size": CROP},
        data=DataConfig(name=str(data), image_size=CROP),
        optim=OptimConfig(lr=3e-3),
        train=TrainConfig(
            steps=60, batch_size=16, log_every=100, sample_every=10**6, checkpoint_every=10**6, threads=1, seed=0
        ),
    )
    torch.manual_seed(0)
    result = Trainer(cfg, root / "run", progress=False, tensorboard=False).fit()
    net, card = load_exported(result.run_dir)
    card = {k: v for k, v in card.items() if k not in ("kind", "format_version", "model", "model_kwargs", "family")}
    card.update({"name": "tiny-meso4-rb-swap", "crop": {"size": CROP, "margin": MARGIN}})
    export_model(
        net, root / "export", model_name="meso4", model_kwargs={"image_size": CROP}, family="detector", card=card
    )
    return root / "export"


# --- face swap: tiny real facesets of the two sample identities, an untrained swap model, a short clip

@pytest.fixture(scope="session")
def swap_facesets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(faceset of the woman, faceset of the man): 64 px crops, margin 0.1, every 20th / 4th frame."""
    from deepfake_lab.faces.extract import ExtractOptions
    from deepfake_lab.pipelines.extract import extract

    root = tmp_path_factory.mktemp("swapfaces")
    woman, man = sample("WolfgangLanger_Pexels.mp4"), sample("single_face.mp4")
    extract([woman], root / "a", ExtractOptions(size=SWAP_SIZE, margin=SWAP_MARGIN, every=20, max_faces=1))
    extract([man], root / "b", ExtractOptions(size=SWAP_SIZE, margin=SWAP_MARGIN, every=4, max_faces=1))
    return root / "a", root / "b"


@pytest.fixture(scope="session")
def man_video() -> Path:
    return sample("single_face.mp4")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An (untrained) swap-lite export: enough to test the conversion plumbing."""
    from deepfake_lab.models.catalogue import create_model
    from deepfake_lab.train.checkpoint import export_model

    torch.manual_seed(0)
    m = create_model("swap-lite", width=8, latent_dim=32, crop_margin=SWAP_MARGIN)
    st, _ = export_model(
        m, tmp_path_factory.mktemp("model"), model_name="swap-lite",
        model_kwargs={"width": 8, "latent_dim": 32, "crop_margin": SWAP_MARGIN}, family="swap",
    )  # fmt: skip
    return st


@pytest.fixture(scope="module")
def short_clip(man_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """First 10 frames of single_face.mp4 (with its audio)."""
    from deepfake_lab.video import VideoWriter, open_media

    out = tmp_path_factory.mktemp("clip") / "clip.mp4"
    with open_media(man_video) as r, VideoWriter(out, fps=r.info.fps, audio_from=man_video, preset="ultrafast") as w:
        for f in r:
            if f.index >= 10:
                break
            w.write(f.image, time=f.time)
    return out
