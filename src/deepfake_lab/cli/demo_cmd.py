"""`deepfake-lab demo`: swap a held-out clip with the shipped swap model and scan both clips.

Argument handling and display only; the work is `deepfake_lab.pipelines.demo.run_demo`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from deepfake_lab.cli.options import detector_option


def register(app: typer.Typer) -> None:
    """Add the `demo` command to the CLI app."""
    app.command("demo")(demo_command)


def demo_command(
    out: Path = typer.Option(
        Path("deepfake-lab-demo"), "--out", "-o", help="Output folder (an earlier demo is replaced)."
    ),
    model: Path | None = detector_option("Exported detector."),
    swap_model: Path | None = typer.Option(
        None, "--swap-model", help="Exported swap model; default: the shipped one (assets/swap-lite-wolfgang-man)."
    ),
) -> None:
    """Make a deepfake of a held-out clip and catch it: swap, scan both clips, write an HTML page."""
    import cv2

    from deepfake_lab.pipelines.demo import DEFAULT_SWAP_MODEL, run_demo

    cv2.setNumThreads(1)
    console = Console(soft_wrap=True)

    def log(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    res = run_demo(out, model, swap_model=swap_model or DEFAULT_SWAP_MODEL, log=log)
    log(f"done in {res.seconds:.0f} s; open {res.page.resolve()}")
