"""Plain-text lines for events: headless runs print them, `runbook test` snapshots them.

Deterministic by design: no timestamps, no session ids; values from live systems are
shown with repr-like quoting where they could be mistaken for structure.
"""

from __future__ import annotations

import json
from typing import Any

from runbook.events import Event
from runbook.text import human_field


def _val(k: str, v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return human_field(k, v)  # sizes, durations, rates and counts for people; ports and ids as they are
    return json.dumps(v, default=str, sort_keys=True)


def _evidence(ev: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_val(k, v)}" for k, v in ev.items())


def render(e: Event, *, verbose: bool = False) -> list[str]:
    d = e.data
    k = e.kind
    if k == "session_started":
        alert = d.get("alert") or {}
        return [f"session {d.get('mode')} of {d.get('playbook_name')}"] + [
            f"  alert {alert.get('alertname')} ({alert.get('fingerprint')}) since {alert.get('starts_at')}: "
            + ", ".join(f"{k}={v}" for k, v in sorted((alert.get("labels") or {}).items())) for _ in [1] if alert
        ] + [
            f"  target {t['name']} ({t['kind']}) = {t['url']}" for t in d.get("targets", [])
        ]
    if k == "session_resumed":
        return [f"resumed at {e.step} ({d.get('mode')})"]
    if k == "step_entered":
        out = [f"[{e.step}] {d.get('kind')}: {d.get('title')}"]
        if d.get("text"):
            out += [f"  | {line}" for line in str(d["text"]).strip().splitlines()]
        return out
    if k == "facts":
        if d.get("intrusive"):
            return [f"  facts {d.get('probe')} on {d.get('target')}: {d.get('error')}"]
        if d.get("error"):
            return [f"  facts {d.get('probe')} on {d.get('target')}: UNKNOWN ({d['error']})"]
        if isinstance(d.get("facts"), dict) and d["facts"].get("reachable") is False:
            return [f"  facts {d.get('probe')} on {d.get('target')}: UNREACHABLE ({d['facts'].get('error')})"]
        if verbose:
            return [f"  facts {d.get('probe')} on {d.get('target')}: {_val('facts', d.get('facts'))}"]
        return [f"  facts {d.get('probe')} on {d.get('target')}: read"]
    if k == "findings":
        out = []
        for f in d.get("findings", []):
            out.append(f"  {f['severity'].upper():8} {f['id']}: {f['title']}")
            if f.get("evidence"):
                out.append(f"           evidence: {_evidence(f['evidence'])}")
        return out
    if k == "decision":
        if d.get("unknown"):
            out = ["  decision: UNDECIDED, a fact is missing" + (f": go to {d['goto']} (on_unknown)" if d.get("goto") else "")]
        else:
            why = f"because {d['when']}" if d.get("when") else "(no branch true: default)"
            out = [f"  decision: go to {d.get('goto')} {why}"]
        out += [f"  decision error: {x}" for x in d.get("errors", [])]
        for t, r in (d.get("reads") or {}).items():  # which read the facts came from (no clock: stays stable)
            probes = ", ".join(f"{p} {o}" for p, o in (r or {}).get("probes", {}).items())
            out.append(f"  facts of {t}: " + (f"read at step {r['step']} ({probes})" if r else "never read"))
        return out
    if k == "acknowledged":
        return ["  acknowledged"]
    if k == "guard":
        verdict = "PASS " if d.get("passed") else ("UNKNOWN" if d.get("unknown") else "BLOCK")
        line = f"  guard {verdict} {d.get('guard')}"
        if d.get("reason") and d["reason"] != d.get("guard"):
            line += f": {d['reason']}"
        out = [line]
        if d.get("evidence"):
            out.append(f"           evidence: {_evidence(d['evidence'])}")
        return out
    if k == "confirmation":
        return [f"  confirmed by {d.get('by')} typing {d.get('typed')!r}"]
    if k == "confirmation_void":
        return [f"  confirmation VOID: {d.get('reason')}"]
    if k == "break_glass":
        return [f"  BREAK-GLASS by {d.get('by')}: {d.get('reason')}" + (f" (driver {d['driver']})" if d.get("driver") else "")]
    if k == "approval_requested":
        return [f"  APPROVAL REQUESTED by {d.get('driver')} for the break-glass of {d.get('action')} on {d.get('target')}"
                f" (waits {_val('timeout_s', d.get('timeout_s'))}): {d.get('reason')}"]
    if k == "approval":
        return [f"  APPROVED by {d.get('approver')}" + (f" ({d['from']})" if d.get("from") else "")
                + f" for evidence {str(d.get('digest'))[:12]}"]
    if k == "approval_refused":
        return [f"  approval {str(d.get('outcome') or 'refused').upper()}: {d.get('reason')}"]
    if k == "approval_void":
        return [f"  approval by {d.get('approver')} VOID: {d.get('reason')}"]
    if k == "dry_run":
        return [f"  would run: {d.get('command')}"]
    if k == "action_intent":
        return [f"  running: {d.get('command')}"]
    if k == "action_result":
        out = [f"  result: {'ok' if d.get('ok') else 'FAILED'}" + (f" ({d['error']})" if d.get("error") else "")]
        e = d.get("expect")
        if isinstance(e, dict):
            out.append(f"  expect {e.get('what')}: {'met' if e.get('met') else 'NOT MET'} ({_val('seen', e.get('seen'))})")
        return out
    if k == "blocked":
        return [f"  BLOCKED: {d.get('reason')}"]
    if k == "note":
        return [f"  note: {d.get('text')}"]
    if k == "waiting":
        state = "holds" if d.get("held") else "not yet"
        out = [f"  wait: {d.get('until')} {state} (read {d.get('reads')}, {d.get('elapsed_s')} of {d.get('timeout_s')} s)"]
        if d.get("evidence"):
            out.append(f"           evidence: {_evidence(d['evidence'])}")
        return out
    if k == "call_ended":
        return [f"  called playbook ended {d.get('outcome')}" + (f": {d['reason']}" if d.get("reason") else "")]
    if k == "session_ended":
        return [f"session {d.get('outcome')}" + (f": {d['reason']}" if d.get("reason") else "")]
    return [f"  {k}"]
