"""`pipelines.scan`: per-frame / per-track / per-file scores on tiny real media, with a detector trained in
seconds (fixtures in conftest.py); aggregation rules; realtime pacing; live sources; Grad-CAM."""


from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from deepfake_lab.errors import BadInputError, OptionError
from deepfake_lab.metrics.detection import aggregate, confident_strategy
from deepfake_lab.metrics.gradcam import find_cam_layer, grad_cam, overlay_heatmap
from deepfake_lab.models.catalogue import create_model
from deepfake_lab.pipelines import scan as scan_mod
from deepfake_lab.pipelines.scan import (
    FileScan,
    FrameScore,
    ScanOptions,
    load_detector,
    scan_file,
    scan_paths,
)
from deepfake_lab.pipelines.scan import detector as detector_mod
from deepfake_lab.pipelines.scan.schema import check, validate
from deepfake_lab.video import is_live_source
from support.scan import CROP, MARGIN, N_BLANK, N_FAKE, N_REAL


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model(tiny_detector):
    return load_detector(tiny_detector)


# ------------------------------------------------------------------------------------------- aggregation


def test_confident_strategy_branches() -> None:
    many_high = np.array([0.9] * 12 + [0.1] * 8)  # 12 > 20/2.5 and > 11 above 0.8: mean of those
    assert confident_strategy(many_high) == pytest.approx(0.9)
    few_high = np.array([0.9] * 5 + [0.1] * 15)  # 5 high only, 75 % low: plain mean
    assert confident_strategy(few_high) == pytest.approx((5 * 0.9 + 15 * 0.1) / 20)
    mostly_low = np.array([0.05] * 19 + [0.5])  # 95 % below 0.2: mean of the low ones
    assert confident_strategy(mostly_low) == pytest.approx(0.05)
    assert aggregate(few_high, "mean") == pytest.approx(few_high.mean())
    assert aggregate(few_high, "max") == pytest.approx(0.9)
    with pytest.raises(BadInputError):
        aggregate(few_high, "median")
    with pytest.raises(BadInputError):
        confident_strategy(np.array([]))


def test_file_score_ignores_short_tracks_and_reports_no_face() -> None:
    opt = ScanOptions(aggregation="mean", min_track_faces=3)
    f = FileScan(source="x", status="ok")
    for i in range(5):
        faces = [scan_mod.FaceScore(0, (0, 0, 10, 10), 0.1)]
        if i == 2:
            faces.append(scan_mod.FaceScore(1, (20, 0, 30, 10), 0.99))  # a one-frame false detection
        f.frames.append(FrameScore(i, i / 10, faces))
    f.frames.append(FrameScore(5, 0.5, []))
    f.finish(opt)
    assert [t.track for t in f.tracks] == [0, 1] and f.tracks[1].faces == 1
    assert f.score == pytest.approx(0.1) and f.verdict == "authentic"
    assert f.frames[-1].prob is None and f.frames[-1].status == "no_face" and f.frames_without_faces == 1
    empty = FileScan(source="y", status="ok", frames=[FrameScore(0, 0.0, [])])
    empty.finish(opt)
    assert empty.score is None and empty.verdict == "no_face"


# ------------------------------------------------------------------------------------------- scanning


def test_scores_follow_the_manipulated_frames(scan_media, model) -> None:
    assert (model.crop_size, model.margin) == (CROP, MARGIN)  # crop policy read from the card
    res = scan_paths([scan_media["mixed"], scan_media["real"], scan_media["fake"]], model, ScanOptions(detect_every=3))
    mixed, real, fake = res.files
    assert [fr.index for fr in mixed.frames] == list(range(N_REAL + N_FAKE))
    probs = np.array([fr.prob for fr in mixed.frames])
    assert probs[:N_REAL].max() < 0.5 < probs[N_REAL:].min(), probs
    assert [fc.tracked for fr in mixed.frames[:4] for fc in fr.faces] == [False, True, True, False]
    assert fake.score > 0.9 and fake.verdict == "manipulated"
    assert real.score < 0.1 and real.verdict == "authentic"
    # the blank tail of real.mp4: reported as frames without faces, never given a score
    assert real.frames_without_faces == N_BLANK
    assert all(fr.prob is None and fr.status == "no_face" for fr in real.frames[-N_BLANK:])
    assert len(real.tracks) == 1 and real.tracks[0].faces == N_REAL + N_FAKE
    # the kept suspicious crops are the most probable faces, highest first
    assert fake.suspicious and fake.suspicious[0].crop.shape == (CROP, CROP, 3)
    assert [s.prob for s in fake.suspicious] == sorted((s.prob for s in fake.suspicious), reverse=True)
    doc = res.to_dict()
    check(doc)
    json.dumps(doc)  # plain JSON types only
    assert doc["aggregation"]["rule"] == "confident" and "confident" in doc["aggregation"]["track"]
    assert doc["model"]["card"]["name"] == "tiny-meso4-rb-swap" and doc["model"]["crop"] == {
        "size": 64,
        "margin": 0.1,
        "input_size": 64,
    }
    assert doc["files"][1]["frames"][-1] == {
        "index": 23,
        "time": pytest.approx(23 / 8, abs=1e-3),
        "status": "no_face",
        "prob": None,
        "faces": [],
    }


