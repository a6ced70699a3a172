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
