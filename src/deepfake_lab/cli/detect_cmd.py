"""`deepfake-lab detect INPUT...`: probability that faces in videos / images / streams were manipulated.

Argument handling and display only; the work is `deepfake_lab.pipelines.scan` (and `report` for HTML).
Exit codes: 0 done, whatever the verdicts (authentic, uncertain, manipulated, not_evaluated, no_face);
1 a file scored above `--fail-above`, or got a verdict named in `--fail-on`; 2 bad input or a file with
verdict "error" / status "partial" (each bad file reported on one line, the others still scanned);
130 interrupted.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    TaskID,
)
from rich.table import Table

from deepfake_lab.cli.options import (
    BACKEND_ENV,
    DEVICE_HELP,
    Aggregation,
    Backend,
    detector_option,
    flag_of,
    log_file_option,
    no_progress_alias,
    quiet_option,
    setup_logging,
    startup_done,
    verbose_option,
    with_dataclass_options,
)
from deepfake_lab.cli.progress import media_progress
from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines.callbacks import ScanProgress
from deepfake_lab.pipelines.scan.options import ScanOptions
from deepfake_lab.pipelines.scan.verdicts import FILE_VERDICTS

if TYPE_CHECKING:  # pragma: no cover  (heavy: torch, OpenCV, PyAV; imported in the command body)
    from deepfake_lab.pipelines.scan import Detector, FileScan, FrameScore, ScanOutcome
    from deepfake_lab.video.reader import MediaInfo


class _RichScanProgress(ScanProgress):
    """Progress bar per source with fps, running score and dropped frames; errors printed above it."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.console = console
        stats = "{task.fields[fps]} fps, running {task.fields[running]} {task.fields[dropped]}"
        self.bar = media_progress(console, enabled, stats)
        self.task: TaskID | None = None
        self.n, self.i = 0, 0
        self.frames = 0
        self.t0 = time.perf_counter()

    def sources_found(self, count: int) -> None:
        self.n = count

    def file_started(self, source: str, info: MediaInfo | None, total_frames: int | None) -> None:
        self.i += 1
        self.frames, self.t0 = 0, time.perf_counter()
        name = Path(source).name or source
        name = name if len(name) <= 40 else name[:37] + "..."
        if self.task is not None:
            self.bar.remove_task(self.task)
        self.task = self.bar.add_task(
            f"[{self.i}/{self.n}] {name}", total=total_frames, fps="-", running="-", dropped=""
        )

    def frames_done(self, frames: list[FrameScore], running: float | None, dropped: int) -> None:
        startup_done()  # the first scored frames: everything is loaded (a no-op afterwards)
        self.frames += len(frames)
        if self.task is None:
            return
        dt = time.perf_counter() - self.t0
        self.bar.update(
            self.task,
            advance=len(frames),
            fps=f"{self.frames / dt:.1f}" if dt > 0 else "-",
            running="no face yet" if running is None else f"{100 * running:.1f}% fake",
            dropped=f"{dropped} dropped" if dropped else "",
        )

    def file_finished(self, result: FileScan) -> None:
        startup_done()  # also when a file failed before any frame was scored
        if result.status in ("error", "partial"):
            self.console.print(f"error: {result.message}", markup=False, highlight=False, soft_wrap=True)
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None


_CARD_METRICS = ("eval_auc", "eval_accuracy", "eval_eer", "test_auc", "auc")


def _card_metrics(card: dict) -> list[str]:
    """Headline metrics of a model card: flat `eval_auc`-style keys, or `auc` inside a per-split dict."""
    metrics = card.get("metrics") if isinstance(card.get("metrics"), dict) else {}
    shown = [f"{k} {v:.3f}" for k, v in metrics.items() if k in _CARD_METRICS and isinstance(v, (int, float))]
    for k, v in metrics.items():
        if not shown and isinstance(v, dict) and isinstance(v.get("auc"), (int, float)):
            shown.append(f"{k} AUC {v['auc']:.3f}")
    return shown


def register(app: typer.Typer) -> None:
    """Add the `detect` command to the CLI app."""
    app.command("detect")(detect_command)


def _check_output(path: Path | None, inputs: list[str], what: str, overwrite: bool) -> None:
    from deepfake_lab.pipelines.scan import check_output
    from deepfake_lab.video.live import is_live_source

    if path is None:
        return
    for raw in inputs:
        if not is_live_source(raw) and Path(raw).exists() and Path(raw).resolve() == path.resolve():
            raise BadInputError(f"{what} {path} would overwrite an input")
    check_output(path, overwrite, what)


