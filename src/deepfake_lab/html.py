"""The one way pages are written: jinja2 templates in `deepfake_lab/templates/` with autoescaping on.

Every self-contained HTML page the toolkit writes (scan report, bench report, showcase, demo) renders a
template here; a value is escaped unless the caller marks trusted markup with `markupsafe.Markup` (e.g. an
inline SVG that the code built from numbers). Templates ship inside the wheel (package data).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared jinja2 environment: package templates, autoescaping for .html/.j2, undefined names fail."""
    return Environment(
        loader=PackageLoader("deepfake_lab", "templates"),
        autoescape=select_autoescape(["html", "htm", "j2"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **context: Any) -> str:
    """Render `templates/<template>` with `context`; e.g. ``render("report.html.j2", title="scan")``."""
    return environment().get_template(template).render(**context)


def render_string(source: str, **context: Any) -> str:
    """Render an inline template with the same escaping rules (for small fragments)."""
    return environment().from_string(source).render(**context)
