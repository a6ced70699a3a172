"""The host kind: this machine (`local`, `host:NAME`) or another over ssh (`ssh://[user@]host[:port]`)."""

from __future__ import annotations

from runbook.host import actions
from runbook.host import probes
from runbook.host.rules import RULES
from runbook.kind import ActionSpec, GuardSpec, Kind, ProbeSpec


def _claims(url: str) -> bool:
    return url in ("local", "localhost") or url.startswith(("host:", "ssh://"))


PROBES = (
    ProbeSpec("host.basic", probes.basic, probes.assess_basic,
              "host name, load average, CPUs, memory"),
    ProbeSpec("host.disk", probes.disk, probes.assess_disk,
              "free space of params.path (default /)"),
    ProbeSpec("host.memory", probes.memory, probes.assess_memory,
              "available memory, swap and its rate over params.interval_s, memory pressure (PSI), the largest "
              "processes (params: low_pct, default 10)"),
    ProbeSpec("host.file", probes.file, probes.assess_none,
              "whether params.path exists, its size and its first 4 KiB (a flag, a lock, a pid file)"),
)

GUARDS = (
    GuardSpec("host.reachable", "host.basic", probes.guard_reachable,
              "the host could be read"),
)

ACTIONS = (
    ActionSpec("host.command", actions.Command,
               "run params.command (a list of arguments, never a shell string)",
               params={"command": "list", "timeout": "int"}),
)

KIND = Kind("host", _claims, "local (this host), ssh://[user@]host[:port]", PROBES, GUARDS, ACTIONS, RULES,
            record_probes=("host.basic", "host.disk"))
