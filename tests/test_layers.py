"""Architecture guard: imports only point down the layer order of DESIGN.md, no import cycles, short files.

Layer order (an arrow may only point down or sideways):
core (`errors`, `registry`, `config`, `fsutil`, `html`, `nn`, `losses`, `imaging`) → `video`, `faces`, `models` →
`data`, `metrics`, `provenance` → `train` → `pipelines` → `cli`, `web`.
Imports inside `if TYPE_CHECKING:` are ignored; imports inside functions count (a lazy import is still a
dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "deepfake_lab"
LAYERS: list[set[str]] = [
    {"__init__", "errors", "registry", "config", "fsutil", "html", "nn", "losses", "imaging"},
    {"video", "faces", "models"},
    {"data", "metrics", "provenance"},
    {"train"},
    {"pipelines"},
    {"cli", "web", "__main__"},
]
MAX_LINES = 600

def _modules() -> dict[str, Path]:
    mods = {}
    for p in PKG.rglob("*.py"):
        parts = p.relative_to(PKG).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"
        mods[name] = p
    return mods


def _target(name: str, mods: dict[str, Path]) -> str | None:
    """`deepfake_lab.a.b.c` → the longest prefix that is a module of the package (`__init__` for the root)."""
    if name != "deepfake_lab" and not name.startswith("deepfake_lab."):
        return None
    name = name.removeprefix("deepfake_lab").lstrip(".")
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or "__init__"


def _visit(node: ast.AST, here: list[str], found: set[str]) -> None:
    for ch in ast.iter_child_nodes(node):
        if isinstance(ch, ast.If) and "TYPE_CHECKING" in ast.unparse(ch.test):
            continue
        if isinstance(ch, ast.Import):
            found.update(a.name for a in ch.names)
        elif isinstance(ch, ast.ImportFrom):
            base = ".".join(here[: len(here) - ch.level + 1]) if ch.level else ""
            module = ".".join(x for x in (base, ch.module or "") if x)
            found.update(f"{module}.{a.name}" for a in ch.names)
        _visit(ch, here, found)


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the package modules it imports (resolved to the longest existing module name)."""
    edges: dict[str, set[str]] = {}
    for mod, path in mods.items():
        here = ["deepfake_lab", *([] if mod == "__init__" else mod.split("."))]
        if path.name != "__init__.py":
            here = here[:-1]
        found: set[str] = set()
        _visit(ast.parse(path.read_text(encoding="utf-8")), here, found)
        edges[mod] = {t for n in found if (t := _target(n, mods)) is not None and t != mod}
    return edges


def _layer(mod: str) -> int:
    top = mod.split(".")[0]
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{mod}: top-level name {top!r} has no layer in LAYERS (add it)")


def test_imports_point_down_the_layer_order() -> None:
    edges = _imports(_modules())
    up = sorted((a, b) for a, es in edges.items() for b in es if _layer(b) > _layer(a))
    assert not up, "imports from a higher layer:\n" + "\n".join(f"  {a} -> {b}" for a, b in up)


def _cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components (> 1 module), ignoring a package's imports of its own submodules."""
    def own_child(a: str, b: str) -> bool:
        return b.startswith(a + ".") or a == "__init__"

    graph = {a: {b for b in es if not own_child(a, b)} for a, es in edges.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[frozenset[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(frozenset(comp))

    for v in graph:
        if v not in index:
            strong(v)
    return out


def test_no_import_cycles() -> None:
    cycles = _cycles(_imports(_modules()))
    assert not cycles, "import cycles:\n" + "\n".join(f"  {sorted(c)}" for c in cycles)


def test_no_module_is_a_monolith() -> None:
    long = sorted(str(p.relative_to(PKG)) for p in PKG.rglob("*.py")
                  if len(p.read_text(encoding="utf-8").splitlines()) > MAX_LINES)
    assert not long, f"over {MAX_LINES} lines (split by concept): {long}"


def test_the_guard_sees_a_violation(tmp_path: Path) -> None:
    """The walker resolves relative and absolute imports; a planted upward import is found."""
    edges = _imports(_modules())
    assert {"errors", "fsutil", "__init__"} <= edges["train.checkpoint"]  # absolute imports
    assert "cli.options" in edges["cli.detect_cmd"] or any(b.startswith("pipelines") for b in edges["cli.detect_cmd"])
    assert _layer("cli.detect_cmd") > _layer("pipelines.scan") > _layer("train.trainer") > _layer("data.fetch")
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [frozenset({"a", "b"})]


def test_tests_mirror_src_and_do_not_import_each_other() -> None:
    """tests/<package>/ mirrors src/deepfake_lab/<package>/, names are unique, fixtures come from conftest.py."""
    tests = Path(__file__).resolve().parent
    files = [p for p in tests.rglob("test_*.py") if "support" not in p.parts]
    names = [p.name for p in files]
    assert len(names) == len(set(names)), "test file names must be unique across folders"
    packages = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    for p in files:
        folder = p.parent.relative_to(tests).parts
        assert not folder or folder[0] in packages, f"{p.relative_to(tests)}: no src package {folder[0]!r}"
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.split(".")[0].startswith("test_"), f"{p.name} imports {node.module}"


def test_a_planted_upward_import_and_cycle_are_found(tmp_path: Path) -> None:
    (tmp_path / "x.py").write_text("def f():\n    from deepfake_lab.pipelines.scan import core\n")
    (tmp_path / "core.py").write_text("from deepfake_lab.faces import x\n")
    mods = {"faces.x": tmp_path / "x.py", "pipelines.scan.core": tmp_path / "core.py", "faces": tmp_path / "x.py"}
    edges = _imports(mods)
    assert edges["faces.x"] == {"pipelines.scan.core"}  # a lazy import inside a function counts
    assert _layer("pipelines.scan.core") > _layer("faces.x")
    assert frozenset({"faces.x", "pipelines.scan.core"}) in _cycles(edges)
