"""`deepfake-lab sample`, `latent-arith` and `eval-gen`: generator tools (argument handling only)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from deepfake_lab.cli.options import Direction, PairKind
from deepfake_lab.cli.provenance_cmd import NO_PROVENANCE_HELP, warn_if_disabled
from deepfake_lab.errors import BadInputError


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
        no_provenance: bool = typer.Option(False, "--no-provenance", help=NO_PROVENANCE_HELP),
    ) -> None:
        """Write a grid of generated samples (conditional GANs: one class per column, or --class K), with an
        invisible watermark and a signed C2PA manifest."""
        from deepfake_lab.pipelines.generate import sample_run

        warn_if_disabled(no_provenance)
        typer.echo(str(sample_run(run, n, out, seed=seed, cls=cls, provenance=not no_provenance)))

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
        no_provenance: bool = typer.Option(False, "--no-provenance", help=NO_PROVENANCE_HELP),
    ) -> None:
        """G(mean z(A) - mean z(B) + mean z(C)): rows = group members, the three means, the results
        (watermarked, C2PA-signed PNG)."""
        from deepfake_lab.pipelines.generate import latent_arithmetic_run

        warn_if_disabled(no_provenance)
        path = latent_arithmetic_run(
            run, _seeds(a, "--a"), _seeds(b, "--b"), _seeds(c, "--c"), out, cls=cls, provenance=not no_provenance
        )
        typer.echo(str(path))

    @app.command("eval-gen")
    def eval_gen(
        run: Path = typer.Argument(..., help="GAN run dir (metrics are appended to its metrics.jsonl)."),
        n: int = typer.Option(2000, "--n", min=10, max=50000, help="Generated and real images compared."),
        batch_size: int = typer.Option(50, "--batch-size", min=1, max=1000, help="Inception batch size."),
        seed: int = typer.Option(0, "--seed", help="Latent seed of the generated images."),
    ) -> None:
        """FID and KID (InceptionV3 pool3) of the run's generator against its training data's test split."""
        from deepfake_lab.pipelines.generate import evaluate_generator_run

        console = Console(stderr=True)
        result = evaluate_generator_run(run, n=n, batch_size=batch_size, seed=seed, console=console)
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items())
        typer.echo(shown)

    @app.command("recondition")
    def recondition_cmd(
        run: Path = typer.Argument(..., help="Conditional GAN run dir or exported model (.safetensors/.json)."),
        to: list[int] = typer.Option(..., "--to", help="Target class (repeatable)."),
        image: list[Path] = typer.Option([], "--image", "-i", help="Image file to re-condition (repeatable)."),
        index: list[int] = typer.Option([], "--index", help="Test-set image of the training data (repeatable)."),
        source: int = typer.Option(None, "--from", help="Class of the images (default: test label, or inferred)."),
        steps: int = typer.Option(200, "--steps", min=0, max=5000, help="Latent optimisation steps."),
        encoder_steps: int = typer.Option(400, "--encoder-steps", min=1, max=20000, help="Encoder training steps."),
        seed: int = typer.Option(0, "--seed", help="Random seed of the latent search and encoder."),
        out: Path = typer.Option(Path("recondition.png"), "--out", "-o", help="Output PNG."),
        no_provenance: bool = typer.Option(False, "--no-provenance", help=NO_PROVENANCE_HELP),
    ) -> None:
        """Antipov et al.'s face-aging mechanism: find z* of an image, regenerate it under another class.

        Rows of the PNG: input | reconstruction G(z*, source) | G(z*, target) for each --to.
        """
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        from deepfake_lab.pipelines.recondition import recondition_run

        console = Console(stderr=True)
        warn_if_disabled(no_provenance)
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn(), console=console
        ) as bar:
            tasks: dict[str, int] = {}

            def report(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done)

            path, res = recondition_run(
                run, to, out, images=image, indices=index, source=source,
                steps=steps, encoder_steps=encoder_steps, seed=seed, progress=report, provenance=not no_provenance,
            )
        src = ", ".join(str(int(s)) for s in res["source"])
        console.print(f"source classes: {src}; preserving loss: {float(res['loss'].mean()):.4g}")
        typer.echo(str(path))

    @app.command("pairs")
    def pairs_cmd(
        source: str = typer.Argument(..., help="Faceset (from `extract`), image folder, digits/mnist/fashion-mnist."),
        out: Path = typer.Option(..., "--out", "-o", help="New paired folder (must not exist or be empty)."),
        kind: PairKind = typer.Option("edges", "--kind", help="The input of each pair (mesh: faces only)."),
        size: int = typer.Option(64, "--size", min=8, max=512, help="Side of the pairs in pixels."),
        limit: int = typer.Option(None, "--limit", min=1, help="Use at most N images."),
    ) -> None:
        """Build paired training data for pix2pix: edges->image, face-mesh sketch->face or grey->colour."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from deepfake_lab.data.paired import make_pairs

        console = Console(stderr=True)
        with Progress(
            TextColumn(f"pairs ({kind})"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
        ) as bar:
            task = bar.add_task("pairs", total=None)

            def report(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            rec = make_pairs(source, out, kind=kind, image_size=size, limit=limit, progress=report)
        console.print(f"{rec['pairs']} pairs ({rec['skipped']} images skipped: no face mesh)")
        typer.echo(str(out))

    @app.command("translate")
    def translate_cmd(
        run: Path = typer.Argument(..., help="pix2pix or CycleGAN run dir or exported model."),
        image: list[Path] = typer.Option(..., "--image", "-i", help="Input image (repeatable)."),
        direction: Direction = typer.Option("ab", "--direction", help="CycleGAN: ab (A->B) or ba (B->A)."),
        out: Path = typer.Option(Path("translated.png"), "--out", "-o", help="Output PNG: input | output rows."),
        no_provenance: bool = typer.Option(False, "--no-provenance", help=NO_PROVENANCE_HELP),
    ) -> None:
        """Translate images with an image-to-image GAN (pix2pix: sketch/edges/grey -> image; CycleGAN: A <-> B)."""
        from deepfake_lab.pipelines.translate import translate_run

        warn_if_disabled(no_provenance)
        typer.echo(str(translate_run(run, image, out, direction=direction, provenance=not no_provenance)))

    @app.command("text2img")
    def text2img_cmd(
        run: Path = typer.Argument(..., help="GAN-CLS run dir or exported model."),
        text: str = typer.Option(..., "--text", "-t", help="Caption, e.g. 'a photo of a sneaker.'"),
        to: str = typer.Option(None, "--to", help="Second caption: add GAN-INT strips from --text to --to."),
        n: int = typer.Option(8, "-n", "--n", min=1, max=1024, help="Samples for --text."),
        steps: int = typer.Option(8, "--steps", min=2, max=64, help="Images per interpolation strip."),
        seed: int = typer.Option(0, "--seed", help="Sample i uses latent seed SEED+i."),
        out: Path = typer.Option(Path("text2img.png"), "--out", "-o", help="Output PNG."),
        no_provenance: bool = typer.Option(False, "--no-provenance", help=NO_PROVENANCE_HELP),
    ) -> None:
        """Generate images from a caption with a GAN-CLS model (and interpolate between two captions)."""
        from deepfake_lab.pipelines.text2image import text2img_run

        warn_if_disabled(no_provenance)
        path = text2img_run(run, text, out, n=n, to=to, steps=steps, seed=seed, provenance=not no_provenance)
        typer.echo(str(path))
