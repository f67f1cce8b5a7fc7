"""The showcase page renders through its template; model names and figure labels are escaped."""

from __future__ import annotations

from deepfake_lab.pipelines.showcase import ShowcaseEntry, render_showcase


def test_showcase_page_escapes_names():
    hostile = "<script>alert(1)</script>"
    entry = ShowcaseEntry(f"ae{hostile}", f"what{hostile}", {}, {}, 10)
    closed = ShowcaseEntry("pca", "PCA", {}, {}, 0)
    uri = "data:image/png;base64,iVBORw0KGgo="
    rows = [(entry, 10, 41.7, {f"test MSE{hostile}": 0.0123456}, uri, uri), (closed, 0, 0.0, {}, uri, uri)]
    page = render_showcase(rows, f"digits{hostile}")
    assert "<script>" not in page and page.count("&lt;script&gt;") == 6  # model (heading + 2 alts), what, figure, data
    assert "10 steps, 42 steps/s" in page and "fitted in closed form" in page and "<b>0.01235</b>" in page
    assert f'<img src="{uri}"' in page
