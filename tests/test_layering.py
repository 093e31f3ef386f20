"""The import layering of edgemem/ and export/: no import circles, no import from a lower floor to a
higher one (docs/ARCHITECTURE.md, "Floors").

The graph is read with ast from the sources (nothing imported), one node a module. Every import
counts: at the top, inside a function (a lazy import is still a dependency), and under
``if TYPE_CHECKING`` (a type is a dependency too: it is what ties retrieval to the service). What
is wrong today is listed below with its issue; anything new fails. Each known entry is also a
strict expected failure, so whoever removes one sees the test pass unexpectedly and deletes the
entry, and the list only shrinks.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("edgemem", "export")

# A room is a subpackage of edgemem (edgemem.memory), a top-level module (edgemem.bundle) or the
# whole of export. A room may import its own floor or lower ones.
FLOORS: dict[str, int] = {
    "edgemem": 0, "edgemem.errors": 0, "edgemem.home": 0, "edgemem.interfaces": 0, "edgemem.fsutil": 0,
    "edgemem.lru": 0, "edgemem.quant": 0, "edgemem.rss": 0, "edgemem.onnx_wire": 0,
    "edgemem.profiles": 1, "edgemem.signing_keys": 1, "edgemem.bundle": 1, "edgemem.seal": 1,
    "edgemem.privacy": 2, "edgemem.safety": 2, "edgemem.care": 2, "edgemem.engine": 2,
    "edgemem.memory": 3,
    "edgemem.sync": 4, "edgemem.assistant": 4,
    "edgemem.serve": 5,
    "edgemem.cli": 6,
    "export": 7,
}

# Today's import circles (strongly connected sets of modules), each with why it is one.
KNOWN_CYCLES: dict[frozenset[str], str] = {
    frozenset({"edgemem.care.content", "edgemem.care.personalise", "edgemem.care.search"}):
        "issue 20: personalise/search type their arguments with content.Card/CareContent",
    frozenset({"edgemem.bundle", "edgemem.seal"}):
        "issue 21: seal.check rebuilds the Manifest with bundle's parser (a function-level import)",
}

# Today's imports from a lower floor to a higher one: (importing module, imported module).
KNOWN_UPWARD: dict[tuple[str, str], str] = {
}


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _known(name: str, modules: dict[str, tuple[Path, bool]]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


@lru_cache(maxsize=None)
def import_graph() -> dict[str, frozenset[str]]:
    """module -> the edgemem/export modules it imports anywhere in its source."""
    modules = _modules()
    graph: dict[str, frozenset[str]] = {}
    for name, (path, is_package) in modules.items():
        here = name if is_package else name.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(_known(a.name, modules) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for a in node.names:  # `from . import store` names a module, `from .store import X` a name
                    sub = f"{source}.{a.name}"
                    targets.add(sub if sub in modules else _known(source, modules))
        graph[name] = frozenset(t for t in targets if t is not None and t != name)
    return graph


def cycles(graph: dict[str, frozenset[str]]) -> list[frozenset[str]]:
    """The strongly connected sets of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def room(module: str) -> str:
    parts = module.split(".")
    return "export" if parts[0] == "export" else ".".join(parts[:2])


def upward_imports(graph: dict[str, frozenset[str]]) -> set[tuple[str, str]]:
    return {(a, b) for a, targets in graph.items() for b in targets
            if FLOORS[room(b)] > FLOORS[room(a)]}


def test_the_graph_sees_imports_of_every_kind():
    graph = import_graph()
    assert "edgemem.assistant" in graph["edgemem.cli.memory"]  # inside a function (and a try)
    assert "edgemem.memory.types" in graph["edgemem.memory.service"]  # `from . import types`
    assert "edgemem.fsutil" in graph["edgemem.sync.slots"]  # `from .. import fsutil`
    assert cycles({"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}) == [
        frozenset({"a", "b", "c"})]


def test_every_room_has_a_floor():
    assert {room(m) for m in import_graph()} <= set(FLOORS), "add the new module's room to FLOORS"


def test_no_new_import_cycle():
    new = [sorted(c) for c in cycles(import_graph()) if not any(c <= known for known in KNOWN_CYCLES)]
    assert not new, f"new import circle(s): {new}"


def test_no_new_import_from_a_lower_floor_to_a_higher_one():
    new = sorted(upward_imports(import_graph()) - set(KNOWN_UPWARD))
    assert not new, "imports from a lower floor to a higher one (docs/ARCHITECTURE.md, Floors): " + ", ".join(
        f"{a} -> {b}" for a, b in new)


def test_edgemem_never_imports_export():
    assert not [(a, b) for a, t in import_graph().items() for b in t
                if a.startswith("edgemem") and b.startswith("export")]


@pytest.mark.parametrize("cycle", [pytest.param(c, id="+".join(sorted(m.rsplit(".", 1)[-1] for m in c)),
                                                marks=pytest.mark.xfail(strict=True, reason=why))
                                   for c, why in KNOWN_CYCLES.items()])
def test_known_cycle_is_gone(cycle):
    assert not any(c & cycle for c in cycles(import_graph()))


@pytest.mark.parametrize("edge", [pytest.param(e, id=f"{e[0]}->{e[1]}",
                                               marks=pytest.mark.xfail(strict=True, reason=why))
                                  for e, why in KNOWN_UPWARD.items()])
def test_known_upward_import_is_gone(edge):
    assert edge not in upward_imports(import_graph())
