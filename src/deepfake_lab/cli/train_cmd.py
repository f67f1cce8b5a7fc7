"""`deepfake-lab train`, `export` and `interpolate`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from deepfake_lab.cli.options import (
    DEVICE_HELP,
    GeneratorLoss,
    InterpolationMode,
    TrainPrecision,
    log_file_option,
    no_progress_alias,
    quiet_option,
    setup_logging,
    verbose_option,
)
from deepfake_lab.cli.provenance_cmd import NO_PROVENANCE_HELP, warn_if_disabled
from deepfake_lab.errors import BadInputError


def register(app: typer.Typer) -> None:
    register_training(app)
    register_showcase(app)


def register_training(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        name: str = typer.Argument(None, help="Model or preset name (see `deepfake-lab models`)."),
        data: str = typer.Option(None, "--data", "-d", help="digits | mnist | fashion-mnist | an image folder."),
        steps: int = typer.Option(None, "--steps", help="Total training steps."),
        batch_size: int = typer.Option(None, "--batch-size", "-b", help="Images per training step (preset: its own)."),
        lr: float = typer.Option(None, "--lr", help="Learning rate."),
        precision: TrainPrecision = typer.Option(
            None, "--precision", help="bf16: autocast + channels_last for conv; fp16 needs CUDA."
        ),
        seed: int = typer.Option(None, "--seed", help="Random seed (data order, init, noise); preset: 0."),
        device: str = typer.Option(None, "--device", help=DEVICE_HELP),
        g_loss: GeneratorLoss = typer.Option(None, "--g-loss", help="GAN generator loss (gan and progan tasks)."),
        config: Path = typer.Option(None, "--config", "-c", help="YAML file overriding the preset."),
        set_: list[str] = typer.Option([], "--set", help="Dotted override, e.g. --set optim.lr=2e-4 (repeatable)."),
        run_name: str = typer.Option(None, "--name", help="Run name (folder under --runs-dir)."),
        runs_dir: Path = typer.Option(None, "--runs-dir", help="Parent folder of runs (default ./runs)."),
        resume: Path = typer.Option(None, "--resume", help="Continue the run in this folder exactly."),
        faces_a: Path = typer.Option(None, "--faces-a", help="Face swap: faceset of identity A (sets data.name)."),
        faces_b: Path = typer.Option(None, "--faces-b", help="Face swap: faceset of identity B (task_kwargs)."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved config and exit."),
        quiet: bool = quiet_option(),
        no_progress: bool = no_progress_alias(),
        verbose: int = verbose_option(),
        log_file: Path = log_file_option(),
    ) -> None:
        """Train a model; writes config, metrics, samples, checkpoints and an export to the run dir."""
        import yaml

        from deepfake_lab.config import apply_overrides, preset_names
        from deepfake_lab.train import distributed as ddp
        from deepfake_lab.train.checkpoint import load_training_state
        from deepfake_lab.train.run import (
            build_run_config,
            resolve_run_config,
            resolve_task,
            run_dir_for,
            swap_faceset_overrides,
        )
        from deepfake_lab.train.trainer import Trainer, TrainingInterrupted, resume_config

        console = Console(stderr=True)
        log = setup_logging(verbose, log_file)
        no_progress = quiet or no_progress
        opts = {
            "data.name": data,
            "train.steps": steps,
            "train.batch_size": batch_size,
            "optim.lr": lr,
            "train.precision": precision,
            "train.seed": seed,
            "train.device": device,
            "name": run_name,
            "runs_dir": None if runs_dir is None else str(runs_dir),
            "task_kwargs.g_loss": g_loss,
        }
        flags = [f"{k}={v}" for k, v in opts.items() if v is not None]
        if faces_a is not None or faces_b is not None:  # face-swap sugar: two facesets from `extract`
            flags += swap_faceset_overrides(faces_a, faces_b)
        if resume is not None:
            if name or config or g_loss:
                raise BadInputError(
                    "--resume takes its config from the run dir; drop the model name, --config and --g-loss"
                )
            load_training_state(resume / "checkpoints" / "last.pt")  # fail early, one line, if unusable
            cfg = apply_overrides(
                resume_config(resume), [f for f in flags if f.startswith(("train.steps", "train.device"))] + list(set_)
            )
            run_dir = resume
        else:
            if name is None and config is None:
                raise BadInputError("name a model or preset (see `deepfake-lab models`), or give --config")
            cfg = build_run_config(name, config_file=config, overrides=[*flags, *set_])
            run_dir = run_dir_for(cfg, name if name in preset_names() else None)
        if g_loss is not None and resolve_task(cfg).task not in ("gan", "progan"):
            raise BadInputError(f"--g-loss applies to the z -> image GANs (gan and progan tasks), not {cfg.model!r}")
        if dry_run:  # exactly what the run's config.yaml will hold
            typer.echo(yaml.safe_dump(resolve_run_config(cfg).to_dict(), sort_keys=False), nl=False)
            return
        log.info("run dir %s; model %s; %s steps", run_dir, cfg.model, cfg.train.steps)
        log.debug("resolved config: %s", cfg.to_dict())
        trainer = Trainer(cfg, run_dir, progress=not no_progress, console=console)
        main = trainer.dist.is_main  # under torchrun only rank 0 talks
        try:
            result = trainer.fit(resume=resume is not None)
            ddp.shutdown(wait=True)
        except TrainingInterrupted as stop:
            if main:
                console.print(f"[yellow]{stop}[/]. Resume with: deepfake-lab train --resume {stop.run_dir}")
                log.warning("%s; resume with: deepfake-lab train --resume %s", stop, stop.run_dir)
            raise typer.Exit(130) from None
        finally:
            ddp.shutdown()
        if main:
            shown = ", ".join(f"{k}={v:.4g}" for k, v in result.eval.items())
            per = f" x {trainer.dist.world_size} processes" if trainer.dist.enabled else ""
            console.print(f"done: {result.step} steps at {result.steps_per_second:.1f} steps/s{per}; {shown}")
            console.print(f"run dir: {result.run_dir}  export: {result.export}")
            log.info("done: %d steps at %.2f steps/s; %s; export %s", result.step, result.steps_per_second, shown,
                     result.export)  # fmt: skip

    @app.command("export")
    def export(
        run: Path = typer.Argument(..., help="Run dir."),
    ) -> None:
        """(Re-)export a run's last checkpoint as .safetensors + JSON card into RUN/export."""
        from deepfake_lab.train.trainer import Trainer, resume_config

        cfg = resume_config(run)
        trainer = Trainer(cfg, run, progress=False, tensorboard=False)
        trainer.load_checkpoint()
        path = trainer.export()
        typer.echo(str(path))

    @app.command("interpolate")
    def interpolate(
        run: Path = typer.Argument(..., help="Run dir or exported model (.safetensors/.json)."),
        a: str = typer.Option(..., "--a", help="First image: test-set index or image file (GAN: SEED[:CLASS])."),
        b: str = typer.Option(..., "--b", help="Second image: test-set index or image file (GAN: SEED[:CLASS])."),
        steps: int = typer.Option(8, "--steps", min=2, max=64, help="Images in the strip."),
        out: Path = typer.Option(Path("strip.png"), "--out", "-o", help="Output PNG."),
        mode: InterpolationMode = typer.Option("lerp", "--mode", help="lerp (straight line) | slerp (great circle)."),
        no_provenance: bool = typer.Option(False, "--no-provenance", help=NO_PROVENANCE_HELP),
    ) -> None:
        """Decode z = α·z_a + (1-α)·z_b along a strip of STEPS images (GAN runs: --a/--b are SEED[:CLASS]).
        The PNG carries an invisible watermark and a signed C2PA manifest."""
        from deepfake_lab.pipelines.latent import interpolate_run

        warn_if_disabled(no_provenance)
        typer.echo(str(interpolate_run(run, a, b, steps, out, mode, provenance=not no_provenance)))


def register_showcase(app: typer.Typer) -> None:
    @app.command("showcase")
    def showcase(
        out: Path = typer.Option(Path("showcase"), "--out", "-o", help="Output folder (index.html + runs)."),
        data: str = typer.Option("digits", "--data", "-d", help="Dataset for every model."),
        scale: float = typer.Option(1.0, "--scale", help="Multiply every step budget (e.g. 0.2 for a quick look)."),
        no_provenance: bool = typer.Option(False, "--no-provenance", help=NO_PROVENANCE_HELP),
    ) -> None:
        """Train every autoencoder briefly and write one HTML page comparing them (the interpolation PNGs are
        watermarked and C2PA-signed)."""
        from deepfake_lab.pipelines.showcase import run_showcase

        warn_if_disabled(no_provenance)
        path = run_showcase(out, data=data, scale=scale, provenance=not no_provenance)
        typer.echo(f"showcase written: {path.resolve()}")
