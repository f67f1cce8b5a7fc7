"""`web.app.form_fields` / `parse_options`: the upload form's option fields come from `ScanOptions`' specs and
bad values are 400s that name the field."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
from deepfake_lab.pipelines.scan import ScanOptions  # noqa: E402
from deepfake_lab.web.app import OPTION_FIELDS, form_fields, parse_options  # noqa: E402
from deepfake_lab.web.upload import UploadError  # noqa: E402


def test_form_fields_are_the_web_flagged_options() -> None:
    assert OPTION_FIELDS == form_fields(ScanOptions) == {
        "detect_every": int, "every": int, "aggregation": str, "threshold": float, "authentic_below": float,
        "max_faces": int, "min_size": float, "max_seconds": float,
    }  # fmt: skip


def test_parse_options_converts_validates_and_names_fields() -> None:
    opt = parse_options({"detect_every": "2", "aggregation": "max", "threshold": " "}, ScanOptions(realtime=True))
    assert (opt.detect_every, opt.aggregation, opt.threshold, opt.realtime) == (2, "max", None, False)
    for fields, needle in (
        ({"detect_every": "0"}, "detect_every must be >= 1, got 0"),
        ({"aggregation": "median"}, "aggregation must be one of confident, mean, max"),
        ({"threshold": "0.2", "authentic_below": "0.4"}, "authentic_below (0.4) must not exceed threshold (0.2)"),
        ({"every": "two"}, "option 'every' must be a int"),
        ({"batch_size": "4"}, "unknown option 'batch_size'"),
    ):
        with pytest.raises(UploadError) as exc:
            parse_options(fields, ScanOptions())
        assert exc.value.status == 400 and needle in str(exc.value), (fields, str(exc.value))