def test_detect_every_one_matches_and_aggregations_are_named(scan_media, model) -> None:
    a = scan_file(scan_media["mixed"], model, ScanOptions(detect_every=1, aggregation="max", precision="fp32"))
    assert not any(fc.tracked for fr in a.frames for fc in fr.faces)
    assert a.tracks[0].score == pytest.approx(max(fc.prob for fr in a.frames for fc in fr.faces))
    b = scan_file(scan_media["mixed"], model, ScanOptions(detect_every=1, aggregation="mean", precision="fp32"))
    assert b.tracks[0].score == pytest.approx(np.mean([fc.prob for fr in b.frames for fc in fr.faces]))
    every = scan_file(scan_media["mixed"], model, ScanOptions(every=4))
    assert [fr.index for fr in every.frames] == [0, 4, 8, 12, 16]


@pytest.fixture
def batch_sizes(model, monkeypatch) -> list[int]:
    """The number of crops of each detector call the `model` fixture gets during a test."""
    sizes: list[int] = []
    predict = model.predict

    def spy(crops: np.ndarray) -> np.ndarray:
        sizes.append(len(crops))
        return predict(crops)

    monkeypatch.setattr(model, "predict", spy)
    return sizes


def test_batch_megabytes_makes_smaller_batches_of_large_frames_with_the_same_scores(
    scan_media, model, batch_sizes
) -> None:
    """A batch also goes to the detector once the frames its faces wait in hold `batch_megabytes` (a 4K frame is
    23.7 MiB): fewer frames in memory, the same score for every face (up to the float rounding that the batch size
    moves in conv kernels)."""
    from deepfake_lab.video import open_media

    with open_media(scan_media["mixed"]) as reader:
        frame_mb = next(iter(reader)).image.nbytes / 2**20
    opt = {"detect_every": 3, "batch_size": 8, "precision": "fp32"}
    ref = scan_file(scan_media["mixed"], model, ScanOptions(**opt))
    ref_sizes, batch_sizes[:] = list(batch_sizes), []
    small = scan_file(scan_media["mixed"], model, ScanOptions(**opt, batch_megabytes=2.5 * frame_mb))
    assert max(ref_sizes) == 8 and max(batch_sizes) == 3 and sum(batch_sizes) == sum(ref_sizes) == N_REAL + N_FAKE
    probs = [fc.prob for fr in ref.frames for fc in fr.faces]
    assert [fc.prob for fr in small.frames for fc in fr.faces] == pytest.approx(probs, rel=1e-4, abs=1e-6)
    with pytest.raises(OptionError, match="batch_megabytes"):
        ScanOptions(batch_megabytes=0).validate()


def test_batch_megabytes_counts_frames_that_hold_a_face_unless_annotation_keeps_all(
    model, tmp_path, batch_sizes
) -> None:
    """Frames without a face are not held for the detector, so they do not fill a batch's budget; with
    `annotate` every frame is kept for drawing and counts."""
    from support.media import face_frames, write_video

    faces = face_frames(12)
    blank = np.full_like(faces[0], 60)
    clip = write_video(tmp_path / "alternate.mp4", [x for f in faces for x in (f, blank)], audio=False)
    opt = ScanOptions(detect_every=1, batch_size=8, precision="fp32", batch_megabytes=2.5 * faces[0].nbytes / 2**20)
    plain = scan_file(clip, model, opt)
    plain_sizes, batch_sizes[:] = list(batch_sizes), []
    drawn = scan_file(clip, model, opt, annotate=tmp_path / "annotated.mp4")
    assert plain_sizes == [3, 3, 3, 3]  # 3 frames with a face fill 2.5 frames' worth; the blank ones do not count
    assert max(batch_sizes) == 2 and sum(batch_sizes) == 12  # 3 frames (2 with a face, or 1) when all are kept
    probs = [fc.prob for fr in plain.frames for fc in fr.faces]
    assert len(probs) == 12 and [fc.prob for fr in drawn.frames for fc in fr.faces] == pytest.approx(probs, rel=1e-4)


