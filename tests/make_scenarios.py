"""Record a scenario for each playbook of the library from a real sandbox (run by hand when the facts
change shape; needs redis-server, redis-sentinel and a JDK, and root for the cgroup one):

    .venv/bin/python tests/make_scenarios.py [REHEARSAL...]

Each rehearsal's sandbox is built on real local processes, and its playbook is run as a dry run against
it with the rehearsal's answers; every probe read on the way is recorded (scenario.record_playbook). The
sandbox directory, ports and pids are then rewritten to stable values so that a re-recording changes only
what really changed. The playbooks that read this host (disk-pressure, host-memory) are recorded from it.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from runbook import scenario  # noqa: E402
from runbook.playbook import loader  # noqa: E402
from runbook.targets import Target  # noqa: E402

OUT = ROOT / "playbooks" / "scenarios"


def stable(text: str, sandbox: Path, urls: list[str]) -> str:
    text = text.replace(str(sandbox), "/srv/sandbox")
    for i, port in enumerate(sorted({u.rsplit(":", 1)[1] for u in urls if re.search(r":\d+$", u)})):
        text = re.sub(rf"\b{port}\b", str(7001 + i), text)
    return re.sub(r"/tmp/rb-sim-[A-Za-z0-9_]+", "/tmp/rb-sim", text)


def write(pb_name: str, name: str, description: str, data: dict, sandbox: Path | None, urls: list[str]) -> None:
    out = OUT / pb_name / f"{name}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {"playbook": pb_name, "description": description, **{k: v for k, v in data.items() if k != "playbook"}}
    scenario.save(data, out)
    if sandbox is not None:
        out.write_text(stable(out.read_text(), sandbox, urls))
    print(f"wrote {out} (the dry run ended {data.get('recorded_outcome')})")


def from_rehearsal(name: str) -> None:
    from runbook.sandbox.procs import Sandbox
    from runbook.sandbox.scenarios import SCENARIOS

    sc = SCENARIOS[name]
    pb, problems = loader.load(sc.playbook_path)
    assert pb is not None, problems
    with Sandbox(name, say=lambda s: None) as sb:
        built = sc.build(sb)
        data = scenario.record_playbook(pb, built.targets, built.answers, built.params or None)
        doc = " ".join((sc.build.__doc__ or sc.summary).split())
        write(sc.playbook, name, f"recorded from the {name} rehearsal: {doc}", data, sb.dir,
              [t.url for t in built.targets.values()])


def from_this_host() -> None:
    host = {"host": Target("host", "local", "host")}
    for pb_name, name, answers, description in (
            ("disk-pressure", "this-host", {"all-clear": "done", "find-growth": "done"},
             "recorded from the machine that runs the tests: its root filesystem as it was"),
            ("host-memory", "this-host", {"fine": "done", "low": "done", "swapping": "done"},
             "recorded from the machine that runs the tests: its memory as it was")):
        pb, problems = loader.load(ROOT / "playbooks" / f"{pb_name}.yaml")
        assert pb is not None, problems
        write(pb_name, name, description, scenario.record_playbook(pb, host, answers), None, [])


def enable_aof() -> None:
    from redis_server import RedisServer

    tmp = Path(tempfile.mkdtemp(prefix="rb-scen-"))
    s = RedisServer(tmp, "redis", conf="save 3600 1\n").start()
    try:
        s.fill(1000)
        s.client().save()
        pb, _ = loader.load(ROOT / "playbooks" / "redis-enable-aof.yaml")
        t = {"master": Target("master", s.url, "redis", restart_command=("redis-server", str(s.conf)))}
        data = scenario.record_playbook(pb, t, {"explain": "done", "switch": {"confirm": "master"}, "look-again": "done"})
        write("redis-enable-aof", "rdb-only", "recorded from a real server that saves RDB snapshots only: the switch "
              "to AOF is shown as a dry run", data, tmp, [s.url])
    finally:
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    from runbook.sandbox.scenarios import SCENARIOS

    names = sys.argv[1:] or [n for n, sc in SCENARIOS.items() if sc.playbook != "redis-master-restart"] + ["host", "enable-aof"]
    for n in names:
        if n == "host":
            from_this_host()
        elif n == "enable-aof":
            enable_aof()
        else:
            from_rehearsal(n)


if __name__ == "__main__":
    main()
