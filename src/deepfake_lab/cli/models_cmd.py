"""`deepfake-lab models`: registered models grouped by family, with their size at the factory defaults."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from deepfake_lab.models.infos import model_infos, model_sizes

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def _stored_params(weights: Path) -> int | None:
    """Parameters in a .safetensors file, read from its JSON header only (no torch); BatchNorm running
    statistics are not parameters and are left out."""
    import math
    import struct

    try:
        with weights.open("rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
    except (OSError, ValueError, struct.error):
        return None
    return sum(
        math.prod(v["shape"])
        for k, v in header.items()
        if k != "__metadata__" and "running_" not in k and not k.endswith("num_batches_tracked")
    )


def _shipped() -> dict[str, list[str]]:
    """Model name -> the shipped exports of it, e.g. {"meso4": ["detector-fast (3×64×64, 12.6k)"]}."""
    out: dict[str, list[str]] = {}
    for card_path in sorted(ASSETS.glob("*.json")):
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(card, dict) or not card.get("model"):
            continue
        shape = (card.get("input") or {}).get("shape") if isinstance(card.get("input"), dict) else None
        size = [f"{'×'.join(str(v) for v in shape)}"] if shape else []
        params = _stored_params(card_path.with_suffix(".safetensors"))
        size += [_params(params)] if params else []
        label = card_path.stem + (f" ({', '.join(size)})" if size else "")
        out.setdefault(str(card["model"]), []).append(label)
    return out


def _params(n: int | None) -> str:
    if n is None:
        return "?"
    if n == 0:
        return "0 (fitted)"
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def register(app: typer.Typer) -> None:
    @app.command("models")
    def models(family: str = typer.Option(None, "--family", "-f", help="Only this family.")) -> None:
        """List registered models grouped by family: parameters and input size at the factory defaults (what
        `train NAME` builds unless a preset or --set changes them) and the shipped weights of each."""
        infos = model_infos(family)
        if not infos:
            raise typer.BadParameter(f"no models in family {family!r}", param_hint="--family")
        sizes, shipped = model_sizes(), _shipped()
        console = Console()
        for fam in sorted({i.family for i in infos}):
            table = Table(title=fam, title_justify="left", title_style="bold")
            width = max(len(i.name) for i in infos)
            table.add_column("model", no_wrap=True, min_width=width)  # names stay whole on narrow terminals
            table.add_column("params", no_wrap=True, justify="right")
            table.add_column("input", no_wrap=True)
            for col in ("default task", "shipped", "description"):
                table.add_column(col)
            for e in (i for i in infos if i.family == fam):
                size = sizes.get(e.name, {})
                shape = size.get("input")
                table.add_row(
                    e.name,
                    _params(size.get("params")),
                    "×".join(str(v) for v in shape) if shape else "?",
                    str(e.tags.get("task", "")),
                    ", ".join(shipped.get(e.name, [])),
                    e.summary,
                )
            console.print(table)
        console.print(
            "params and input: built with each factory's defaults; shipped models may differ (see their cards).",
            style="dim",
            highlight=False,
        )
