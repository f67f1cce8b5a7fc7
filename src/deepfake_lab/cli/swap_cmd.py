"""`deepfake-lab swap VIDEO_OR_IMAGE --model EXPORT --to b --out OUT`: face swap with a trained model.

Argument handling and display only; the work is `deepfake_lab.pipelines.swap_video.swap_media`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from deepfake_lab.cli.options import (
    BlendMode,
    ColourTransfer,
    Identity,
    Upscaler,
    no_progress_alias,
    out_alias,
    quiet_option,
    required_out,
)
from deepfake_lab.cli.provenance_cmd import NO_PROVENANCE_HELP, warn_if_disabled


def register(app: typer.Typer) -> None:
    @app.command("swap")
    def swap(
        source: Path = typer.Argument(..., help="Video or image whose faces to replace."),
        model: Path = typer.Option(..., "--model", "-m", help="Exported swap model (.safetensors/.json/run dir)."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Output video (.mp4/.mov/.mkv) or image. Required."),
        output: Path | None = out_alias(),
        to: Identity = typer.Option("b", "--to", help="Identity to render the faces as."),
        colour: ColourTransfer = typer.Option("reinhard", "--colour", help="Colour transfer onto the original face."),
        blend: BlendMode = typer.Option("feather", "--blend", help="feather (soft mask) | poisson (seamless clone)."),
        paste_size: int = typer.Option(256, "--paste-size", help="Crop side for colour transfer and paste-back."),
        detail: float = typer.Option(
            0.0, "--detail",
            help="Detail transfer, 0 (off) .. 1: the frame's own high-frequency skin texture replaces the swapped "
            "face's inside the mask (eyes and mouth excluded); the model's low frequencies stay. Sharper, but a "
            "little of the original person's identity comes with it.",
        ),
        detail_radius: float = typer.Option(
            0.5, "--detail-radius", help="Where --detail splits the bands, in decoder pixels."
        ),
        detail_limit: float = typer.Option(
            6.0, "--detail-limit", help="Largest texture amplitude --detail adds, grey levels (1..255)."
        ),
        sharpen: float = typer.Option(
            0.0, "--sharpen", help="Unsharp-mask amount on the enlarged model output, 0 (off) .. 3."
        ),
        upscale: Upscaler = typer.Option(
            "cubic", "--upscale", help="How the model output is enlarged to --paste-size."
        ),
        detect_every: int = typer.Option(1, "--detect-every", help="Detect every N frames, track in between."),
        max_faces: int = typer.Option(None, "--max-faces", help="Swap at most N faces per frame (largest)."),
        crf: int = typer.Option(18, "--crf", help="x264 quality, 0 (lossless) .. 51."),
        swap_all: bool = typer.Option(
            False, "--swap-all",
            help="Swap every face, also those the model's card marks as unlike its training faces (by default "
            "they pass through untouched and the sidecar says why).",
        ),  # fmt: skip
        quiet: bool = quiet_option(),
        no_progress: bool = no_progress_alias(),
        no_provenance: bool = typer.Option(
            False, "--no-provenance", help=NO_PROVENANCE_HELP
        ),
        overwrite: bool = typer.Option(
            False, "--overwrite", help="Replace an existing OUT / OUT.json that is not an earlier swap output."
        ),
    ) -> None:
        """Replace every face with the chosen identity; writes OUT, OUT.json (what was replaced, by which model)
        and marks the file as synthetic: an invisible watermark in every frame, a signed C2PA manifest and its
        metadata. Frames without faces pass through unchanged."""
        from deepfake_lab.errors import BadInputError
        from deepfake_lab.pipelines.swap_video import SwapOptions, check_swap_output, load_swap_model, swap_media

        console = Console(stderr=True)
        output = required_out(out, output, "the output file")
        quiet = quiet or no_progress
        warn_if_disabled(no_provenance)
        opts = SwapOptions(
            to=to, colour=colour, blend=blend, paste_size=paste_size, detect_every=detect_every,
            max_faces=max_faces, crf=crf, guard=not swap_all, detail=detail, detail_radius=detail_radius,
            detail_limit=detail_limit, sharpen=sharpen, upscale=upscale,
        )  # fmt: skip
        opts.validate()
        if not source.exists():
            raise typer.BadParameter(f"{source}: no such file", param_hint="SOURCE")
        if output.resolve() == source.resolve():
            raise BadInputError("the output must not overwrite the source")
        check_swap_output(output, overwrite)  # before the model is loaded: fail fast
        sm = load_swap_model(model)
        bar = Progress(
            TextColumn(f"swap → {to}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("eta"), TimeRemainingColumn(), console=console, transient=True, disable=quiet,
        )  # fmt: skip
        with bar:
            task = bar.add_task("swap", total=None)

            def on_frame(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            report = swap_media(
                source, sm, output, opts, on_frame=on_frame, provenance=not no_provenance, overwrite=overwrite
            )
        console.print(
            f"{report.output}: {report.frames} frame(s), {report.faces_replaced} face(s) replaced in "
            f"{report.frames_replaced} frame(s), {report.frames_without_faces} frame(s) without faces passed through "
            f"({report.fps:.1f} frames/s); sidecar {report.sidecar}"
        )
        if report.faces_passed_through:
            console.print(
                f"{report.faces_passed_through} face(s) unlike the model's training faces passed through untouched "
                f"(reasons in the sidecar's passed_through; --swap-all to swap them anyway)"
            )
        if report.frames_replaced == 0:
            why = "every face was passed through (above)" if report.faces_passed_through else "no face found"
            console.print(f"[yellow]warning:[/] {why} in {source}; the output is the unchanged input")
        if report.incomplete:
            console.print(
                f"error: {source}: {report.incomplete} (the decodable frames were swapped; {report.output} holds "
                f"{report.frames} frame(s))",
                markup=False, highlight=False, soft_wrap=True,
            )  # fmt: skip
            raise typer.Exit(2)
