"""`deepfake-lab bench build | eval | methods`: the closed-loop detection benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from deepfake_lab.cli.options import Compression, no_progress_alias, quiet_option
from deepfake_lab.errors import BadInputError


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise BadInputError(f"{what} must be comma-separated integers, got {text!r}") from None


def _names(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(v.strip() for v in text.split(",") if v.strip())


def register(app: typer.Typer) -> None:
    bench = typer.Typer(help="Closed-loop detection benchmark: build a labelled face dataset, evaluate detectors.",
                        no_args_is_help=True)  # fmt: skip
    app.add_typer(bench, name="bench")

    @bench.command("methods")
    def methods() -> None:
        """List the fake-generation methods (plugins) `bench build` can use."""
        from deepfake_lab.pipelines.bench.methods import BENCH_METHODS, method_summaries

        summaries = method_summaries()
        for e in BENCH_METHODS:
            typer.echo(f"{e.name:16s} {e.family:7s} {summaries[e.name]}")

    @bench.command("build")
    def build(
        out: Path = typer.Option(Path("bench"), "--out", "-o", help="Benchmark folder (re-run to resume)."),
        every: int = typer.Option(2, "--every", help="Use one face frame in N per video and split."),
        size: int = typer.Option(128, "--size", help="Side of the saved crops."),
        margin: float = typer.Option(0.1, "--margin", help="Alignment margin (as `extract --margin`)."),
        methods: str = typer.Option(
            None, "--methods", help="Comma-separated methods (default: all; see `bench methods`)."
        ),
        crf: str = typer.Option("0,23,40", "--crf", help="H.264 CRFs of the compression levels."),
        jpeg: str = typer.Option("90,70,50,30", "--jpeg", help="JPEG qualities of the test images."),
        max_frames: int = typer.Option(None, "--max-frames", help="At most N frames per video and split (quick runs)."),
        gan_steps: int = typer.Option(1500, "--gan-steps", help="Training steps of the face GAN."),
        ae_steps: int = typer.Option(1500, "--ae-steps", help="Training steps of the reconstruction autoencoder."),
        videos: list[Path] = typer.Option(
            [], "--video", help="IDENTITY=VIDEO instead of the sample corpus (repeatable).", metavar="IDENTITY=PATH"
        ),  # fmt: skip
        threads: int = typer.Option(1, "--threads", help="Torch threads."),
        seed: int = typer.Option(0, "--seed", help="Random seed of sampling and generator training."),
        quiet: bool = quiet_option(),
        no_progress: bool = no_progress_alias(),
    ) -> None:
        """Build real faces vs fakes of every method at c0/c23/c40 and JPEG qualities, with a manifest."""
        from deepfake_lab.pipelines.bench.build import BenchOptions, BenchSource, build_bench, default_sources

        if videos:
            sources = []
            for v in videos:
                ident, sep, path = str(v).partition("=")
                if not sep or not ident or not path:
                    raise BadInputError(f"--video takes IDENTITY=PATH, got {v}")
                if not Path(path).is_file():
                    raise BadInputError(f"no such video: {path}")
                sources.append(BenchSource(ident, Path(path)))
        else:
            sources = default_sources()
        opt = BenchOptions(
            size=size, margin=margin, every=every, crfs=_ints(crf, "--crf"), jpeg=_ints(jpeg, "--jpeg"),
            methods=_names(methods), max_frames=max_frames, seed=seed, threads=threads,
            method_options={"gan": {"steps": gan_steps}, "ae-recon": {"steps": ae_steps}},
        )  # fmt: skip
        console = Console(stderr=True)
        try:
            info = build_bench(sources, out, opt, progress=not (quiet or no_progress), console=console)
        except KeyboardInterrupt:
            console.print(f"[yellow]interrupted[/]; run the same command again to resume in {out}")
            raise typer.Exit(130) from None
        c = info["counts"]
        first = next(iter(c))
        for split, per in c[first].items():
            typer.echo(f"{split:5s} " + ", ".join(f"{m} {n}" for m, n in sorted(per.items())))
        typer.echo(f"{info['images']} images at {', '.join(info['compressions'])} in {info['seconds']:.0f} s; "
                   f"methods: {', '.join(info['methods'])}")  # fmt: skip
        for m, why in info["methods_skipped"].items():
            typer.echo(f"skipped {m}: {why}")
        typer.echo(f"benchmark: {out}  (train a detector: deepfake-lab train meso4-bench --data {out}/c23/train)")

    @bench.command("faces")
    def faces(
        out: Path = typer.Option(Path("runs/faces"), "--out", "-o", help="Face benchmark folder (rebuilt)."),
        video_every: int = typer.Option(3, "--video-every", help="Use one video frame in N."),
        max_video_frames: int | None = typer.Option(None, "--max-video-frames", help="At most N frames per video."),
        seed: int = typer.Option(0, "--seed", help="Random seed of the fakes, donors and augmentations."),
        gan: str = typer.Option(
            None, "--gan", help="Also GAN faces trained on the train people: comma-separated, from dcgan, progan."
        ),
        gan_steps: int | None = typer.Option(
            None, "--gan-steps", help="Training steps of each GAN (default: dcgan 1500, progan 1600)."
        ),
        gan_samples: int | None = typer.Option(
            None, "--gan-samples", help="GAN samples per split (default: as many as the split's real faces)."
        ),
    ) -> None:
        """Identity-disjoint, cross-corpus face benchmark: train/calib/test people, fakes of unseen people."""
        from deepfake_lab.pipelines.bench.face_gan import GanOptions, add_face_gans, parse_gans
        from deepfake_lab.pipelines.bench.face_protocol import ProtocolOptions, build_face_protocol

        if video_every < 1:
            raise BadInputError(f"--video-every must be >= 1, got {video_every}")
        gan_opt = GanOptions(gans=parse_gans(gan), steps=gan_steps, samples=gan_samples, seed=seed) if gan else None
        if gan_opt is not None:
            gan_opt.check()
        elif gan_steps is not None or gan_samples is not None:
            raise BadInputError("--gan-steps and --gan-samples need --gan (e.g. --gan dcgan,progan)")
        if out.exists() and any(out.iterdir()) and not (out / "faces.json").is_file():
            raise BadInputError(f"{out} is not empty and not a face benchmark; choose a new folder")
        if out.exists():
            import shutil

            shutil.rmtree(out)
        info = build_face_protocol(out, ProtocolOptions(video_every=video_every, max_video_frames=max_video_frames,
                                                        seed=seed))  # fmt: skip
        for split, people in info["people"].items():
            typer.echo(f"{split:5s} {len(people)} people: " + ", ".join(f"{p} {n}" for p, n in people.items()))
        if gan_opt is not None:
            gans = add_face_gans(out, gan_opt, log=lambda line: typer.echo(line, err=True))
            for m, g in gans.items():
                typer.echo(f"{m}: {g['generator']} {g['steps']} steps in {g['seconds']:.0f} s on "
                           f"{g['training_images']} faces of {len(g['training_people'])} train people; samples "
                           + ", ".join(f"{s} {n}" for s, n in g["samples"].items()))  # fmt: skip
        typer.echo(f"{info['n_people']} people; face benchmark: {out}")

    @bench.command("faces-eval")
    def faces_eval(
        faces_dir: Path = typer.Argument(..., help="A folder made by `bench faces`."),
        model: Path = typer.Option(None, "--model", "-m", help="Exported detector (default: the shipped one)."),
        target_fpr: float = typer.Option(0.05, "--target-fpr", help="FPR the threshold is calibrated for."),
        rule: str = typer.Option(
            "person-mean", "--rule", help="How the threshold is fit: pooled, person-mean or person-conformal."
        ),
    ) -> None:
        """Calibrate on the unseen calib people, then AUC/FPR per method on test people (GAN faces: AUC/AP apart)."""
        from deepfake_lab.metrics.calibration import RULES
        from deepfake_lab.pipelines.bench.face_protocol import protocol_report
        from deepfake_lab.pipelines.scan import load_detector

        if not (faces_dir / "faces.json").is_file():
            raise BadInputError(f"{faces_dir} is not a face benchmark (make one with `deepfake-lab bench faces`)")
        if not 0 < target_fpr < 1:
            raise BadInputError(f"--target-fpr must be in (0, 1), got {target_fpr}")
        if rule not in RULES:
            raise BadInputError(f"--rule must be one of {', '.join(RULES)}, got {rule!r}")
        det = load_detector(model).torch_model()  # the protocol scores crops in torch (an ONNX form is skipped)
        net = det.net.float().eval()
        rep = protocol_report(net, det.crop_size, faces_dir, target_fpr, rule)
        if "gans" in rep:  # train-on-X / test-on-Y between the GANs: a linear probe on the frozen features
            from deepfake_lab.pipelines.bench.face_gan import gan_cross_probe

            rep["gan_probe"] = gan_cross_probe(net, det.crop_size, faces_dir)
        typer.echo(json.dumps(rep, indent=1))

    @bench.command("eval")
    def evaluate(
        bench_dir: Path = typer.Argument(..., help="A folder made by `bench build`."),
        out: Path = typer.Option(None, "--out", "-o", help="Report folder (default BENCH-eval; re-run to resume)."),
        detectors: str = typer.Option("meso4-bench,spectrum-lr-bench", "--detectors", help="Presets or models."),
        steps: int = typer.Option(400, "--steps", help="Training steps of each CNN detector run."),
        image_size: int = typer.Option(64, "--image-size", help="Input side of the CNN detectors (crops resized)."),
        batch_size: int = typer.Option(32, "--batch-size", help="Training batch size of the detector runs."),
        train_compression: Compression = typer.Option("c23", "--train-compression", help="Compression trained on."),
        matrices: bool = typer.Option(True, "--matrices/--no-matrices", help="Leave-one-out + train-X/test-Y."),
        evolution: bool = typer.Option(
            True, "--evolution/--no-evolution", help="Add one method later: naive fine-tuning vs replay."
        ),
        new_method: str = typer.Option(
            None, "--new-method", help="Method added later (default: the lowest leave-one-out AUC)."
        ),
        finetune_steps: int = typer.Option(300, "--finetune-steps", help="Evolution: fine-tuning steps."),
        replay: int = typer.Option(48, "--replay", help="Replay-buffer images per old method."),
        gan_track: bool = typer.Option(True, "--gan-track/--no-gan-track", help="MNIST vs GAN samples track."),
        gan_steps: int = typer.Option(800, "--gan-steps", help="GAN track: training steps of the MNIST GAN."),
        explain: bool = typer.Option(True, "--explain/--no-explain", help="Grad-CAM and spectra figures."),
        threads: int = typer.Option(1, "--threads", help="Torch threads."),
        seed: int = typer.Option(0, "--seed", help="Random seed of every training run."),
        quiet: bool = quiet_option(),
        no_progress: bool = no_progress_alias(),
    ) -> None:
        """Evaluate detectors: in-domain, quality, method matrices, evolution, GAN track; JSON + HTML + PNG."""
        from deepfake_lab.pipelines.bench.evaluate import EvalOptions, evaluate_bench

        opt = EvalOptions(
            detectors=_names(detectors) or (), image_size=image_size, steps=steps, batch_size=batch_size,
            train_compression=train_compression, matrices=matrices, evolution=evolution, new_method=new_method,
            finetune_steps=finetune_steps, replay=replay, gan_track=gan_track, gan_steps=gan_steps,
            explain=explain, seed=seed, threads=threads,
        )  # fmt: skip
        out = out or bench_dir.with_name(bench_dir.name + "-eval")
        console = Console(stderr=True)
        try:
            report = evaluate_bench(bench_dir, out, opt, progress=not (quiet or no_progress), console=console)
        except KeyboardInterrupt:
            console.print(f"[yellow]interrupted[/]; run the same command again to resume (finished runs in {out}/runs)")
            raise typer.Exit(130) from None
        typer.echo(json.dumps(report["summary"], indent=1))
        typer.echo(f"report: {out / 'report.html'}  ({report['seconds']:.0f} s)")
