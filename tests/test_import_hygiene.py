"""Nothing outside runbook/tui imports textual (statically, and at run time)."""

from __future__ import annotations

import ast
import subprocess
import sys

from conftest import ROOT

PKG = ROOT / "runbook"


def core_modules() -> list[str]:
    mods = []
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(ROOT).with_suffix("")
        if rel.parts[1] == "tui":
            continue
        mods.append(".".join(rel.parts).removesuffix(".__init__"))
    return sorted(mods)


def test_no_textual_import_statement_outside_tui() -> None:
    offenders = []
    for f in PKG.rglob("*.py"):
        if f.relative_to(PKG).parts[0] == "tui":
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n == "textual" or n.startswith("textual.") for n in names):
                offenders.append(f"{f.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_importing_every_core_module_loads_no_textual() -> None:
    mods = core_modules()
    assert len(mods) > 10
    code = "import sys\n" + "".join(f"import {m}\n" for m in mods) + "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_only_the_command_line_imports_the_tui() -> None:
    """The TUI sits on top: the domain commands that open it are handed it (args.screens), never import it."""
    offenders = []
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(PKG)
        if rel.parts[0] == "tui" or rel.as_posix() == "cli.py":
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            if any(n == "runbook.tui" or n.startswith("runbook.tui.") for n in names):
                offenders.append(f"{f.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_no_module_of_runbook_imports_back_into_one_that_imports_it() -> None:
    """No import cycles between runbook's modules, counting the imports inside functions too: a cycle
    hidden in a function still ties two modules together (the redis probe and the restart preview did)."""
    mods = {".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): f for f in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                if isinstance(node, ast.ImportFrom) and node.module else [])
            graph[m] |= {n for n in names if n in mods and n != m}
    cycles = []

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for n in graph[todo.pop()]:
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen

    for m in mods:
        for n in graph[m]:
            if m in reach(n) and not m.startswith(n + ".") and not n.startswith(m + "."):
                cycles.append(f"{m} -> {n}")
    assert cycles == []