def test_card_crop_larger_than_the_input_is_aligned_then_resized(scan_media, tiny_detector, tmp_path) -> None:
    from deepfake_lab.train.checkpoint import export_model, load_exported

    assert detector_mod.crop_policy({"model_kwargs": {"image_size": 64}, "crop": {"size": 128, "margin": 0.1}}) == (
        64,
        128,
        0.1,
    )
    assert detector_mod.crop_policy({"input": {"shape": [3, 32, 32]}}) == (32, None, 0.2)
    net, card = load_exported(tiny_detector)
    card = {k: v for k, v in card.items() if k in ("name", "input", "training")} | {
        "crop": {"size": 128, "margin": 0.1}
    }
    export_model(net, tmp_path, model_name="meso4", model_kwargs={"image_size": 64}, family="detector", card=card)
    m = load_detector(tmp_path)
    assert (m.crop_size, m.align_size, m.margin) == (64, 128, 0.1)
    res = scan_file(scan_media["mixed"], m, ScanOptions(detect_every=3))
    probs = np.array([fr.prob for fr in res.frames])
    assert probs[:N_REAL].max() < 0.5 < probs[N_REAL:].min(), probs
    assert res.suspicious[0].crop.shape == (64, 64, 3)


def test_images_folders_and_no_face(scan_media, model, tmp_path) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "face.jpg").write_bytes(scan_media["face"].read_bytes())
    (tmp_path / "a" / "blank.png").write_bytes(scan_media["blank"].read_bytes())
    res = scan_paths([tmp_path / "a"], model)
    by_name = {Path(f.source).name: f for f in res.files}
    assert set(by_name) == {"face.jpg", "blank.png"}
    assert by_name["face.jpg"].kind == "image" and len(by_name["face.jpg"].frames[0].faces) == 1
    assert by_name["face.jpg"].score < 0.5
    blank = by_name["blank.png"]
    assert blank.status == "ok" and blank.verdict == "no_face" and blank.score is None
    check(res.to_dict())


def test_bad_sources_become_error_entries(scan_media, model, tmp_path) -> None:
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video\n" * 30)
    res = scan_paths([tmp_path / "zero.mp4", scan_media["face"], tmp_path / "text.mp4", tmp_path / "none"], model)
    assert [f.status for f in res.files] == ["error", "ok", "error", "error"]
    assert [f.verdict for f in res.files] == ["error", "authentic", "error", "error"]
    assert "empty file" in res.files[0].message and "no such file" in res.files[3].message
    assert len(res.errors) == 3
    check(res.to_dict())


def test_live_source_realtime_and_max_seconds(scan_media, model) -> None:
    url = scan_media["mixed"].resolve().as_uri()  # file:// URL: opened as a live source by PyAV
    assert is_live_source(url) and is_live_source("/dev/video0") and is_live_source("v4l2:/dev/video0")
    assert not is_live_source(str(scan_media["mixed"])) and not is_live_source("C:/videos/a.mp4")
    t0 = time.perf_counter()
    res = scan_file(url, model, ScanOptions(realtime=True, max_seconds=1.0))
    assert res.kind == "live" and res.info is not None and res.info["frame_count"] is None
    assert time.perf_counter() - t0 >= 0.9  # paced at the native 8 fps
    assert 1 <= len(res.frames) + res.frames_dropped <= 9
    assert all(fr.time <= 1.0 + 1e-6 for fr in res.frames) and res.score is not None
    device = scan_file("lavfi:testsrc=size=160x120:rate=10", model, ScanOptions(realtime=True, max_seconds=0.5))
    assert device.kind == "live" and device.verdict == "no_face" and device.score is None
    assert 2 <= len(device.frames) <= 6 and device.frames_without_faces == len(device.frames)
    missing = scan_file("rtsp://127.0.0.1:9/none", model, ScanOptions())
    assert missing.status == "error" and "cannot open live source" in missing.message


