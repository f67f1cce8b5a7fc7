"""`deepfake-lab calibrate REALS... --model M`: choose a detector's verdict band on real media of unseen people.

Argument handling and display only; the work is `deepfake_lab.pipelines.calibrate`.
Exit codes: 0 done; 2 bad input (no real score, bad options, a card that cannot be written).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import typer
from rich.console import Console

from deepfake_lab.cli.options import detector_option, quiet_option
from deepfake_lab.errors import BadInputError


def register(app: typer.Typer) -> None:
    """Add the `calibrate` command to the CLI app."""
    app.command("calibrate")(calibrate_command)


def calibrate_command(
    reals: list[str] = typer.Argument(
        ..., metavar="REALS...", help="Real videos/images/folders of people the detector never saw in training."
    ),
    model: Path | None = detector_option(),
    fakes: list[str] | None = typer.Option(
        None, "--fakes", help="Manipulated media (repeatable), only to report the true-positive rate."
    ),
    target_fpr: float = typer.Option(0.05, "--target-fpr", help="False-positive rate at the threshold."),
    uncertain_fpr: float | None = typer.Option(
        None, "--uncertain-fpr", help="Rate that sets the lower band edge (default 4 x --target-fpr, at most 0.5)."
    ),
    unit: Literal["file", "face"] = typer.Option(
        "file", "--unit", help="One score per file (what verdicts use) or per face."
    ),
    identities: int | None = typer.Option(None, "--identities", help="How many people the real media show."),
    rule: Literal["pooled", "person-mean", "person-conformal"] = typer.Option(
        "pooled",
        "--rule",
        help="pooled: every score counts once; person-mean / person-conformal: each REALS argument is one "
        "person and the threshold is fit per person (see README, 'Detection on people it has never seen').",
    ),
    coverage: float = typer.Option(
        0.8, "--coverage", help="person-conformal: share of new people whose rate should hold (0..1)."
    ),
    split: str = typer.Option("", "--split", help="What the real media are (stored in the card)."),
    write: bool = typer.Option(False, "--write", help="Store the result as the card's calibration (needs --model)."),
    quiet: bool = quiet_option(),
) -> None:
    """Choose a detector's verdict band on held-out real media: the threshold that calls at most --target-fpr
    of them manipulated. Prints the card's "calibration" entry; --write stores it in the card."""
    import cv2

    from deepfake_lab.cli.detect_cmd import _RichScanProgress
    from deepfake_lab.pipelines.calibrate import calibrate_detector, write_calibration
    from deepfake_lab.pipelines.scan import load_detector

    cv2.setNumThreads(1)
    if write and model is None:
        raise BadInputError("--write needs --model: the shipped detector's card is not rewritten")
    out, err = Console(soft_wrap=True), Console(stderr=True)
    det = load_detector(model)
    progress = _RichScanProgress(err, enabled=not quiet and err.is_terminal)
    with progress.bar:
        cal, run = calibrate_detector(
            det,
            reals,
            fakes or None,
            target_fpr=target_fpr,
            uncertain_fpr=uncertain_fpr,
            unit=unit,
            split=split,
            n_real_identities=identities,
            progress=progress,
            rule=rule,
            coverage=coverage,
        )
    n = cal["n_real"]
    if rule != "pooled" and cal.get("loo_mean_fpr") is not None:
        err.print(
            f"rule {rule}: {len(cal['people'])} people; leave-one-person-out false-positive rate "
            f"{100 * cal['loo_mean_fpr']:.1f}% on average, {100 * cal['loo_max_fpr']:.1f}% on the worst person",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if n * target_fpr < 1:
        err.print(
            f"note: with {n} real scores a {100 * target_fpr:g}% rate allows no false positive at all: the "
            "threshold sits just above the highest real score; calibrate on more real media",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    skipped = sum(1 for f in run.reals.files if f.score is None)
    tpr = "" if cal["tpr"] is None else f", true-positive rate {100 * cal['tpr']:.1f}% on {cal['n_fake']} fakes"
    out.print(
        f"{det.name}: manipulated from {cal['threshold']:.4f}, uncertain from {cal['authentic_below']:.4f}; "
        f"false-positive rate {100 * cal['fpr']:.1f}% on {n} real {unit} scores{tpr}"
        + (f" ({skipped} real file(s) gave no score: no face or not evaluated)" if skipped else ""),
        markup=False,
        highlight=False,
    )
    out.print(json.dumps({"calibration": cal}, indent=1), markup=False, highlight=False)
    if write:
        path = write_calibration(model, cal)  # type: ignore[arg-type]
        out.print(f"card: {path} (calibration stored)", markup=False, highlight=False)
