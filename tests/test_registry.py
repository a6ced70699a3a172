"""Every probe, guard and action the registry names resolves; every finding id of DESIGN.md exists."""

from __future__ import annotations

from conftest import runbook
from runbook import catalog, registry

DESIGN_IDS = """redis.restart.aof_missing redis.restart.aof_damaged redis.restart.config_drift redis.restart.no_config_file
redis.restart.replicaof_self redis.restart.snapshot_stale redis.persistence.save_failing redis.replication.full_sync_storm
redis.replication.backlog_too_small redis.replication.replica_lag redis.replication.link_down redis.host.overcommit_memory
redis.host.transparent_hugepages redis.host.disk_space gc.explicit gc.full gc.cms.concurrent_mode_failure gc.promotion_failed
gc.g1.evacuation_failure gc.g1.humongous gc.metaspace gc.pause.long gc.throughput.low gc.heap.leak gc.heap.too_small
gc.premature_promotion gc.sys_time_high gc.safepoint.long gc.zgc.allocation_stall gc.shenandoah.degenerated
gc.log.overwritten_on_restart""".split()


def test_registry_references_resolve() -> None:
    for p in registry.PROBES.values():
        assert callable(p.read) and callable(p.assess)
    for g in registry.GUARDS.values():
        assert callable(g.check) and g.probe in registry.PROBES
    for a in registry.ACTIONS.values():
        impl = a.impl
        assert callable(impl.describe) and callable(impl.run)
        assert all(g in registry.GUARDS for g in a.guards)


def test_design_finding_ids_exist_and_are_explained() -> None:
    assert set(DESIGN_IDS) <= set(catalog.RULES)
    for rid in DESIGN_IDS:
        r = runbook("explain", rid)
        assert r.returncode == 0 and rid in r.stdout and "What to do" in r.stdout
    assert runbook("explain", "redis.restart.aof_mising").returncode == 1


def test_readme_lists_every_finding_id() -> None:
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    assert [rid for rid in catalog.RULES if f"| `{rid}` |" not in readme] == []


def test_one_source_for_each_findings_severity() -> None:
    """The README row and the explain page state the severity the code can give: the rule's own, or its
    one other with when; and no code sets a severity any other way."""
    import ast

    from conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    for r in catalog.RULES.values():
        assert f"| `{r.id}` | {r.severity_text} | {r.title} | {'; '.join(r.named_by)} |" in readme, r.id
        assert f"({r.severity_text})" in catalog.explain(r.id)
    for path in (ROOT / "runbook").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "make":
                assert "severity" not in [k.arg for k in node.keywords], f"{path}:{node.lineno} sets a severity"


def test_an_escalated_finding_has_the_severity_its_page_states(tmp_path) -> None:
    from runbook.jvm.gclog.analyze import analyze
    from runbook.jvm.gclog.read import read_text

    lines = [f"[{i * 7.0:.3f}s][info][gc] GC({i}) Pause Full (Allocation Failure) 90M->89M(96M) 6000.000ms"
             for i in range(8)]
    found = {f["id"]: f for f in analyze(read_text("\n".join(lines)))["findings"]}
    for fid in ("gc.pause.long", "gc.full"):
        rule = catalog.RULES[fid]
        assert found[fid]["severity"] == rule.otherwise[0] == "critical" and rule.severity == "warning"
        assert "critical when" in catalog.explain(fid)


def test_each_kind_declares_the_rules_and_commands_found_by_module_name() -> None:
    """A finding and the command line read rules.py and cli.py without importing the kinds' probes; the
    kind's own declaration is that same tuple."""
    import importlib
    import subprocess
    import sys

    from runbook.kind import packages

    for entry in packages():
        kind = importlib.import_module(f"runbook.{entry}.kind").KIND
        assert kind.rules is importlib.import_module(f"runbook.{entry}.rules").RULES
    # `gc analyze` and its findings import no probe module (asyncio, redis-py and psutil stay out)
    code = ("import sys; from runbook.cli import build_parser; build_parser(); from runbook.catalog import make; "
            "make('gc.pause.long', {}); print(sorted(m for m in sys.modules if m.count('.') == 2 and "
            "m.split('.')[-1] in ('probe', 'probes', 'live', 'check', 'kind')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
