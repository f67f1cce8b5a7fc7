"""`deepfake-lab extract` end to end on tiny self-made media (a real face photo crop, moved in a video)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepfake_lab.cli import main
from deepfake_lab.data.faceset import read_faces_jsonl
from deepfake_lab.faces import TEMPLATE_5, transform_points
from deepfake_lab.faces.align import FACE_CENTER, FACE_SIDE
from deepfake_lab.faces.extract import ExtractOptions
from deepfake_lab.pipelines.callbacks import ExtractProgress
from deepfake_lab.pipelines.extract import extract
from deepfake_lab.video import discover, read_image
from support.media import BAD, FACE_JPG, N_BLANK, N_FACE, _bomb, face_frames, write_video


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    blank = [np.full((240, 320, 3), 60, np.uint8)] * N_BLANK
    video = write_video(d / "talk.mp4", face_frames() + blank)
    face = read_image(FACE_JPG)
    pair = np.ascontiguousarray(np.concatenate([face, face[:, ::-1]], axis=1))  # two faces side by side
    cv2.imwrite(str(d / "pair.png"), cv2.cvtColor(pair, cv2.COLOR_RGB2BGR))
    return {"video": video, "photo": FACE_JPG, "pair": d / "pair.png", "dir": d}


def run_cli(args: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["extract", *(str(a) for a in args)])
    out = capsys.readouterr()
    code = exc.value.code if isinstance(exc.value.code, int) else 0
    return code, out.out, out.err


def records(fs: Path) -> list[dict]:
    return list(read_faces_jsonl(fs / "faces.jsonl"))


def test_extract_video_and_photo(media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fs = tmp_path / "fs"
    code, out, err = run_cli([media["video"], media["photo"], "-o", fs, "--size", 128, "-q"], capsys)
    assert code == 0, err
    assert err == ""
    assert f"extracted {N_FACE + 1} faces from {N_FACE + N_BLANK + 1} frames of 2 source(s)" in out
    assert f"{N_BLANK} frame(s) without faces" in out
    recs = records(fs)
    assert len(recs) == N_FACE + 1
    video_recs = [r for r in recs if r["source"] == str(media["video"])]
    assert [r["frame"] for r in video_recs] == list(range(N_FACE))
    assert {r["track"] for r in video_recs} == {0}
    assert [r["time"] for r in video_recs] == pytest.approx([i / 8 for i in range(N_FACE)], abs=1e-3)
    side = FACE_SIDE * 1.4
    expected5 = (TEMPLATE_5 - (np.array(FACE_CENTER) - side / 2)) * 128 / side
    for r in recs:
        img = cv2.imread(str(fs / r["file"]))
        assert img.shape == (128, 128, 3)
        assert len(r["landmarks"]) == 68 and len(r["landmarks5"]) == 5 and len(r["bbox"]) == 4
        assert set(r["scores"]) == {"detector", "blur", "face_size"}
        m = np.array(r["matrix"])
        assert m.shape == (2, 3)
        assert np.abs(transform_points(np.array(r["landmarks5"]), m) - expected5).mean() < 5
    src = [json.loads(line) for line in (fs / "sources.jsonl").read_text().splitlines()]
    assert [s["status"] for s in src] == ["done", "done"]
    assert src[0]["frames_without_faces"] == N_BLANK
    assert json.loads((fs / "extract.json").read_text())["options"]["size"] == 128
    assert not (fs / "progress.json").exists()

    # Re-running skips what is done.
    code, out, err = run_cli([media["video"], media["photo"], "-o", fs, "--size", 128, "-q"], capsys)
    assert code == 0 and "2 source(s) already done" in out and "extracted 0 faces" in out
    assert len(records(fs)) == N_FACE + 1

    # Different options into the same faceset are refused (one line).
    code, out, err = run_cli([media["photo"], "-o", fs, "--size", 64], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: ") and "size=128" in err


def test_every_max_faces_min_size_masks(
    media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli([media["video"], "-o", tmp_path / "a", "--every", 4, "--size", 64, "-q"], capsys)
    assert code == 0
    assert [r["frame"] for r in records(tmp_path / "a")] == [0, 4, 8, 12]
    assert "1 frame(s) without faces" in out  # frame 16 is blank

    code, out, _ = run_cli([media["pair"], "-o", tmp_path / "b", "--max-faces", 1, "--masks", "-q"], capsys)
    assert code == 0 and "faces dropped: 1 max_faces" in out
    (rec,) = records(tmp_path / "b")
    mask = cv2.imread(str(tmp_path / "b" / rec["mask"]), cv2.IMREAD_UNCHANGED)
    assert mask.shape == (256, 256) and mask[128, 128] == 255 and mask[0, 0] == 0

    code, out, _ = run_cli([media["photo"], "-o", tmp_path / "c", "--min-size", 1000, "-q"], capsys)
    assert code == 0 and "extracted 0 faces" in out and "faces dropped: 1 size" in out


def test_detect_every_tracks(media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run_cli([media["video"], "-o", tmp_path / "t", "--detect-every", 5, "-q"], capsys)
    assert code == 0
    recs = records(tmp_path / "t")
    assert len(recs) == N_FACE and {r["track"] for r in recs} == {0}
    assert sum(r["tracked"] for r in recs) >= N_FACE - 3


class _StopAfter(ExtractProgress):
    def __init__(self, frames: int) -> None:
        self.left = frames

    def frame_done(self, frames: int, faces: int) -> None:
        self.left -= frames
        if self.left <= 0:
            raise KeyboardInterrupt


def test_interrupt_then_resume_gives_the_same_faceset(media: dict[str, Path], tmp_path: Path) -> None:
    opts = ExtractOptions(size=64)
    full = extract([media["video"]], tmp_path / "full", opts)
    assert full.faces == N_FACE

    fs = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        extract([media["photo"], media["video"]], fs, opts, progress=_StopAfter(1 + 6))
    ck = json.loads((fs / "progress.json").read_text())
    assert ck["last_index"] == 5
    assert [r["frame"] for r in records(fs) if r["source"] == str(media["video"])] == list(range(6))
    # A record written after the checkpoint (as if the process died) is dropped on resume.
    with open(fs / "faces.jsonl", "a") as fh:
        fh.write(json.dumps({"source_key": ck["key"], "frame": 9, "file": "faces/x/ghost.png"}) + "\n{trunc")

    again = extract([media["photo"], media["video"]], fs, opts)
    assert [r.status for r in again.results] == ["skipped", "done"]
    assert again.faces == N_FACE - 6
    got = [(r["frame"], r["track"], r["file"]) for r in records(fs) if r["source"] == str(media["video"])]
    want = [(r["frame"], r["track"], r["file"].split("/", 2)[2]) for r in records(tmp_path / "full")]
    assert [(f, t) for f, t, _ in got] == [(f, t) for f, t, _ in want]
    for _, _, file in got:
        assert (fs / file).is_file()
    assert not (fs / "progress.json").exists()
    done = [json.loads(line) for line in (fs / "sources.jsonl").read_text().splitlines()]
    assert done[-1]["faces"] == N_FACE and done[-1]["frames_without_faces"] == N_BLANK


def test_cli_ctrl_c_message(
    media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("deepfake_lab.pipelines.extract.extract", interrupted)
    code, _, err = run_cli([media["photo"], "-o", tmp_path / "x"], capsys)
    assert code == 130 and "run the same command again to resume" in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_input_one_line_error(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, message = BAD[kind]
    bad = make(tmp_path)
    code, out, err = run_cli([bad, "-o", tmp_path / "fs", "-q"], capsys)
    assert code == 2
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert bad.name in lines[0]


def test_unreadable_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    cv2.imwrite(str(locked / "x.png"), np.zeros((8, 8, 3), np.uint8))
    locked.chmod(0)
    try:
        if os.geteuid() == 0:  # root reads anything: simulate the permission check failing
            real = os.access
            monkeypatch.setattr(discover.os, "access", lambda p, m: False if Path(p) == locked else real(p, m))
        code, out, err = run_cli([locked, "-o", tmp_path / "fs", "-q"], capsys)
    finally:
        locked.chmod(0o755)
    assert code == 2 and "Traceback" not in out + err
    assert err.splitlines() == [f"error: {locked}: folder not readable (permission denied)"]


def test_partial_truncated_file_keeps_faces_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(0)
    frames = [f.copy() for f in face_frames(24)]
    for f in frames:  # noisy background: the file is big enough for half of it to hold whole frames
        f[:, :50] = (rng.random((240, 50, 3)) * 255).astype(np.uint8)
    data = write_video(tmp_path / "fast.mp4", frames, audio=False, movflags="faststart").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: int(len(data) * 0.6)])
    code, out, err = run_cli([tmp_path / "cut.mp4", "-o", tmp_path / "fs", "-q"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "truncated or corrupt: decoded" in err
    assert 0 < len(records(tmp_path / "fs")) < 24


def test_bad_inputs_do_not_stop_the_others(
    media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad1, bad2 = BAD["zero-byte"][0](tmp_path), BAD["text"][0](tmp_path)
    code, out, err = run_cli([bad1, media["photo"], bad2, media["video"], "-o", tmp_path / "fs", "-q"], capsys)
    assert code == 2
    assert [line.split(":")[0] for line in err.splitlines()] == ["error", "error"]
    assert "2 input(s) failed" in out
    assert len(records(tmp_path / "fs")) == N_FACE + 1


def test_entry_point_subprocess_no_traceback(media: dict[str, Path], tmp_path: Path) -> None:
    bad1, bad2 = BAD["zero-byte"][0](tmp_path), _bomb(tmp_path)
    cmd = [sys.executable, "-m", "deepfake_lab", "extract", bad1, media["photo"], bad2, "-o", tmp_path / "fs"]
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert "Traceback" not in res.stdout + res.stderr
    assert [line[:7] for line in res.stderr.splitlines()] == ["error: ", "error: "], res.stderr  # no glog noise
    assert "extracted 1 faces" in res.stdout
