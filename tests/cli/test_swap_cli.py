"""`deepfake-lab swap` and `train --faces-a/--faces-b`: end to end on tiny real media, and bad inputs as
one-line errors (exit 2, no traceback)."""

from __future__ import annotations

import json

import av
import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

from deepfake_lab.models.catalogue import create_model
from deepfake_lab.train.checkpoint import export_model
from deepfake_lab.video import VideoWriter, open_media
from support.cli import assert_one_line_error, run_cli


def test_swap_video_end_to_end(short_clip, tiny_model, tmp_path, capsys) -> None:
    out = tmp_path / "out.mp4"
    code, _, err = run_cli(["swap", short_clip, "--model", tiny_model, "--to", "a", "-o", out, "-q"], capsys)
    assert code == 0, err
    side = json.loads((tmp_path / "out.mp4.json").read_text())
    assert side["synthetic"] is True and side["frames_replaced"] >= 8 and side["model"]["weights_sha256"]
    assert side["replaced"][0]["faces"][0]["bbox"]
    with av.open(str(out)) as c:
        assert json.loads(c.metadata["comment"])["synthetic"] is True
        assert {s.type for s in c.streams} == {"video", "audio"}
    with open_media(out) as r, open_media(short_clip) as s:
        a = next(iter(r)).image.astype(int)
        b = next(iter(s)).image.astype(int)
    changed = np.abs(a - b).max(axis=2) > 30
    assert 0.002 < changed.mean() < 0.3  # the face changed, the rest of the frame did not


def test_swap_image_and_poisson(swap_facesets, tiny_model, man_video, tmp_path, capsys) -> None:  # noqa: F811
    with open_media(man_video) as r:
        frame = next(iter(r)).image
    src = tmp_path / "face.png"
    Image.fromarray(frame).save(src)
    out = tmp_path / "swapped.png"
    args = ["swap", src, "-m", tiny_model, "-o", out, "--blend", "poisson", "--colour", "histogram"]
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    with Image.open(out) as im:
        assert im.size == (frame.shape[1], frame.shape[0]) and "synthetic" in im.info.get("Comment", "")
    assert json.loads((tmp_path / "swapped.png.json").read_text())["faces_replaced"] == 1
    code, _, err = run_cli(["swap", src, "-m", tiny_model, "-o", tmp_path / "x.mp4"], capsys)
    assert_one_line_error(code, err, "image input")


def test_swap_video_without_faces_passes_through(tiny_model, tmp_path, capsys) -> None:
    clip = tmp_path / "noface.mp4"
    with VideoWriter(clip, fps=10, preset="ultrafast") as w:
        for i in range(6):
            w.write(np.full((96, 128, 3), 40 + 20 * i, np.uint8))
    out = tmp_path / "o.mp4"
    code, _, err = run_cli(["swap", clip, "-m", tiny_model, "-o", out, "-q"], capsys)
    assert code == 0 and "no face found" in err
    side = json.loads((tmp_path / "o.mp4.json").read_text())
    assert side["frames"] == 6 and side["frames_replaced"] == 0 and side["frames_without_faces_ranges"] == [[0, 5]]


def test_swap_rejects_foreign_models(short_clip, tmp_path, capsys) -> None:
    out = tmp_path / "o.mp4"
    rnd = tmp_path / "random.safetensors"
    save_file({"w": torch.zeros(3)}, str(rnd))
    code, _, err = run_cli(["swap", short_clip, "-m", rnd, "-o", out], capsys)
    assert_one_line_error(code, err, "card")
    (tmp_path / "random.json").write_text(json.dumps({"name": "something else"}))
    code, _, err = run_cli(["swap", short_clip, "-m", tmp_path / "random.json", "-o", out], capsys)
    assert_one_line_error(code, err, "not a deepfake-lab model card")
    det = create_model("meso4")
    st, _ = export_model(det, tmp_path / "det", model_name="meso4", model_kwargs={}, family="detector")
    code, _, err = run_cli(["swap", short_clip, "-m", st, "-o", out], capsys)
    assert_one_line_error(code, err, "detector", "not a face-swap model")
    code, _, err = run_cli(["swap", short_clip, "-m", st, "-o", out, "--to", "c"], capsys)
    assert_one_line_error(code, err, "--to")


