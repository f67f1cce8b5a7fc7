"""Pages render through jinja2 templates with autoescaping: user text never becomes markup."""

from __future__ import annotations

import pytest
from jinja2 import UndefinedError
from markupsafe import Markup

from deepfake_lab.html import render, render_string


def test_values_are_escaped_unless_marked_trusted() -> None:
    out = render_string("<p>{{ name }}</p>{{ svg }}", name="<script>x()</script>.mp4", svg=Markup("<svg></svg>"))
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<svg></svg>" in out


def test_base_template_renders_a_page_and_escapes_the_title() -> None:
    out = render("_base.html.j2", title='a "b" <c>')
    assert out.startswith("<!doctype html>")
    assert "<title>a &#34;b&#34; &lt;c&gt;</title>" in out


def test_a_missing_value_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(UndefinedError):
        render_string("{{ missing }}")
