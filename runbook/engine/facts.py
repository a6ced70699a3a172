"""Where facts come from: live probes (with a hard timeout) or recorded scenarios."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from runbook import registry
from runbook.targets import Target


class ProbeError(Exception):
    pass


class FactSource(Protocol):
    def read(self, probe: str, target: Target, params: dict[str, Any], timeout: float | None = None) -> dict[str, Any]: ...


def call_with_timeout(fn: Any, timeout: float, *args: Any) -> Any:
    """Run fn in a daemon thread; give up after timeout. The processes it started (runbook.procs) are
    killed then, so the thread ends soon after; it is never joined at exit."""
    from runbook.procs import Scope

    box: dict[str, Any] = {}
    scope = Scope()

    def run() -> None:
        scope.enter()
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - reported to the caller
            box["error"] = e

    t = threading.Thread(target=run, daemon=True, name="probe")
    t.start()
    t.join(timeout)
    if t.is_alive():
        killed = scope.kill()
        raise ProbeError(f"timed out after {timeout:g} s" + (f"; killed the {killed} process(es) it started" if killed else ""))
    if "error" in box:
        e = box["error"]
        raise ProbeError(str(e) or type(e).__name__) from e
    return box["value"]


class LiveFacts:
    """Reads facts from live targets. Each probe also has its own network timeouts."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout

    def read(self, probe: str, target: Target, params: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        spec = registry.PROBES[probe]
        if spec.target_kind != target.kind:
            raise ProbeError(f"probe {probe} reads a {spec.target_kind} target; {target.name} is {target.kind}")
        if timeout:  # the step's own timeout_s: the whole read, network included
            return call_with_timeout(spec.read, timeout, target, params, min(self.timeout, timeout))
        # The wall-clock limit: a little above the probe's own network timeouts, and its own budget.
        limit = self.timeout * 3 + 1 + (spec.budget(params, self.timeout) if spec.budget else 0.0)
        return call_with_timeout(spec.read, limit, target, params, self.timeout)


def facts_key(probe: str, params: dict[str, Any]) -> str:
    """Where a read is kept in a scenario: the first read of a probe under its name; a read of it with
    other params also under "PROBE {params as JSON}"."""
    import json

    return f"{probe} {json.dumps(params, sort_keys=True, default=str)}"


class RecordedFacts:
    """Facts from a scenario file: {target: {probe: facts}}; a probe with {"error": ...} fails."""

    def __init__(self, recorded: dict[str, dict[str, Any]]) -> None:
        self.recorded = recorded

    def read(self, probe: str, target: Target, params: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        by_probe = self.recorded.get(target.name, {})
        key = facts_key(probe, params)
        if key not in by_probe:
            key = probe  # the first read of a probe is kept under its name
        if key not in by_probe:
            raise ProbeError(f"the scenario has no {probe} facts for {target.name}")
        facts = by_probe[key]
        if isinstance(facts, dict) and set(facts) == {"error"}:
            raise ProbeError(str(facts["error"]))
        return facts
