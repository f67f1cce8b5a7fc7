"""`deepfake-lab data fetch|list`: the offline sample corpus (argument handling only)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from deepfake_lab.cli.options import DATA_ENV
from deepfake_lab.data.fetch import ITEMS, data_root, load_manifest

if TYPE_CHECKING:  # the download module loads in the commands that fetch (fast `--help`)
    from deepfake_lab.data.fetch import FetchResult

data_app = typer.Typer(
    name="data",
    help="Fetch and list the offline sample corpus (faces, videos, MNIST, Fashion-MNIST).",
    no_args_is_help=True,
)

_ROOT_HELP = "Cache folder (default: ~/.cache/deepfake-lab, or $XDG_CACHE_HOME/deepfake-lab)."


def _split_names(only: list[str] | None) -> list[str] | None:
    """Accept ``--only a --only b`` as well as ``--only a,b``."""
    if not only:
        return None
    return [n.strip() for part in only for n in part.split(",") if n.strip()]


def _summary(results: list[FetchResult]) -> Table:
    from deepfake_lab.data.fetch import human_size

    table = Table(title="data fetch")
    table.add_column("item")
    table.add_column("status")
    table.add_column("files", justify="right")
    table.add_column("size", justify="right")
    colours = {"present": "green", "fetched": "green", "skipped": "yellow"}
    for r in results:
        status = f"[{colours[r.status]}]{r.status}[/]"
        if r.reason:
            status += f" ({r.reason})"
        table.add_row(r.name, status, str(r.files) if r.files else "-", human_size(r.size) if r.size else "-")
    total = sum(r.size for r in results)
    table.add_row("[bold]total[/]", "", str(sum(r.files for r in results)), human_size(total))
    return table


@data_app.command("fetch")
def fetch_cmd(
    only: list[str] | None = typer.Option(
        None, "--only", help=f"Item(s) to fetch, repeatable or comma-separated: {', '.join(ITEMS)}."
    ),
    root: Path | None = typer.Option(None, "--root", envvar=DATA_ENV, help=_ROOT_HELP),
    strict: bool = typer.Option(False, "--strict", help="Exit with code 1 when any item was skipped."),
) -> None:
    """Download (or verify) the sample corpus into the cache; present, intact items are not re-downloaded."""
    from deepfake_lab.data.fetch import fetch

    base = root if root is not None else data_root()
    err = Console(stderr=True)
    err.print(f"data cache: {base}")
    results = fetch(_split_names(only), base, console=err)
    Console().print(_summary(results))
    if strict and any(r.status == "skipped" for r in results):
        raise typer.Exit(1)


@data_app.command("list")
def list_cmd(root: Path | None = typer.Option(None, "--root", envvar=DATA_ENV, help=_ROOT_HELP)) -> None:
    """Show which corpus items are in the cache (people, licence, files, size) and how to get the missing ones."""
    from deepfake_lab.data.fetch import human_size
    from deepfake_lab.data.realfaces import IDENTITY_SPLITS, identities, people_summary

    base = root if root is not None else data_root()
    entries = load_manifest(base)["items"]
    table = Table(title=f"sample corpus in {base}")
    table.add_column("item")
    table.add_column("status")
    table.add_column("files", justify="right")
    table.add_column("size", justify="right")
    table.add_column("people")
    table.add_column("licence / how to get it", overflow="fold")
    for name, spec in ITEMS.items():
        entry = entries.get(name)
        if entry and (base / name).is_dir():
            table.add_row(
                name,
                "[green]present[/]",
                str(len(entry.get("files", {}))),
                human_size(int(entry.get("size", 0))),
                people_summary(name),
                entry.get("licence", spec.licence),
            )
        else:
            table.add_row(
                name,
                "[yellow]missing[/]",
                "-",
                "-",
                people_summary(name),
                f"deepfake-lab data fetch --only {name}",
            )
    console = Console()
    console.print(table)
    split = ", ".join(f"{k} {len(v)}" for k, v in IDENTITY_SPLITS.items())
    console.print(f"{len(identities())} distinct people declared (identity-disjoint protocol: {split}).")
    present = sum(1 for n in ITEMS if n in entries and (base / n).is_dir())
    if present < len(ITEMS):
        console.print(f"{present} of {len(ITEMS)} items present; `deepfake-lab data fetch` gets them all.")


def register(app: typer.Typer) -> None:
    """Add the `data` command group to the top-level app."""
    app.add_typer(data_app, name="data")
