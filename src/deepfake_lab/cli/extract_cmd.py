"""`deepfake-lab extract INPUT... -o FACESET`: aligned face crops from videos, photos and folders.

Argument handling and display only; the work is `deepfake_lab.pipelines.extract.extract`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import (
    TaskID,
)

from deepfake_lab.cli.options import (
    FaceRange,
    log_file_option,
    no_progress_alias,
    out_alias,
    quiet_option,
    required_out,
    setup_logging,
    verbose_option,
)
from deepfake_lab.cli.progress import media_progress
from deepfake_lab.pipelines.callbacks import ExtractProgress

if TYPE_CHECKING:  # pragma: no cover  (heavy: OpenCV, PyAV, mediapipe; imported in the command body)
    from deepfake_lab.pipelines.extract import SourceResult
    from deepfake_lab.video.reader import MediaInfo


class _RichProgress(ExtractProgress):
    """Progress bar per source (frames, fps, ETA) on stderr; errors printed above it, one line each."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console = console
        self.bar = media_progress(console, enabled, "{task.fields[fps]} fps, {task.fields[faces]} faces")
        self.task: TaskID | None = None
        self.faces = 0
        self.frames = 0
        self.t0 = time.perf_counter()
        self.n_sources = 0
        self.i_source = 0
        self._started = False

    def sources_found(self, count: int) -> None:
        self.n_sources = count

    def source_started(self, source: Path, info: MediaInfo, total_frames: int | None, done_frames: int) -> None:
        self.i_source += 1
        self._started = True
        self.faces, self.frames, self.t0 = 0, 0, time.perf_counter()
        name = source.name if len(source.name) <= 40 else source.name[:37] + "..."
        desc = f"[{self.i_source}/{self.n_sources}] {name}"
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(desc, total=total_frames, completed=done_frames, fps="-", faces=0)

    def frame_done(self, frames: int, faces: int) -> None:
        self.frames += frames
        self.faces += faces
        if self.task is not None:
            dt = time.perf_counter() - self.t0
            fps = f"{self.frames / dt:.1f}" if dt > 0 else "-"
            self.bar.update(self.task, advance=frames, fps=fps, faces=self.faces)

    def source_finished(self, result: SourceResult) -> None:
        if not self._started:
            self.i_source += 1
        self._started = False
        if result.status in ("error", "partial"):
            self.console.print(f"error: {result.message}", markup=False, highlight=False, soft_wrap=True)
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None


def register(app: typer.Typer) -> None:
    """Add the `extract` command to the CLI app."""
    app.command("extract")(extract_command)


def extract_command(
    inputs: list[str] = typer.Argument(..., metavar="INPUT...", help="Videos, images or folders (recursive)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Faceset folder (created; re-run to resume). Required."),
    output: Path | None = out_alias(),
    size: int = typer.Option(256, "--size", help="Side of the aligned crops in pixels (64, 128, 256...)."),
    every: int = typer.Option(1, "--every", help="Process one frame in N."),
    max_faces: int | None = typer.Option(None, "--max-faces", help="At most N faces per frame (largest)."),
    min_size: float = typer.Option(32.0, "--min-size", help="Drop faces smaller than this (source pixels)."),
    margin: float = typer.Option(0.2, "--margin", help="Context around the face square, fraction per side."),
    min_score: float = typer.Option(0.5, "--min-score", help="Detector confidence threshold."),
    min_blur: float = typer.Option(0.0, "--min-blur", help="Drop crops less sharp than this (0 = keep)."),
    detect_every: int = typer.Option(
        1, "--detect-every", help="Detect on 1 processed frame in N, follow landmarks in between (faster)."
    ),
    model_range: FaceRange = typer.Option(
        "auto", "--range", help="Face detector range (both: slower, finds small faces)."
    ),
    masks: bool = typer.Option(False, "--masks", help="Also save face-hull masks (masks/...png)."),
    quiet: bool = quiet_option(),
    no_progress: bool = no_progress_alias(),
    verbose: int = verbose_option(),
    log_file: Path | None = log_file_option(),
) -> None:
    """Extract aligned face crops (PNG) and faces.jsonl from videos, images and folders.

    Frames without faces are counted, not errors. A bad input is reported on one line and the others are
    still processed (exit code 2 at the end). Ctrl-C stops cleanly; running the same command again resumes.
    """
    import cv2

    from deepfake_lab.faces.extract import ExtractOptions
    from deepfake_lab.pipelines.extract import extract

    cv2.setNumThreads(1)  # small per-face ops: threading overhead outweighs gains on few cores
    log = setup_logging(verbose, log_file)
    output = required_out(out, output, "the faceset folder")
    quiet = quiet or no_progress
    options = ExtractOptions(
        size=size,
        margin=margin,
        every=every,
        max_faces=max_faces,
        min_size=min_size,
        min_score=min_score,
        min_blur=min_blur,
        detect_every=detect_every,
        model_range=model_range,
        save_masks=masks,
    )
    err = Console(stderr=True)
    progress = _RichProgress(err, enabled=not quiet and err.is_terminal)
    t0 = time.perf_counter()
    try:
        with progress.bar:
            report = extract(inputs, output, options, progress=progress)
    except KeyboardInterrupt:
        err.print(
            f"interrupted: progress saved in {output}; run the same command again to resume",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    dt = time.perf_counter() - t0
    done = [r for r in report.results if r.status in ("done", "partial")]
    skipped = [r for r in report.results if r.status == "skipped"]
    fps = report.frames_processed / dt if dt > 0 else 0.0
    line = (
        f"extracted {report.faces} faces from {report.frames_processed} frames of {len(done)} source(s) "
        f"into {output} in {dt:.1f} s ({fps:.1f} frames/s); "
        f"{report.frames_without_faces} frame(s) without faces"
    )
    rejected: dict[str, int] = {}
    for r in report.results:
        for k, v in r.rejected.items():
            rejected[k] = rejected.get(k, 0) + v
    if rejected:
        line += "; faces dropped: " + ", ".join(f"{v} {k}" for k, v in sorted(rejected.items()))
    if skipped:
        line += f"; {len(skipped)} source(s) already done"
    if report.errors:
        line += f"; {len(report.errors)} input(s) failed"
    Console(soft_wrap=True).print(line, markup=False, highlight=False)
    log.info(line)
    for r in report.results:
        if r.status in ("error", "partial"):
            log.info("%s", r.message)  # already printed once on stderr
    if report.errors:
        raise typer.Exit(2)
