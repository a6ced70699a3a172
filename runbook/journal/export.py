"""Markdown incident timeline of a session, in UTC."""

from __future__ import annotations

from typing import Any

from runbook.journal.store import JournalRead
from runbook.text import human_field


def _md(text: Any) -> str:
    """Text from live systems is data: neutralise Markdown that could change the document."""
    s = str(text).replace("\r", " ").replace("\n", " ")
    for ch in "\\`*_[]<>|#":
        s = s.replace(ch, "\\" + ch)
    return s


def _ev(evidence: dict[str, Any]) -> str:
    if not evidence:
        return ""
    return "; ".join(f"{_md(k)}={_md(human_field(k, v).replace(chr(10), ' / '))}" for k, v in evidence.items())


def export_markdown(j: JournalRead) -> str:
    s = j.summary()
    st = j.started
    lines = [f"# Incident timeline: {_md(s['playbook'])}", ""]
    lines.append(f"- Session: `{s['session']}`")
    lines.append(f"- Mode: {_md(s['mode'])}")
    lines.append(f"- Started: {s['started']} (UTC)")
    lines.append(f"- Status: {_md(s['status'])}")
    if st:
        alert = st.data.get("alert")
        if alert:
            lines.append(f"- Alert: {_md(alert.get('alertname'))} (fingerprint `{_md(alert.get('fingerprint'))}`), "
                         f"firing since {_md(alert.get('starts_at'))}")
            for k, v in sorted((alert.get("labels") or {}).items()):
                lines.append(f"  - label {_md(k)}: {_md(v)}")
            for k, v in sorted((alert.get("annotations") or {}).items()):
                lines.append(f"  - annotation {_md(k)}: {_md(v)}")
        for t in st.data.get("targets", []):
            lines.append(f"- Target {_md(t.get('name'))}: {_md(t.get('url'))}")
    if j.damaged:
        lines.append(f"- Damaged journal lines skipped: {', '.join(map(str, j.damaged))}")
    driver = (st.data.get("driver") if st else "") or "?"
    if st and st.data.get("driver"):
        lines.insert(lines.index(f"- Status: {_md(s['status'])}") + 1, f"- Driver: {_md(driver)}")
    approvers = sorted({str(e.data.get("approver")) for e in j.events if e.kind == "approval"})
    if approvers:
        lines.append(f"- Break-glass approved by: {_md(', '.join(approvers))}")
    lines += ["", "| Time (UTC) | Step | Event | Details |", "|---|---|---|---|"]
    for e in j.events:
        d = e.data
        detail = ""
        if e.kind == "step_entered":
            detail = f"{d.get('kind', '')}: {_md(d.get('title', ''))}"
        elif e.kind == "facts":
            detail = f"{_md(d.get('probe'))} on {_md(d.get('target'))}" + (f": ERROR {_md(d['error'])}" if d.get("error") else "")
        elif e.kind == "findings":
            detail = "<br>".join(
                f"**{_md(f['severity'])}** `{f['id']}` {_md(f['title'])} ({_ev(f.get('evidence') or {})})" for f in d.get("findings", [])
            ) or "none"
        elif e.kind == "decision":
            detail = f"went to `{_md(d.get('goto'))}`" + (f" because `{_md(d['when'])}`" if d.get("when") else " (default)")
        elif e.kind == "guard":
            detail = f"{'PASS' if d.get('passed') else 'BLOCK'} {_md(d.get('guard'))}" + (
                f": {_md(d['reason'])}" if d.get("reason") else "") + (f" ({_ev(d.get('evidence') or {})})" if d.get("evidence") else "")
        elif e.kind in ("confirmation", "confirmation_void"):
            detail = f"{_md(d.get('by', ''))} typed `{_md(d.get('typed', ''))}` for evidence {d.get('digest', '')[:12]}" + (
                f"; {_md(d['reason'])}" if d.get("reason") else "")
        elif e.kind == "break_glass":
            detail = (f"**BREAK-GLASS**" + (f" by {_md(d['driver'])}" if d.get("driver") else "")
                      + f": {_md(d.get('reason'))} (blocked by {_md(', '.join(d.get('blocked_by', [])))})")
        elif e.kind == "approval_requested":
            detail = (f"{_md(d.get('driver'))} asked a second person to approve the break-glass of "
                      f"{_md(d.get('action'))} on {_md(d.get('target'))} for evidence {str(d.get('digest', ''))[:12]} "
                      f"(waits {_md(d.get('timeout_s'))} s)")
        elif e.kind == "approval":
            detail = (f"**APPROVED** by {_md(d.get('approver'))}" + (f" ({_md(d['from'])})" if d.get("from") else "")
                      + f", the driver being {_md(driver)}, for evidence {str(d.get('digest', ''))[:12]}"
                      + (f"; taken from the {_md(d['source'])}" if d.get("source") == "answers file" else ""))
        elif e.kind == "approval_refused":
            detail = f"approval {_md(d.get('outcome', 'refused'))}: {_md(d.get('reason'))}"
        elif e.kind == "approval_void":
            detail = f"approval by {_md(d.get('approver'))} void: {_md(d.get('reason'))}"
        elif e.kind == "action_intent":
            detail = f"about to run: `{_md(d.get('command'))}`"
        elif e.kind == "dry_run":
            detail = f"dry run, would run: `{_md(d.get('command'))}`"
        elif e.kind == "action_result":
            detail = ("OK" if d.get("ok") else "FAILED") + (f": {_md(d.get('error'))}" if d.get("error") else "")
        elif e.kind == "blocked":
            detail = _md(d.get("reason", ""))
        elif e.kind == "session_ended":
            detail = _md(d.get("outcome", ""))
        else:
            detail = _md(d.get("text") or d.get("reason") or d.get("outcome") or "")
        lines.append(f"| {e.ts} | {_md(e.step or '')} | {e.kind} | {detail} |")
    return "\n".join(lines) + "\n"
