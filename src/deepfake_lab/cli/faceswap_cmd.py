"""`deepfake-lab faceswap-train A_SOURCES... --with B_SOURCES... -o RUN`: extract both facesets, train, export.

Argument handling and display only; the work is `deepfake_lab.pipelines.faceswap_train.faceswap_train`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from deepfake_lab.cli.options import (
    DEVICE_HELP,
    ScanPrecision,
    SwapModelName,
    log_file_option,
    no_progress_alias,
    out_alias,
    quiet_option,
    required_out,
    setup_logging,
    verbose_option,
)


def register(app: typer.Typer) -> None:
    """Add the `faceswap-train` command to the CLI app."""
    app.command("faceswap-train")(faceswap_train_command)


def faceswap_train_command(
    sources_a: list[str] = typer.Argument(
        ..., metavar="A_SOURCES...", help="Videos, images or folders of identity A, or one faceset folder."
    ),
    sources_b: list[str] = typer.Option(
        ..., "--with", "-w", help="A video, image, folder or faceset of identity B (repeat for several)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Run folder (facesets, previews, checkpoints, export); re-run to resume. Required."
    ),
    output: Path | None = out_alias(),
    model: SwapModelName = typer.Option("swap-128", "--model", "-m", help="Swap model to train."),
    size: int | None = typer.Option(None, "--size", help="Face side in pixels (default: the model's: 128, 256 or 64)."),
    steps: int = typer.Option(5000, "--steps", help="Total training steps (raise it and re-run to train on)."),
    batch_size: int = typer.Option(16, "--batch-size", "-b", help="Faces per identity per step."),
    lr: float = typer.Option(2e-4, "--lr", help="Adam learning rate."),
    precision: ScanPrecision = typer.Option(
        "auto", "--precision", help="auto: bf16 where the CPU has native bf16 (AMX/AVX512-BF16) or on CUDA, else fp32."
    ),
    preview_every: int = typer.Option(100, "--preview-every", help="Refresh OUT/samples/latest.png every N steps."),
    checkpoint_every: int = typer.Option(100, "--checkpoint-every", help="Save the training state every N steps."),
    every: int = typer.Option(1, "--every", help="Extract one frame in N."),
    margin: float = typer.Option(0.1, "--margin", help="Context around the face square when extracting."),
    parts_weight: float = typer.Option(1.0, "--parts-weight", help="Extra loss weight on eyes and mouth."),
    gan_weight: float = typer.Option(
        0.0, "--gan-weight", help="PatchGAN loss weight (0: off; e.g. 0.1, best with --init-from a trained model)."
    ),
    init_from: Path | None = typer.Option(
        None, "--init-from", help="Start from this exported swap model's weights (same architecture)."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    threads: int | None = typer.Option(None, "--threads", help="Torch threads (default: torch's)."),
    device: str = typer.Option("cpu", "--device", help=DEVICE_HELP),
    quiet: bool = quiet_option(),
    no_progress: bool = no_progress_alias(),
    verbose: int = verbose_option(),
    log_file: Path | None = log_file_option(),
) -> None:
    """Face swap of your own two clips: extract the faces of A and B, train a swap model with a progress bar,
    ETA and a preview image (rows: A, A→A, A→B, B, B→B, B→A), export it. Ctrl-C saves; the same command
    resumes. Then: deepfake-lab swap VIDEO --model OUT/export/MODEL.safetensors --to b -o out.mp4"""
    from deepfake_lab.cli.extract_cmd import _RichProgress
    from deepfake_lab.pipelines.faceswap_train import FaceswapTrainOptions, faceswap_train
    from deepfake_lab.train.trainer import TrainingInterrupted

    console = Console(stderr=True)
    log = setup_logging(verbose, log_file)
    run = required_out(out, output, "the run folder")
    quiet = quiet or no_progress
    opts = FaceswapTrainOptions(
        model=model, image_size=size, steps=steps, batch_size=batch_size, lr=lr, precision=precision,
        preview_every=preview_every, checkpoint_every=checkpoint_every, every=every, margin=margin,
        parts_weight=parts_weight, gan_weight=gan_weight, init_from=None if init_from is None else str(init_from),
        seed=seed, threads=threads, device=device,
    )  # fmt: skip
    opts.validate()
    log.info("faceswap-train %s: A %s, B %s", run, sources_a, sources_b)
    try:
        res = faceswap_train(
            sources_a, sources_b, run, opts, progress=not quiet, console=console,
            extract_progress=_RichProgress(console, not quiet),
        )  # fmt: skip
    except TrainingInterrupted as stop:
        console.print(f"[yellow]{stop}[/]. Run the same command again to resume.")
        raise typer.Exit(130) from None
    except KeyboardInterrupt:
        console.print(f"[yellow]interrupted[/]; run the same command again to resume ({run}).")
        raise typer.Exit(130) from None
    shown = ", ".join(f"{k}={v:.3g}" for k, v in res.eval.items())
    console.print(
        f"{'resumed, ' if res.resumed else ''}trained to step {res.step} at {res.steps_per_second:.2f} steps/s "
        f"({res.precision}); held-out {shown}"
    )
    console.print(f"facesets: A {res.faces_a}, B {res.faces_b}; preview {res.preview}")
    console.print(f"export: {res.export}")
    console.print(f"next: deepfake-lab swap VIDEO --model {res.export} --to b -o swapped.mp4")