def test_default_model_missing_and_wrong_family(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(scan_mod.DETECTOR_ENV, raising=False)
    monkeypatch.setattr(detector_mod, "DEFAULT_DETECTOR", tmp_path / "detector-default.safetensors")
    with pytest.raises(BadInputError, match="no default detector is installed.*--model"):
        load_detector()
    swap = Path(detector_mod.__file__).parents[2] / "assets" / "swap-lite-wolfgang-man.safetensors"
    with pytest.raises(BadInputError, match="not a detector"):
        load_detector(swap)
    monkeypatch.setenv(scan_mod.DETECTOR_ENV, str(tmp_path / "nothing"))
    with pytest.raises(BadInputError, match="weights not found"):
        load_detector()


def test_auto_precision_is_a_machine_property_and_scores_repeat(
    monkeypatch: pytest.MonkeyPatch, scan_media, tiny_detector
) -> None:
    """`auto` follows the CPU's native-bf16 flags (no timing race): two scans give identical scores."""
    monkeypatch.delenv("DEEPFAKE_LAB_PRECISION", raising=False)
    from deepfake_lab.train import device as device_mod

    monkeypatch.setattr(device_mod, "_cpu_flags", lambda: {"avx2", "amx_bf16", "amx_tile"})
    assert scan_mod.auto_precision("cpu") == "bf16"
    monkeypatch.setattr(device_mod, "_cpu_flags", lambda: {"avx2", "avx512f"})
    assert scan_mod.auto_precision("cpu") == "fp32"
    monkeypatch.setenv("DEEPFAKE_LAB_PRECISION", "bf16")
    assert scan_mod.auto_precision("cpu") == "bf16"
    monkeypatch.delenv("DEEPFAKE_LAB_PRECISION")
    monkeypatch.undo()
    runs = []
    for _ in range(2):
        m = load_detector(tiny_detector)  # a fresh process-like start each time
        res = scan_paths([scan_media["mixed"]], m, ScanOptions(precision="auto"), provenance=False)
        assert res.to_dict()["model"]["precision"] == scan_mod.auto_precision("cpu")
        runs.append([fa.prob for fr in res.files[0].frames for fa in fr.faces])
    assert runs[0] and runs[0] == runs[1]


def test_precision_choice_and_options() -> None:
    net = create_model("meso4", image_size=32)
    m = scan_mod.DetectorModel(
        net=net.eval(), card={"model": "meso4"}, weights=Path("w"), sha256="0" * 64, crop_size=32, margin=0.1
    )
    assert m.choose_precision("auto") in ("fp32", "bf16")
    crops = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), np.uint8)
    m.choose_precision("fp32")
    p32 = m.predict(crops)
    m.choose_precision("bf16")
    assert np.abs(m.predict(crops) - p32).max() < 0.05 and p32.shape == (3,)
    for bad in (dict(detect_every=0), dict(aggregation="median"), dict(threshold=2.0), dict(precision="fp16")):
        with pytest.raises(BadInputError):
            ScanOptions(**bad).validate()  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- schema, Grad-CAM


def test_schema_validator_rejects_bad_documents() -> None:
    assert validate({"schema": "deepfake-lab/scan"})[0] == "$: missing required key 'schema_version'"
    face = {"track": 0, "box": [0, 0, 1], "prob": 1.5, "tracked": "no"}
    sub = FileScan(source="x").to_dict()
    sub["frames"] = [{"index": 0, "time": 0.0, "status": "faces", "prob": 0.2, "faces": [face]}]
    sub["extra"] = 1
    errs = validate(sub, scan_mod_schema_file())
    assert any("fewer than 4 items" in e for e in errs)
    assert any("1.5 > maximum" in e for e in errs)
    assert any("expected boolean" in e for e in errs)
    assert any("unexpected key 'extra'" in e for e in errs)


def scan_mod_schema_file() -> dict:
    from deepfake_lab.pipelines.scan.schema import SCAN_SCHEMA

    return SCAN_SCHEMA["properties"]["files"]["items"]


