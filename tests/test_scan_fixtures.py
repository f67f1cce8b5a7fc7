"""Fixtures for the scan tests: tiny videos of a real face photo and a meso4 detector trained in seconds.

"Fake" here is a crude manipulation (red and blue channels swapped inside the face box) that a Meso-4 learns in a
few dozen steps, so that the tests can check that scores follow the manipulated frames and faces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from test_extract_cli import face_frames, write_video

CROP, MARGIN = 64, 0.1
N_REAL, N_FAKE, N_BLANK = 10, 10, 4


def fake_frames(frames: list[np.ndarray]) -> list[np.ndarray]:
    from deepfake_lab.faces import create_detector

    out = []
    with create_detector("mediapipe") as det:
        for frame in frames:
            g = frame.copy()
            for f in det(frame):
                x0, y0, x1, y1 = (max(0, int(v)) for v in f.bbox)
                g[y0:y1, x0:x1] = g[y0:y1, x0:x1, ::-1]
            out.append(g)
    return out


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
