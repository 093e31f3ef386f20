"""Docs that cannot drift: the CLI reference is what the commands say, and ARCHITECTURE.md names
only modules (and names in them) that exist."""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

from export.cli_reference import render

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("edgemem", "export")
_CODE = re.compile(r"`([^`]+)`")
_PATH = re.compile(r"^(?:[\w.-]+/)*[\w.-]+(?:\.py|/)$")
_DOTTED = re.compile(r"^((?:edgemem|export)(?:\.\w+)+)")


def test_cli_reference_is_what_the_commands_say():
    page = (ROOT / "docs" / "cli-reference.md").read_text(encoding="utf-8")
    assert page == render(), ("docs/cli-reference.md is stale: run "
                              "`python -m export.cli_reference > docs/cli-reference.md` and commit it")


def _module_paths(text: str) -> list[tuple[int, str]]:
    """Each ``.py`` file or package folder a line names, resolved against the package the line
    last named in full (the table writes ``edgemem/home.py``, ``errors.py``, ``cli/main.py``)."""
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        package = None
        for code in _CODE.findall(line):
            code = code.split(" ")[0].split("(")[0]
            if not _PATH.match(code):
                continue
            top = code.split("/")[0]
            if top in PACKAGES:
                package = top
                found.append((lineno, code))
            elif package is not None and code.endswith(".py"):
                found.append((lineno, f"{package}/{code}"))
    return found


def _module_file(dotted: list[str]) -> Path | None:
    base = ROOT.joinpath(*dotted)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=None)
def _top_level_names(path: Path) -> frozenset[str]:
    """Names a module defines or imports at its top level, and attributes of its classes."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    names.add(t.id)
                elif isinstance(t, ast.Attribute):
                    names.add(t.attr)  # self.x = ... in a class
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)


def _dotted_names(text: str) -> list[tuple[int, str]]:
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for code in _CODE.findall(line):
            m = _DOTTED.match(code)
            if m:
                found.append((lineno, m.group(1)))
    return found


def _resolves(dotted: str) -> bool:
    """``edgemem.sync.slots.active_bundle``: the longest module prefix exists and the next name is
    defined in it (read with ast, nothing imported); a bare package or module path must exist."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        path = _module_file(parts[:cut])
        if path is None:
            continue
        rest = parts[cut:]
        return not rest or rest[0] in _top_level_names(path) or (
            path.name == "__init__.py" and _module_file(parts[:cut] + rest[:1]) is not None)
    return False


def test_architecture_names_only_modules_that_exist():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    paths = _module_paths(text)
    names = _dotted_names(text)
    assert len(paths) > 20 and len(names) > 10  # the parser still finds what the page names
    missing = [f"line {n}: {p}" for n, p in paths if not (ROOT / p).exists()]
    missing += [f"line {n}: {d}" for n, d in names if not _resolves(d)]
    assert not missing, "docs/ARCHITECTURE.md names what does not exist:\n" + "\n".join(missing)


def test_the_architecture_check_catches_a_missing_module():
    assert _module_paths("| x | `export/onnx_graph.py`, `quantize.py` |") == [
        (1, "export/onnx_graph.py"), (1, "export/quantize.py")]
    assert not (ROOT / "export/quantize.py").exists()
    assert _resolves("edgemem.sync.slots.active_bundle") and not _resolves("edgemem.sync.slots.no_such_name")
    assert not _resolves("edgemem.no_such_module")