class _Spot(nn.Module):
    """Conv 1×1 (sum of channels), logit = total activation: the CAM is the input's bright region."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 1, bias=False)
        nn.init.constant_(self.conv.weight, 1.0)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        a = self.conv(x)
        return {"logits": a.mean((1, 2, 3)), "probs": torch.sigmoid(a.mean((1, 2, 3))), "features": a.flatten(1)}


def test_grad_cam_localises_and_skips_non_cnn() -> None:
    x = torch.zeros(1, 3, 32, 32)
    x[:, :, 2:10, 20:30] = 1.0
    cam = grad_cam(_Spot(), x)
    assert cam is not None and cam.shape == (1, 32, 32)
    assert cam[0, 2:10, 20:30].min() > 0.99 and cam[0, 16:, :16].max() < 1e-6
    meso = create_model("meso4", image_size=64).eval()
    assert isinstance(find_cam_layer(meso, torch.rand(1, 3, 64, 64)), nn.Conv2d)
    cams = grad_cam(meso, torch.rand(2, 3, 64, 64))
    assert cams is not None and cams.shape == (2, 64, 64) and float(cams.min()) >= 0 and float(cams.max()) <= 1
    assert grad_cam(create_model("dct-lr", image_size=32), torch.rand(2, 3, 32, 32)) is None
    over = overlay_heatmap(np.zeros((64, 64, 3), np.uint8), cams[0].numpy())
    assert over.shape == (64, 64, 3) and over.dtype == np.uint8


def test_report_timeline_stays_small_and_frequency_detectors_show_crops() -> None:
    from deepfake_lab.pipelines.report import render_report, timeline_svg

    opt = ScanOptions()
    f = FileScan(
        source="long.mp4",
        kind="video",
        info={"width": 64, "height": 64, "fps": 25.0, "frame_count": 10000, "duration": 400.0, "codec": "h264"},
    )
    for i in range(10000):
        faces = [] if 4000 <= i < 5000 else [scan_mod.FaceScore(0, (0, 0, 9, 9), 0.99 if i == 7777 else 0.1)]
        f.frames.append(FrameScore(i, i / 25, faces))
    crop = np.full((32, 32, 3), 128, np.uint8)
    f.suspicious = [scan_mod.Suspicious(0.99, 7777, 7777 / 25, 0, crop)]
    f.finish(opt)
    svg = timeline_svg(f, 0.5)
    assert svg.count('fill="#ddd"') == 1  # one merged face-less span
    assert len(svg) < 60_000 and f"{scan_mod_y(0.99):.1f}" in svg  # binned, peak kept
    dct = scan_mod.DetectorModel(
        net=create_model("dct-lr", image_size=32).eval(),
        card={"model": "dct-lr", "kind": "k", "family": "detector"},
        weights=Path("w.safetensors"),
        sha256="0" * 64,
        crop_size=32,
        margin=0.2,
    )
    page = render_report(scan_mod.ScanResult([f], dct, opt))
    assert "Grad-CAM does not apply" in page and page.count("data:image/png;base64,") == 1
    assert f.verdict == "authentic" and "no manipulation found" in page  # one 99 % frame among 9,000 at 10 %


def scan_mod_y(p: float, top: int = 10, ph: int = 180) -> float:
    """y pixel of probability p in `timeline_svg`'s default geometry."""
    return top + (1 - p) * ph


def test_faces_entering_between_key_frames_are_followed(model) -> None:
    from support.corpus import sample

    clip = sample("noface_face.mov")  # HEVC; no face, then the man walks in (skipped without the corpus)
    every = scan_file(clip, model, ScanOptions(detect_every=1), provenance=False)
    keyed = scan_file(clip, model, ScanOptions(detect_every=5), provenance=False)
    assert [fr.status for fr in keyed.frames] == [fr.status for fr in every.frames]
    assert 60 <= len(every.frames) - every.frames_without_faces <= 80
    assert sum(fc.tracked for fr in keyed.frames for fc in fr.faces) > 40


def test_pick_suspicious_spreads_over_time_and_tracks() -> None:
    from deepfake_lab.pipelines.report import pick_suspicious

    crop = np.zeros((8, 8, 3), np.uint8)
    items = [scan_mod.Suspicious(0.9 - i / 100, i, i / 10, 0, crop) for i in range(20)]  # track 0, 10 fps
    items.append(scan_mod.Suspicious(0.5, 3, 0.3, 1, crop))  # another face in the same frame
    picks = pick_suspicious(items, n=4, min_gap=0.5)
    assert [(s.track, s.index) for s in picks] == [(0, 0), (0, 5), (0, 10), (0, 15)]
    picks = pick_suspicious(items, n=6, min_gap=0.5)
    assert (1, 3) in [(s.track, s.index) for s in picks] and len(picks) == 5


def test_max_faces_and_min_size(scan_media, model, tmp_path) -> None:
    from PIL import Image

    face = np.asarray(Image.open(scan_media["face"]).convert("RGB"))
    pair = np.ascontiguousarray(np.concatenate([face, face[:, ::-1]], axis=1))  # two faces side by side
    Image.fromarray(pair).save(tmp_path / "pair.png")
    both = scan_file(tmp_path / "pair.png", model, ScanOptions(), provenance=False)
    assert len(both.frames[0].faces) == 2 and len(both.tracks) == 2
    one = scan_file(tmp_path / "pair.png", model, ScanOptions(max_faces=1), provenance=False)
    assert len(one.frames[0].faces) == 1
    none = scan_file(tmp_path / "pair.png", model, ScanOptions(min_size=2000), provenance=False)
    assert none.frames[0].status == "no_face" and none.verdict == "no_face"
