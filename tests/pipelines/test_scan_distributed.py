"""`torchrun -m deepfake_lab detect DIR --json out.jsonl`: 2 processes give the 1-process result; re-runs resume."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from deepfake_lab.pipelines.scan_schema import validate

VOLATILE = ("seconds", "fps")


def _run(args: list[str], cwd: Path, nproc: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if nproc == 1:
        cmd = [sys.executable, "-m", "deepfake_lab"]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
        cmd += ["-m", "deepfake_lab"]
    return subprocess.run([*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _load(path: Path) -> tuple[dict, list[dict]]:
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    return lines[0], lines[1:]


def _stable(files: list[dict]) -> list[dict]:
    return [{k: v for k, v in f.items() if k not in VOLATILE} for f in files]


def test_two_process_scan_equals_one_process_and_resumes(tmp_path, scan_media, tiny_detector) -> None:  # noqa: F811
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    for name in ("real", "fake", "mixed"):
        shutil.copy(scan_media[name], corpus / f"{name}.mp4")
    shutil.copy(scan_media["blank"], corpus / "sub" / "blank.png")
    shutil.copy(scan_media["face"], corpus / "sub" / "face.jpg")
    (corpus / "sub" / "broken.mp4").write_bytes(scan_media["fake"].read_bytes()[:700])  # truncated: fails
    common = ["detect", str(corpus), "--model", str(tiny_detector), "--precision", "fp32", "--quiet"]

    one = _run([*common, "--json", str(tmp_path / "one.jsonl")], tmp_path, 1)
    two = _run([*common, "--json", str(tmp_path / "two.jsonl")], tmp_path, 2)
    # The broken file is bad input (exit 2; under torchrun, whose own exit code is 1 when a rank fails), and
    # every other file was still scanned.
    assert one.returncode == 2 and "Traceback" not in one.stderr, one.stderr[-3000:]
    assert two.returncode != 0, two.stderr[-3000:]
    for proc in (one, two):
        assert "error: " in proc.stderr and "broken.mp4" in proc.stderr
    head1, files1 = _load(tmp_path / "one.jsonl")
    head2, files2 = _load(tmp_path / "two.jsonl")
    assert len(files1) == 6 and [f["source"] for f in files1] == [f["source"] for f in files2]
    assert _stable(files1) == _stable(files2)
    assert {k: v for k, v in head1.items() if k != "created"} == {k: v for k, v in head2.items() if k != "created"}
    assert validate({**head2, "files": files2}) == []
    by_name = {Path(f["source"]).name: f for f in files2}
    assert by_name["broken.mp4"]["status"] == "error" and by_name["broken.mp4"]["message"]
    assert by_name["blank.png"]["verdict"] == "no_face"
    assert by_name["fake.mp4"]["score"] > by_name["real.mp4"]["score"]
    assert not list(tmp_path.glob(".two.jsonl.part*"))  # merged and cleaned up

    # A re-run skips finished files (their records stay byte-for-byte) and retries only the failed one.
    marked = [dict(f, seconds=12345.0) if f["status"] != "error" else f for f in files2]
    (tmp_path / "two.jsonl").write_text("\n".join(json.dumps(x) for x in [head2, *marked]) + "\n")
    again = _run([*common, "--json", str(tmp_path / "two.jsonl")], tmp_path, 2)
    assert again.returncode != 0 and "broken.mp4" in again.stderr, again.stderr[-3000:]
    _, files3 = _load(tmp_path / "two.jsonl")
    assert [f["seconds"] for f in files3 if f["status"] != "error"] == [12345.0] * 5
    assert [f["source"] for f in files3] == [f["source"] for f in files2]