def test_train_swap_bad_facesets(swap_facesets, tmp_path, capsys) -> None:  # noqa: F811
    fa, fb = swap_facesets
    base = ["train", "swap-lite", "--steps", "1", "--runs-dir", tmp_path / "runs", "--no-progress"]
    code, _, err = run_cli([*base, "--faces-a", tmp_path, "--faces-b", fb], capsys)
    assert_one_line_error(code, err, "not a faceset")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "faces.jsonl").write_text("")
    code, _, err = run_cli([*base, "--faces-a", fa, "--faces-b", empty], capsys)
    assert_one_line_error(code, err, "empty")
    code, _, err = run_cli([*base, "--faces-a", fa, "--faces-b", fb, "--set", "data.image_size=128"], capsys)
    assert_one_line_error(code, err, "64 px crops")
    code, _, err = run_cli([*base, "--faces-a", fa], capsys)
    assert_one_line_error(code, err, "--faces-b")


def test_train_swap_cli_dry_run(swap_facesets, tmp_path, capsys) -> None:  # noqa: F811
    fa, fb = swap_facesets
    code, out, err = run_cli(["train", "swap-lite", "--faces-a", fa, "--faces-b", fb, "--dry-run"], capsys)
    assert code == 0, err
    assert f"faces_b: {fb}" in out and f"name: {fa}" in out and "crop_margin: 0.1" in out


def test_swap_sharpening_options_and_sidecar(tiny_model, man_video, tmp_path, capsys) -> None:
    """--detail / --sharpen / --upscale change only the face, are recorded in the sidecar's `postprocess`, and
    bad values are one-line errors naming the flag."""
    with open_media(man_video) as r:
        frame = next(iter(r)).image
    src = tmp_path / "face.png"
    Image.fromarray(frame).save(src)
    outs = {}
    variants = {
        "plain": ["--detail", "0", "--sharpen", "0"],
        "sharp": ["--detail", "1", "--sharpen", "0.5", "--upscale", "lanczos"],
    }
    for name, extra in variants.items():
        outs[name] = tmp_path / f"{name}.png"
        # no watermark here: its payload differs per run and would hide where the two outputs differ
        args = ["swap", src, "-m", tiny_model, "-o", outs[name], "--swap-all", "--no-provenance", *extra]
        code, _, err = run_cli(args, capsys)
        assert code == 0, err
    plain, sharp = (np.asarray(Image.open(outs[k])).astype(int) for k in ("plain", "sharp"))
    changed = np.abs(sharp - plain).max(axis=2) > 0
    assert 0.002 < changed.mean() < 0.3  # the face got sharper; the rest of the frame is the same
    post = json.loads((tmp_path / "sharp.png.json").read_text())["postprocess"]
    assert post["upscale"] == "lanczos" and post["unsharp_mask"]["amount"] == 0.5
    assert post["detail_transfer"]["amount"] == 1.0 and post["detail_transfer"]["eyes_mouth_weight"] == 0.0
    plain_post = json.loads((tmp_path / "plain.png.json").read_text())["postprocess"]
    assert plain_post["detail_transfer"] is None and plain_post["unsharp_mask"] is None
    bad = {"--detail": "1.5", "--detail-radius": "9", "--detail-limit": "0", "--sharpen": "-1", "--upscale": "x"}
    for flag, value in bad.items():
        code, _, err = run_cli(["swap", src, "-m", tiny_model, "-o", tmp_path / "x.png", flag, value], capsys)
        assert_one_line_error(code, err, flag)


def test_swap_flag_defaults_are_the_librarys() -> None:
    """The CLI's defaults of the paste-back options are `SwapOptions`'s (the CLI cannot import it at start-up)."""
    import typer

    from deepfake_lab.cli import app
    from deepfake_lab.pipelines.swap_video import SwapOptions

    params = {p.name: p.default for p in typer.main.get_command(app).commands["swap"].params}  # type: ignore[attr-defined]
    lib = SwapOptions()
    for name in ("detail", "detail_radius", "detail_limit", "sharpen", "upscale", "colour", "blend", "paste_size"):
        assert params[name] == getattr(lib, name), name
