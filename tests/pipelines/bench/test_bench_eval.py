"""`bench eval` on a tiny hand-made benchmark: every section of the report, resumption, CLI errors."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake_lab.cli import main
from deepfake_lab.data.augment import jpeg
from deepfake_lab.errors import BadInputError
from deepfake_lab.metrics.detection import roc_auc
from deepfake_lab.pipelines.bench.evaluate import EvalOptions, evaluate_bench
from deepfake_lab.pipelines.bench.experiments import video_level
from deepfake_lab.pipelines.bench.manifest import MANIFEST, ManifestRow
from support.realfake_toy import make_toy


def _write_bench(root: Path, n: int = 48) -> Path:
    """real: smooth toy images; fakes 'up2' (nearest 2x up-sampling) and 'blocky' (the same, then JPEG q20).

    Splits by clip (8 images per clip); compressions c23, c40 (stronger JPEG as a stand-in) and jpeg50.
    """
    rows: list[ManifestRow] = []
    for si, split in enumerate(("train", "test")):
        imgs, labels = make_toy(n, size=32, seed=si)
        real, fake = imgs[labels == 0], imgs[labels == 1]
        sets = {"real": real, "up2": fake[: n // 2 + 8], "blocky": jpeg(fake[n // 2 - 8 :], 20)}
        for method, x in sets.items():
            for comp, q in (("c23", 90), ("c40", 25), ("jpeg50", 50)):
                if comp == "jpeg50" and split == "train":
                    continue
                xc = jpeg(x, q)
                sub = "real" if method == "real" else f"fake/{method}"
                (root / comp / split / sub).mkdir(parents=True, exist_ok=True)
                for i, im in enumerate(xc):
                    rel = f"{comp}/{split}/{sub}/{method}_{i:04d}.png"
                    Image.fromarray(im.permute(1, 2, 0).numpy()).save(root / rel)
                    clip = f"{method}{i // 8}.mp4:{split}"
                    rows.append(ManifestRow(rel, int(method != "real"), method, f"{method}{i // 8}.mp4", clip, "toy",
                                            "", i, comp, split))  # fmt: skip
    (root / MANIFEST).write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def toy_bench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_bench(tmp_path_factory.mktemp("toybench"))


OPTS = dict(steps=25, batch_size=16, image_size=32, finetune_steps=10, replay=8, gan_track=False, top=4)


def test_bench_eval_report_has_every_section(toy_bench, tmp_path):
    out = tmp_path / "ev"
    dets = ("meso4-bench", "spectrum-lr-bench", "meso-inception4")
    rep = evaluate_bench(toy_bench, out, EvalOptions(**OPTS, new_method="blocky", detectors=dets), progress=False)
    assert rep["methods"] == ["up2", "blocky"] and rep["compressions"] == ["c23", "c40", "jpeg50"]
    spec = rep["detectors"]["spectrum-lr-bench"]
    meso = rep["detectors"]["meso4-bench"]
    # the frequency detector sees nearest up-sampling at once (the toy's only systematic difference)
    assert spec["in_domain"]["auc"] > 0.9
    for d in (spec, meso):
        ind = d["in_domain"]
        for k in ("auc", "ap", "eer", "accuracy", "log_loss", "video_auc_mean", "video_auc_max", "video_auc_confident"):
            assert np.isfinite(ind[k]), k
        assert set(d["auc_by_compression"]) == {"c23", "c40", "jpeg50"}
        assert set(d["leave_one_out"]) == {"up2", "blocky"}
        assert set(d["train_x_test_y"]) == {"up2", "blocky"} and set(d["train_x_test_y"]["up2"]) == {"up2", "blocky"}
    evo = meso["evolution"]
    assert evo["new_method"] == "blocky" and evo["old_methods"] == ["up2"]
    for mode in ("naive", "replay"):
        assert evo[mode]["forgetting"] == pytest.approx(evo["before"]["auc_old"] - evo[mode]["auc_old"])
    assert "evolution" not in spec  # closed-form detectors are refitted, not fine-tuned
    extra = rep["detectors"]["meso-inception4"]  # a second CNN: no matrices (they are run for the first CNN)
    assert "leave_one_out" not in extra and np.isfinite(extra["in_domain"]["auc"])
    s = rep["summary"]["meso4-bench"]
    assert s["c23_to_c40_auc_drop"] == pytest.approx(
        meso["auc_by_compression"]["c23"] - meso["auc_by_compression"]["c40"]
    )
    for f in ("roc.png", "quality.png", "methods-meso4-bench.png", "evolution-meso4-bench.png",
              "gradcam-meso4-bench.png", "spectra-spectrum-lr-bench.png", "report.html", "report.json"):  # fmt: skip
        assert (out / f).is_file(), f
    page = (out / "report.html").read_text()
    assert "leave-one-method-out" in page and "train on X" in page and "evolution" in page
    assert json.loads((out / "report.json").read_text())["summary"] == json.loads(json.dumps(rep["summary"]))
    # resuming: every training run is reused, nothing is trained again
    again = evaluate_bench(toy_bench, out, EvalOptions(**OPTS, new_method="blocky", detectors=dets), progress=False)
    assert again["timings"] == {}
    assert again["detectors"]["meso4-bench"]["in_domain"]["auc"] == pytest.approx(meso["in_domain"]["auc"])


def test_video_level_groups_clips_of_one_method():
    spec = [(0, "real", "a"), (0, "real", "a"), (1, "x", "a"), (1, "x", "a"), (0, "real", "b"), (1, "x", "b")]
    rows = [ManifestRow(f"{i}", lab, m, "v", c, "", "", i, "c23", "test") for i, (lab, m, c) in enumerate(spec)]
    p = np.array([0.1, 0.3, 0.9, 0.2, 0.4, 0.6])
    v = video_level(rows, p)
    assert v["videos"] == 4  # (real, a), (x, a), (real, b), (x, b)
    assert v["video_auc_mean"] == pytest.approx(roc_auc([0, 1, 0, 1], [0.2, 0.55, 0.4, 0.6]))
    assert v["video_auc_max"] == pytest.approx(roc_auc([0, 1, 0, 1], [0.3, 0.9, 0.4, 0.6]))


def test_bench_eval_rejects_bad_input(toy_bench, tmp_path):
    with pytest.raises(BadInputError, match="not a benchmark"):
        evaluate_bench(tmp_path, tmp_path / "o", EvalOptions(**OPTS))
    with pytest.raises(BadInputError, match="no c0 images"):
        evaluate_bench(toy_bench, tmp_path / "o", EvalOptions(**{**OPTS, "train_compression": "c0"}))
    with pytest.raises(BadInputError, match="unknown detector"):
        evaluate_bench(toy_bench, tmp_path / "o", EvalOptions(**{**OPTS, "detectors": ("nope",)}))
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "keep.txt").write_text("mine")
    with pytest.raises(BadInputError, match="not empty"):
        evaluate_bench(toy_bench, tmp_path / "user", EvalOptions(**OPTS))
    assert (tmp_path / "user" / "keep.txt").read_text() == "mine"


def test_bench_cli_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "eval", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("error: ") and "Traceback" not in err
    with pytest.raises(SystemExit) as exc:
        main(["bench", "build", "-o", str(tmp_path / "b"), "--crf", "0,x"])
    assert exc.value.code == 2 and "--crf" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["bench", "methods"])
    assert exc.value.code == 0 and "graphics-swap" in capsys.readouterr().out


@pytest.mark.slow
def test_gan_track_cross_generator_ap(tmp_path, toy_bench):
    rep = evaluate_bench(
        toy_bench, tmp_path / "g",
        EvalOptions(**{**OPTS, "gan_track": True, "gan_steps": 30, "matrices": False, "explain": False}),
        progress=False,
    )  # fmt: skip
    g = rep["gan_track"]
    for det in ("spectrum-lr", "meso4"):
        ap = g[det]["ap_train_x_test_y"]
        assert set(ap) == {"dcgan-32", "gan-mlp"} and all(0 <= v <= 1 for row in ap.values() for v in row.values())


def test_detector_presets_resolve_and_the_default_one_trains(toy_bench, tmp_path):
    from deepfake_lab.config import preset_names
    from deepfake_lab.models.catalogue import model_entry
    from deepfake_lab.train.run import build_run_config
    from deepfake_lab.train.trainer import Trainer

    names = [n for n, fam in preset_names().items() if fam == "detectors"]
    assert {"detector-default", "meso4-bench", "spectrum-lr-bench", "efficientnet-b0-bench"} <= set(names)
    for n in names:
        assert model_entry(build_run_config(n).model).family == "detector", n
    cfg = build_run_config(
        "detector-default",
        overrides=[f"data.name={toy_bench / 'c23' / 'train'}", "data.image_size=32", "train.steps=4",
                   "train.batch_size=8", "train.threads=1"],
    )  # fmt: skip
    result = Trainer(cfg, tmp_path / "run", progress=False, tensorboard=False).fit()
    assert result.step == 4 and np.isfinite(result.eval["eval_auc"])
    assert cfg.task_kwargs["h264_p"] > 0 and cfg.task_kwargs["jpeg_p"] > 0  # robustness augmentation is on