VERDICT_STYLES = {"manipulated": "bold red", "uncertain": "bold yellow", "authentic": "green"}
"""Rich style of each verdict in the table (others: dim)."""
FAIL_ON = tuple(v for v in FILE_VERDICTS if v not in ("authentic", "error"))
"""Verdicts `--fail-on` accepts (errors already exit with 2)."""


_SHORT_REASON = {"face_too_small": "too small", "face_too_blurry": "too blurry", "too_few_frames": "few frames"}


def _verdict_cell(f: FileScan) -> str:
    style = VERDICT_STYLES.get(f.verdict, "dim")
    text = f.verdict + (f" ({_SHORT_REASON.get(f.reason, f.reason)})" if f.reason else "")
    return f"[{style}]{escape(text)}[/{style}]"


def _band_line(band: dict, options: ScanOptions) -> str:
    """One line: the verdict band and where it came from (`band_source_text`, terminal wording)."""
    from deepfake_lab.pipelines.scan import band_source_text

    return (
        f"verdicts: manipulated from {band['threshold']:.3f}, uncertain from {band['authentic_below']:.3f} "
        f"({band_source_text(band, cli=True)}); "
        f"not evaluated: faces under {options.min_face_size:g} px or sharpness {options.min_sharpness:g}, "
        f"videos with under {options.min_frames} scored frames"
    )


def _table(files: list[FileScan], options: ScanOptions) -> Table:
    t = Table(title=None, show_edge=False, pad_edge=False)
    for col in ("file", "score", "verdict", "frames", "no face", "faces", "tracks", "fps"):
        t.add_column(col, justify="right" if col not in ("file", "verdict") else "left")
    for f in files:
        name = Path(f.source).name or f.source
        score = "-" if f.score is None else f"{100 * f.score:.1f}%"
        t.add_row(
            escape(name),
            score,
            _verdict_cell(f),
            str(len(f.frames)),
            str(f.frames_without_faces),
            str(f.faces_scored),
            str(len(f.tracks)),
            f"{f.fps:.1f}",
        )
    return t


def _detect_sharded(
    inputs: list[str],
    det: Detector,
    options: ScanOptions,
    json_out: Path | None,
    progress: _RichScanProgress,
    check_provenance: bool,
    fail_above: float | None,
    fail_on: set[str],
    out: Console,
    err: Console,
    others: dict[str, object],
) -> None:
    """The resumable, shardable path: `--json X.jsonl`, or any scan under torchrun (see `pipelines.scan.shards`)."""
    from deepfake_lab.pipelines.scan import scan_sharded
    from deepfake_lab.train import distributed as ddp

    if json_out is None:
        raise BadInputError("a scan under torchrun needs --json OUT.jsonl (or .json): the ranks merge into it")
    used = [k for k, v in others.items() if v is not None]
    if used:
        raise BadInputError(f"{', '.join(used)}: not available in a sharded/resumable scan (--json .jsonl, torchrun)")
    info = ddp.env_info()
    progress.bar.disable = progress.bar.disable or not info.is_main
    with progress.bar:
        doc = scan_sharded(inputs, det, options, json_out, progress=progress, provenance=check_provenance)
    ddp.shutdown(wait=True)
    if doc is None:  # ranks other than 0: rank 0 reports
        return
    from deepfake_lab.pipelines.scan import scan_outcome

    files = doc["files"]
    for f in files:
        if f["status"] in ("error", "partial"):
            msg = f["message"] if f["source"] in f["message"] else f"{f['source']}: {f['message']}"
            err.print(f"error: {msg}", markup=False, highlight=False, soft_wrap=True)
    done = sum(1 for f in files if f["status"] not in ("error",))
    outcome = scan_outcome(files, fail_above=fail_above, fail_on=fail_on)
    out.print(
        f"{done}/{len(files)} file(s) scanned by {info.world_size} process(es); "
        f"{outcome.counts_text() or 'nothing scored'}; json: {json_out}",
        markup=False,
        highlight=False,
    )
    _exit_for(outcome, fail_above, err)


def _exit_for(outcome: ScanOutcome, fail_above: float | None, err: Console) -> None:
    """Exit with the outcome's code (0: return); for code 1 name the files above `fail_above` / with a
    `--fail-on` verdict on stderr."""
    if outcome.code == 1:
        if outcome.above:
            err.print(f"above {fail_above:g}: {', '.join(Path(s).name for s in outcome.above)}", markup=False,
                      highlight=False, soft_wrap=True)  # fmt: skip
        if outcome.hit:
            hit = ", ".join(f"{Path(s).name} ({v})" for s, v in outcome.hit)
            err.print(f"--fail-on: {hit}", markup=False, highlight=False, soft_wrap=True)
    if outcome.code:
        raise typer.Exit(outcome.code)


