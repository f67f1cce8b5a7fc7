"""`deepfake-lab provenance inspect FILE...` and `provenance key`: read the labels our generators write.

Argument handling and display only; the work is `deepfake_lab.provenance`. Also home of the shared
`--no-provenance` option text and warning used by every generating command.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

NO_PROVENANCE_HELP = "Write NO invisible watermark and NO C2PA manifest (prints a warning)."


def warn_if_disabled(no_provenance: bool) -> None:
    """Print the --no-provenance warning on stderr (never skipped silently)."""
    if no_provenance:
        from deepfake_lab.provenance import DISABLED_WARNING

        typer.echo(DISABLED_WARNING, err=True)


def register(app: typer.Typer) -> None:
    prov = typer.Typer(
        name="provenance", help="Read provenance labels (C2PA manifest + invisible watermark).", no_args_is_help=True
    )

    @prov.command("inspect")
    def inspect(
        files: list[Path] = typer.Argument(..., help="Images or videos."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object per file (a JSON list)."),
        frames: int = typer.Option(16, "--frames", min=1, max=1000, help="Video frames sampled for the watermark."),
    ) -> None:
        """Per file: is there a C2PA manifest, is it valid, what does it claim; is the watermark there (in what
        fraction of frames) and what does its payload say. Exit code 0 even when nothing is found."""
        from deepfake_lab.provenance import inspect_provenance

        console = Console()
        reports = [inspect_provenance(f, max_frames=frames) for f in files]
        if as_json:
            typer.echo(json.dumps([r.to_dict() for r in reports], indent=1))
            return
        for r in reports:
            c, w = r.c2pa, r.watermark
            console.print(f"[bold]{r.path}[/] ({r.kind})", highlight=False)
            if c.present:
                colour = "green" if c.valid else "red"
                console.print(f"  C2PA: [{colour}]{c.status}[/]", highlight=False)
                console.print(
                    f"  claims: digital source type {c.digital_source_type}; "
                    f"generator {c.software_agent or c.generator}" + (f"; model {c.model}" if c.model else ""),
                    highlight=False,
                )
            else:
                console.print("  C2PA: none" + (f" ({c.note})" if c.note else ""), highlight=False)
            if w.frames_found:
                p = w.payload or {}
                match = {True: ", matches the manifest", False: ", DIFFERS from the manifest", None: ""}[
                    w.matches_manifest
                ]
                console.print(
                    f"  watermark: found in {w.frames_found}/{w.frames_checked} frame(s) ({w.fraction:.0%}): "
                    f"{p.get('tool')} {p.get('kind')}, model id {p.get('model_id')}, run id {p.get('run_id')}{match}",
                    highlight=False,
                )
            elif w.pooled_payload:
                p = w.pooled_payload
                console.print(
                    f"  watermark: not decodable in single frames (0/{w.frames_checked}), found with the votes of "
                    f"all {w.frames_checked} pooled: {p.get('tool')} {p.get('kind')}, model id {p.get('model_id')}, "
                    f"run id {p.get('run_id')}",
                    highlight=False,
                )
            else:
                console.print(
                    f"  watermark: not found in {w.frames_checked} frame(s)" + (f" ({w.note})" if w.note else ""),
                    highlight=False,
                )
            console.print(f"  labelled synthetic: {'yes' if r.labelled_synthetic else 'no'}", highlight=False)

    @prov.command("key")
    def key() -> None:
        """Show (creating it on first use) the signing key and certificate used for C2PA manifests."""
        from deepfake_lab.provenance.keys import load_or_create_identity

        ident = load_or_create_identity()
        state = "created" if ident.created else ("your own (environment)" if not ident.local else "existing")
        typer.echo(f"certificate chain: {ident.cert_path}\nprivate key: {ident.key_path}\n({state})")

    app.add_typer(prov)
