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


# ------------------------------------------------------------------ one package per target kind
def kind_packages() -> list[str]:
    return sorted(p.parent.name for p in PKG.glob("*/kind.py"))


def _imports(f) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(f.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


# The GC report screen is the TUI of a JVM command (`gc analyze --tui`): it is handed to that command, and
# reads the JVM kind's GC logs itself.
KIND_IMPORT_ALLOWED = {("tui/gc_report.py", "jvm")}


def test_the_kinds_are_found_and_the_ground_floor_knows_none() -> None:
    from runbook.kind import names

    assert set(kind_packages()) == {"host", "jvm", "redis"} == set(names())
    assert [n for _, n in _imports(PKG / "kind.py") if n.startswith("runbook")] == []


def test_nothing_outside_a_kind_imports_it() -> None:
    """A kind is one package: the engine, the loader, the registry, the catalogue, the targets, the command
    line and the TUI reach it only through its kind.py, found by runbook.kind.kinds()."""
    kinds = kind_packages()
    offenders = []
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(PKG)
        for line, name in _imports(f):
            parts = name.split(".")
            if len(parts) > 1 and parts[0] == "runbook" and parts[1] in kinds and parts[1] != rel.parts[0] \
                    and (rel.as_posix(), parts[1]) not in KIND_IMPORT_ALLOWED:
                offenders.append(f"{rel}:{line} imports {name}")
    assert sorted(set(offenders)) == []


def test_nothing_outside_a_kind_branches_on_its_name() -> None:
    """No `target.kind == "redis"` (or `in ("redis", "jvm")`) outside the kinds: what differs per kind is
    declared in its kind.py."""
    kinds = set(kind_packages())
    offenders = []
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(PKG)
        if rel.parts[0] in kinds:
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            names = {n.attr if isinstance(n, ast.Attribute) else n.id for n in sides
                     if isinstance(n, (ast.Attribute, ast.Name))}
            consts = {c.value for s in sides for c in ([s] if isinstance(s, ast.Constant) else
                                                      getattr(s, "elts", [])) if isinstance(c, ast.Constant)}
            if "kind" in names and consts & kinds:
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == []


def test_a_new_kind_is_one_folder(tmp_path) -> None:
    """A copy of runbook with one more folder (a made-up "memcached" kind with a probe, a guard, an action and
    a rule) knows its URLs, validates a playbook that uses it, explains its finding and records it."""
    import shutil

    copy = tmp_path / "runbook"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "memcached").mkdir()
    (copy / "memcached" / "__init__.py").write_text("")
    (copy / "memcached" / "kind.py").write_text('''
from runbook.catalog import make
from runbook.kind import ActionSpec, GuardSpec, Kind, ProbeSpec, Rule


def read(target, params, timeout):
    return {"reachable": True, "evictions": 0}


def assess(facts):
    return [make("memcached.evicting", {"evictions": facts["evictions"]})] if facts["evictions"] else []


class Flush:
    @staticmethod
    def describe(target, params):
        return "flush_all on " + target.url

    @staticmethod
    def run(target, params, timeout):
        return {"ok": False, "error": "not in this test"}


KIND = Kind("memcached", lambda url: url.startswith("memcached://"), "memcached:// (memcached)",
            probes=(ProbeSpec("memcached.stats", read, assess, "stats"),),
            guards=(GuardSpec("memcached.up", "memcached.stats", lambda f, p: (True, {}, "up"), "it answers"),),
            actions=(ActionSpec("memcached.flush", Flush, "flush_all", guards=("memcached.up",)),),
            rules=(Rule("memcached.evicting", "warning", "memcached evicts", "why", "what"),),
            record_probes=("memcached.stats",))
''')
    (tmp_path / "pb.yaml").write_text("""name: mc
description: flush a cache
targets:
  cache: {kind: memcached}
steps:
  - id: look
    kind: check
    target: cache
    probes: [memcached.stats]
  - id: flush
    kind: action
    target: cache
    action: memcached.flush
    guards: [memcached.up]
""")
    code = ("from runbook.targets import kind_of; from runbook import catalog;"
            "print(kind_of('memcached://10.0.0.1:11211'), catalog.RULES['memcached.evicting'].title)")
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.stdout.strip() == "memcached memcached evicts", r.stderr
    r = subprocess.run([sys.executable, "-m", "runbook.cli", "validate", str(tmp_path / "pb.yaml")],
                       capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "runbook.cli", "run", str(tmp_path / "pb.yaml"), "--headless", "--dry-run",
                        "-t", "cache=memcached://127.0.0.1:1"], capture_output=True, text=True, cwd=tmp_path,
                       env={**env, "RUNBOOK_STATE_DIR": str(tmp_path / "state")})
    assert "facts memcached.stats on cache: read" in r.stdout and "would run: flush_all on memcached://127.0.0.1:1" in r.stdout, \
        r.stdout + r.stderr