def _parse_fail_on(value: str | None) -> set[str]:
    if not value:
        return set()
    names = {v.strip() for v in value.split(",") if v.strip()}
    bad = sorted(names - set(FAIL_ON))
    if bad:
        raise BadInputError(f"--fail-on: unknown verdict {', '.join(bad)}; choose from {', '.join(FAIL_ON)}")
    return names


def _closing_prestarts(func: Callable[..., Any]) -> Callable[..., Any]:
    """The command ends, however it ends, with no prestarted file left decoding (`early.discard_untaken`: an
    error before the scan, or a file the scan did not reach)."""

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        try:
            return func(**kwargs)
        finally:
            early = sys.modules.get("deepfake_lab.pipelines.scan.early")
            if early is not None:
                early.discard_untaken()

    return command


@_closing_prestarts
@with_dataclass_options(ScanOptions, into="options", after="report")
def detect_command(
    inputs: list[str] = typer.Argument(
        ..., metavar="INPUT...", help="Videos, images, folders (recursive), stream URLs or capture devices."
    ),
    model: Path | None = detector_option(),
    json_out: Path | None = typer.Option(
        None, "--json", help="Write the versioned JSON result here ('-': to stdout; the rest goes to stderr)."
    ),
    csv_out: Path | None = typer.Option(
        None, "--csv", help="Write one CSV row per face / face-less frame here ('-': to stdout)."
    ),
    annotate: Path | None = typer.Option(
        None, "--annotate", help="Annotated video (.mp4) / image; a folder when there are several inputs."
    ),
    report: Path | None = typer.Option(None, "--report", help="Self-contained HTML report."),
    aggregate: Aggregation | None = typer.Option(None, "--aggregate", hidden=True, help="Old name of --aggregation."),
    fail_above: float | None = typer.Option(
        None, "--fail-above", help="Exit with code 1 when a file scores above this (for pipelines)."
    ),
    fail_on: str | None = typer.Option(
        None,
        "--fail-on",
        help=f"Exit with code 1 when a file gets one of these verdicts (comma-separated: {', '.join(FAIL_ON)}).",
    ),
    device: str = typer.Option("cpu", "--device", help=f"Detector device: {DEVICE_HELP}"),
    backend: Backend = typer.Option(
        "auto",
        "--backend",
        envvar=BACKEND_ENV,
        help="Inference engine: auto = ONNX Runtime when the detector ships an ONNX form and the CPU runs fp32 "
        "(same scores, faster, no torch import), else torch; onnxruntime; torch.",
    ),
    check_provenance: bool = typer.Option(
        True, "--provenance/--no-provenance", help="Look for provenance labels (C2PA manifest, watermark)."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace existing output files that are not earlier scan outputs."
    ),
    quiet: bool = quiet_option(),
    no_progress: bool = no_progress_alias(),
    verbose: int = verbose_option(),
    log_file: Path | None = log_file_option(),
    options: ScanOptions | None = None,
) -> None:
    """Scan media for manipulated faces: per-frame, per-track and per-file probabilities.

    A bad input is reported on one line and the others are still scanned (exit code 2 at the end).
    `--json -` (or `--csv -`) writes the document to stdout and every other line to stderr.
    """
    from deepfake_lab.train import dist_env as ddp

    sharded = ddp.env_info().enabled or (json_out is not None and json_out.suffix == ".jsonl")
    if check_provenance and not sharded and inputs and Path(inputs[0]).is_file():
        from deepfake_lab.pipelines.scan.provenance_check import prestart_provenance_check

        prestart_provenance_check(Path(inputs[0]))  # on the idle core while the models load
    if not sharded and inputs and not (options is not None and options.realtime):
        from deepfake_lab.pipelines.scan.early import prestart_frames

        prestart_frames(inputs[0], options.every if options is not None else 1)  # decodes while the models load
    import cv2

    from deepfake_lab.pipelines.scan import (
        load_detector,
        reason_text,
        scan_outcome,
        scan_paths,
        verdict_band,
        write_csv,
        write_json,
    )
    cv2.setNumThreads(1)
    log = setup_logging(verbose, log_file)
    options = options or ScanOptions()  # built from the scan options by `with_dataclass_options`
    if aggregate is not None:  # the old name of --aggregation
        options.aggregation = aggregate
    quiet = quiet or no_progress
    to_stdout = [w for w, p in (("--json", json_out), ("--csv", csv_out)) if p is not None and str(p) == "-"]
    if len(to_stdout) > 1:
        raise BadInputError("only one of --json and --csv can be '-' (stdout)")
    options.validate()
    if fail_above is not None and not 0.0 <= fail_above <= 1.0:
        raise BadInputError(f"--fail-above must be in 0..1, got {fail_above}")
    fail_verdicts = _parse_fail_on(fail_on)
    for path, what in ((json_out, "--json"), (csv_out, "--csv"), (report, "--report")):
        if path is not None and str(path) != "-":
            _check_output(path, inputs, what, overwrite)
    if to_stdout and sharded:
        raise BadInputError(f"{to_stdout[0]} -: not available in a sharded/resumable scan (give a file)")
    log.info("scan options: %s", options)
    from deepfake_lab.train.device import device_name

    det = load_detector(
        model, device=device_name(device), backend=backend, precision=options.precision, threads=options.threads
    )
    # under torchrun rank 0 talks; with `--json -` / `--csv -` stdout carries only the document
    out = Console(soft_wrap=True, quiet=not ddp.env_info().is_main, stderr=bool(to_stdout))
    err = Console(stderr=True)
    card = det.card
    trained = card.get("training", {}).get("data") if isinstance(card.get("training"), dict) else None
    shown = _card_metrics(card)
    from deepfake_lab.pipelines.scan import crop_text

    log.info("detector %s loaded from %s (sha256 %s)", det.name, det.weights, det.sha256)
    out.print(
        f"detector: {det.name} ({card.get('model')}, {crop_text(det.summary()['crop'])}"
        + (f", trained on {trained}" if trained else "")
        + (f", {', '.join(shown)}" if shown else "")
        + f", weights {det.weights.name} sha256 {det.sha256[:12]})",
        markup=False,
        highlight=False,
    )
    out.print(_band_line(verdict_band(card, options), options), markup=False, highlight=False)
    progress = _RichScanProgress(err, enabled=not quiet and err.is_terminal)
    if sharded:
        _detect_sharded(inputs, det, options, json_out, progress, check_provenance, fail_above, fail_verdicts, out, err,
                        others={"--csv": csv_out, "--report": report, "--annotate": annotate,
                                "--realtime": options.realtime or None})  # fmt: skip
        return
    try:
        with progress.bar:
            result = scan_paths(
                inputs,
                det,
                options,
                annotate=annotate,
                progress=progress,
                provenance=check_provenance,
                overwrite=overwrite,
                option_names=lambda name: flag_of(ScanOptions, name),
            )
    except KeyboardInterrupt:
        err.print("interrupted: nothing written (scans are not resumable; run again)", markup=False)
        raise typer.Exit(130) from None
    if result.interrupted:
        err.print(
            f"interrupted: the outputs hold the {len(result.files)} source(s) finished before Ctrl-C",
            markup=False,
            highlight=False,
        )
    out.print(
        f"precision: {det.precision}; backend: {det.backend}; aggregation: {options.aggregation}",
        markup=False,
        highlight=False,
    )
    out.print(_table(result.files, options))
    for f in result.files:
        name = Path(f.source).name or f.source
        skipped = ", ".join(f"{n} {reason_text(r, options)}" for r, n in f.faces_not_evaluated.items())
        if f.reason:
            out.print(f"{name}: not evaluated: {reason_text(f.reason, options)}", markup=False, highlight=False)
        elif skipped:  # the verdict rests on the other faces
            out.print(f"{name}: faces not scored: {skipped}", markup=False, highlight=False)
    doc = result.to_dict()
    for f in result.files:
        log.info("%s: %s, score %s, %d frames", f.source, f.verdict, f.score, len(f.frames))
    if json_out is not None and str(json_out) == "-":
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
        sys.stdout.flush()
    elif json_out is not None:
        write_json(doc, json_out)
        out.print(f"json: {json_out}", markup=False, highlight=False)
    if csv_out is not None and str(csv_out) == "-":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            sys.stdout.write(write_csv(result, Path(tmp) / "scan.csv").read_text(encoding="utf-8"))
        sys.stdout.flush()
    elif csv_out is not None:
        write_csv(result, csv_out)
        out.print(f"csv: {csv_out}", markup=False, highlight=False)
    if report is not None:
        from deepfake_lab.pipelines.report import write_report

        write_report(result, report)
        out.print(f"report: {report}", markup=False, highlight=False)
    for f in result.files:
        if f.annotated:
            out.print(f"annotated: {f.annotated}", markup=False, highlight=False)
    _exit_for(scan_outcome(result.files, fail_above=fail_above, fail_on=fail_verdicts,
                           interrupted=result.interrupted), fail_above, err)  # fmt: skip
