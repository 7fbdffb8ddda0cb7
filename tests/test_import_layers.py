"""The package's import layers (docs/architecture.md): no import loops, and no module importing
one of a higher layer. Read from the source with ``ast`` (nothing is imported), counting every
``import`` statement: top level, inside functions and under ``TYPE_CHECKING`` alike, since a
loop through a function-level import is still a loop a reader has to untangle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from paths import PROJECT_DIR

PACKAGE = "ta_scheduler"
ROOT = PROJECT_DIR / "include" / PACKAGE

#: Lowest first. A module may import its own layer and the layers before it. An entry names a
#: module or a package (``pkg.*``: every module below it); the longest match wins.
LAYERS: list[tuple[str, list[str]]] = [
    ("vocabulary", ["ta_scheduler", "ta_scheduler.constants", "ta_scheduler.market", "ta_scheduler.retrying",
                    "ta_scheduler.templates", "ta_scheduler.assets", "ta_scheduler.atomic_files"]),
    ("settings", ["ta_scheduler.config", "ta_scheduler.settings_loader", "ta_scheduler.passwords"]),
    ("calendar", ["ta_scheduler.calendar", "ta_scheduler.calendar.*", "ta_scheduler.params"]),
    ("computation", ["ta_scheduler.analytics.panel", "ta_scheduler.analytics.indicators", "ta_scheduler.analytics.breadth",
                     "ta_scheduler.analytics.news_sentiment", "ta_scheduler.analytics.hot_stocks",
                     "ta_scheduler.analytics.risk"]),
    ("storage", ["ta_scheduler.storage", "ta_scheduler.storage.*"]),
    ("providers", ["ta_scheduler.providers", "ta_scheduler.providers.*"]),
    ("sync", ["ta_scheduler.sync", "ta_scheduler.sync.*", "ta_scheduler.calendar.sync"]),
    ("analysis", ["ta_scheduler.analytics", "ta_scheduler.analytics.*", "ta_scheduler.llm", "ta_scheduler.llm.*"]),
    ("reports", ["ta_scheduler.notify", "ta_scheduler.notify.*", "ta_scheduler.reports", "ta_scheduler.reports.*"]),
    ("operations", ["ta_scheduler.waits", "ta_scheduler.waits.*", "ta_scheduler.maintenance", "ta_scheduler.maintenance.*",
                    "ta_scheduler.ui", "ta_scheduler.ui.*", "ta_scheduler.dag_defaults",
                    # aliases kept at former trigger class paths (deferrals stored before the move)
                    "ta_scheduler.vendor_trigger", "ta_scheduler.reports.triggers"]),
]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """module → the package's modules it imports (``from pkg import name`` counts as importing
    ``pkg.name`` when that is a module, else ``pkg``)."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against this module's package
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in files else base)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (match length, layer index)
    for index, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            if pattern.endswith(".*"):
                hit = module.startswith(pattern[:-1])
                length = len(pattern) - 2
            else:
                hit = module == pattern
                length = len(pattern) + 1  # an exact name beats the package pattern of the same prefix
            if hit and (best is None or length > best[0]):
                best = (length, index)
    return None if best is None else best[1]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = _pop_component(stack, on_stack, v)
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _pop_component(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    """Pop Tarjan's stack down to ``root``: the strongly connected component ``root`` heads."""
    component = []
    while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == root:
            return component


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    out = []
    for module, targets in sorted(graph.items()):
        here = layer_of(module)
        for target in sorted(targets):
            there = layer_of(target)
            if here is not None and there is not None and there > here:
                out.append(f"{module} ({LAYERS[here][0]}) imports {target} ({LAYERS[there][0]})")
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(ROOT)


def test_the_graph_sees_the_whole_package(graph):
    assert len(graph) == len(list(ROOT.rglob("*.py")))
    assert "ta_scheduler.sync.bars" in graph["ta_scheduler.sync.tasks"]  # a function-level import counts


def test_every_module_has_a_layer(graph):
    assert [m for m in sorted(graph) if layer_of(m) is None] == [], "add the new module to LAYERS (and docs/architecture.md)"


def test_there_is_no_import_loop(graph):
    assert cycles(graph) == []


def test_no_module_imports_a_higher_layer(graph):
    assert layer_violations(graph) == []


def test_a_loop_and_an_upward_import_are_caught(tmp_path):
    pkg = tmp_path / PACKAGE
    (pkg / "storage").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "storage" / "__init__.py").write_text("")
    (pkg / "market.py").write_text("def f():\n    from ta_scheduler.storage import writes\n")
    (pkg / "storage" / "writes.py").write_text("from ta_scheduler.market import f\nfrom . import ledger\n")
    (pkg / "storage" / "ledger.py").write_text("from .writes import x\n")
    g = import_graph(pkg)
    assert g["ta_scheduler.storage.writes"] == {"ta_scheduler.market", "ta_scheduler.storage.ledger"}
    assert cycles(g) == [["ta_scheduler.market", "ta_scheduler.storage.ledger", "ta_scheduler.storage.writes"]]
    assert layer_violations(g) == ["ta_scheduler.market (vocabulary) imports ta_scheduler.storage.writes (storage)"]


def test_the_layers_are_documented():
    text = (PROJECT_DIR / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert [name for name, _ in LAYERS] == [line.split("**")[1] for line in text.splitlines() if line.startswith("| **")]
