"""`pipelines.scan.options` / `summary`: options declared once (bounds, choices, flags in field metadata),
messages that name fields, one summary + exit code for plain and sharded scans; the package stays torch-free
for the CLI's help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deepfake_lab.errors import BadInputError
from deepfake_lab.metrics.detection import AGGREGATIONS
from deepfake_lab.pipelines.scan import FileScan, ScanOptions, option_specs, option_types, scan_outcome
from deepfake_lab.pipelines.scan.options import OptionError, OptionSpec, Ref


def test_every_option_field_has_a_spec_and_flagged_ones_have_help() -> None:
    specs = option_specs(ScanOptions)
    assert set(specs) == {f for f in ScanOptions.__dataclass_fields__}
    flags = [s.flag for s in specs.values() if s.flag]
    assert len(flags) == len(set(flags)) and all(f.startswith("--") for f in flags)
    assert all(s.help.strip() for s in specs.values())
    assert set(specs["aggregation"].choices or ()) == set(AGGREGATIONS)
    assert specs["precision"].env == "DEEPFAKE_LAB_PRECISION" and specs["model_range"].flag == "--range"
    assert option_types(ScanOptions)["max_faces"] == (int, True)
    assert option_types(ScanOptions)["aggregation"] == (str, False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"detect_every": 0}, "detect_every must be >= 1, got 0"),
        ({"threshold": 1.5}, "threshold must be in 0..1, got 1.5"),
        ({"max_latency": 0.0}, "max_latency must be > 0, got 0.0"),
        ({"aggregation": "median"}, "aggregation must be one of confident, mean, max, got 'median'"),
        ({"precision": "fp16"}, "precision must be one of auto, fp32, bf16, got 'fp16'"),
        ({"threshold": 0.3, "authentic_below": 0.5}, "authentic_below (0.5) must not exceed threshold (0.3)"),
    ],
)
def test_validation_names_the_field(change: dict, message: str) -> None:
    with pytest.raises(OptionError) as exc:
        ScanOptions(**change).validate()
    assert str(exc.value) == message and isinstance(exc.value, BadInputError)
    flags = exc.value.render(lambda name: "--" + name.replace("_", "-"))
    assert flags.startswith("--") and "_" not in flags.split(" ")[0]


def test_spec_bounds_and_error_rendering() -> None:
    spec = OptionSpec("h", min=1)
    assert spec.problem(1) is None and spec.problem(None) is None and spec.problem(0) == " must be >= 1, got 0"
    assert OptionSpec("h", above=0.0).problem(0.0) == " must be > 0, got 0.0"
    err = OptionError("pass ", Ref("overwrite"), " to replace ", Ref("json"))
    assert err.options == ("overwrite", "json")
    assert str(err) == "pass overwrite to replace json"
    assert err.render(str.upper) == "pass OVERWRITE to replace JSON"
    ScanOptions().validate()  # the defaults are valid


def _file(source: str, score: float | None, verdict: str, status: str = "ok") -> FileScan:
    return FileScan(source=source, score=score, verdict=verdict, status=status)


def test_one_outcome_for_scan_results_and_document_files() -> None:
    files = [_file("a.mp4", 0.9, "manipulated"), _file("b.jpg", 0.1, "authentic"), _file("c.jpg", None, "no_face")]
    plain = scan_outcome(files)
    docs = scan_outcome([f.to_dict(verbose=False) for f in files])
    assert plain.code == docs.code == 0 and plain.summary == docs.summary
    assert plain.counts_text() == "1 authentic, 1 manipulated, 1 no_face"
    out = scan_outcome(files, fail_above=0.5, fail_on={"no_face"})
    assert out.code == 1 and out.above == ["a.mp4"] and out.hit == [("c.jpg", "no_face")]
    broken = [*files, _file("d.mp4", None, "error", status="error")]
    assert scan_outcome(broken, fail_above=0.5).code == 2  # errors come before --fail-above
    assert scan_outcome(broken, interrupted=True).code == 130
    assert scan_outcome([_file("e.mp4", 0.5, "uncertain")], fail_above=0.5).code == 0  # above, not at


def test_options_and_verdicts_import_without_the_heavy_stack() -> None:
    code = (
        "import sys\n"
        "from deepfake_lab.pipelines.scan.options import ScanOptions\n"
        "from deepfake_lab.pipelines.scan.verdicts import FILE_VERDICTS\n"
        "from deepfake_lab.pipelines.scan import ScanOptions as S\n"
        "assert S is ScanOptions\n"
        "print(sorted(m for m in ('torch', 'numpy', 'cv2', 'av') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
