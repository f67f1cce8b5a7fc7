"""`deepfake-lab sample`, `latent-arith` and `eval-gen`: generator tools (argument handling only)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from deepfake_lab.errors import BadInputError
from deepfake_lab.pipelines.generate import latent_arithmetic_run, sample_run


def _seeds(text: str, what: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise BadInputError(f"{what} must be comma-separated integer seeds, got {text!r}") from None


def register(app: typer.Typer) -> None:
    @app.command("sample")
    def sample(
        run: Path = typer.Argument(..., help="GAN run dir or exported model (.safetensors/.json)."),
        n: int = typer.Option(64, "-n", "--n", min=1, max=4096, help="Number of samples."),
        out: Path = typer.Option(Path("grid.png"), "--out", "-o", help="Output PNG grid."),
        cls: int = typer.Option(
            None, "--class", help="Class index for a conditional GAN (default: all classes)."
        ),
        seed: int = typer.Option(0, "--seed", help="Image i uses latent seed SEED+i."),
    ) -> None:
        """Write a grid of generated samples (conditional GANs: one class per column, or --class K)."""
        typer.echo(str(sample_run(run, n, out, seed=seed, cls=cls)))

    @app.command("latent-arith")
    def latent_arith(
        run: Path = typer.Argument(..., help="GAN run dir or exported model."),
        a: str = typer.Option(
            ..., "--a", help="Seeds of group A, e.g. 3,17,42 (picked from a `sample` grid)."
        ),
        b: str = typer.Option(..., "--b", help="Seeds of group B."),
        c: str = typer.Option(..., "--c", help="Seeds of group C."),
        out: Path = typer.Option(Path("arith.png"), "--out", "-o", help="Output PNG."),
        cls: int = typer.Option(None, "--class", help="Class for a conditional GAN."),
    ) -> None:
        """G(mean z(A) - mean z(B) + mean z(C)): rows = group members, the three means, the results."""
        path = latent_arithmetic_run(run, _seeds(a, "--a"), _seeds(b, "--b"), _seeds(c, "--c"), out, cls=cls)
        typer.echo(str(path))

    @app.command("eval-gen")
    def eval_gen(
        run: Path = typer.Argument(..., help="GAN run dir (metrics are appended to its metrics.jsonl)."),
        n: int = typer.Option(2000, "--n", min=10, max=50000, help="Generated and real images compared."),
        batch_size: int = typer.Option(50, "--batch-size", min=1, max=1000, help="Inception batch size."),
        seed: int = typer.Option(0, "--seed"),
    ) -> None:
        """FID and KID (InceptionV3 pool3) of the run's generator against its training data's test split."""
        from deepfake_lab.pipelines.generate import evaluate_generator_run

        console = Console(stderr=True)
        result = evaluate_generator_run(run, n=n, batch_size=batch_size, seed=seed, console=console)
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items())
        typer.echo(shown)
