"""`deepfake-lab models`: list registered models by family."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from deepfake_lab.registry import model_infos


def register(app: typer.Typer) -> None:
    @app.command("models")
    def models(family: str = typer.Option(None, "--family", "-f", help="Only this family.")) -> None:
        """List registered models by family."""
        infos = model_infos(family)
        if not infos:
            raise typer.BadParameter(f"no models in family {family!r}", param_hint="--family")
        table = Table("family", "model", "default task", "description")
        for e in infos:
            table.add_row(e.family, e.name, str(e.tags.get("task", "")), e.summary)
        Console().print(table)
