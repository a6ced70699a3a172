"""The probes, guards and actions that playbooks may name: the union of every target kind's (runbook/kind.py;
each kind declares its own in its package's kind.py).

- A probe reads (I/O) and returns plain facts; its `assess` turns facts into findings (pure).
- A guard is a pure function of the facts of one probe, read fresh just before an action.
- An action is the only code that changes anything; `describe` gives the exact command.
"""

from __future__ import annotations

import functools
from typing import Any

from runbook.kind import ActionSpec, GuardSpec, ProbeSpec, kinds

__all__ = ["ActionSpec", "GuardSpec", "ProbeSpec", "PROBES", "GUARDS", "ACTIONS"]


@functools.lru_cache(maxsize=1)
def _tables() -> dict[str, dict[str, Any]]:
    tables: dict[str, dict[str, Any]] = {"PROBES": {}, "GUARDS": {}, "ACTIONS": {}}
    for k in kinds():
        for table, specs in (("PROBES", k.probes), ("GUARDS", k.guards), ("ACTIONS", k.actions)):
            for spec in specs:
                if spec.name in tables[table]:
                    raise ValueError(f"{spec.name} is declared twice")
                tables[table][spec.name] = spec
    for g in tables["GUARDS"].values():
        if g.probe not in tables["PROBES"]:
            raise ValueError(f"guard {g.name} reads {g.probe}, which no kind declares")
    return tables


def __getattr__(name: str) -> Any:
    """PROBES, GUARDS and ACTIONS: name -> spec, read from the kinds on first use (their modules import
    this package's neighbours, so the tables cannot be built while those are loading)."""
    if name in ("PROBES", "GUARDS", "ACTIONS"):
        return _tables()[name]
    raise AttributeError(name)
