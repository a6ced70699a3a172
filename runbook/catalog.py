"""The finding catalogue: every finding id with its default severity, title, why and what to do.

Documented like a linter's rules (`runbook explain ID`). Ids are stable: add, never rename. Each kind
declares its own rules (runbook/KIND/rules.py); this is their union.
"""

from __future__ import annotations

import functools
from typing import Any

from runbook.findings import Finding
from runbook.kind import Rule, rules

__all__ = ["Rule", "RULES", "make", "explain"]


@functools.lru_cache(maxsize=1)
def _rules() -> dict[str, Rule]:
    """Every kind's rules, by id (read on first use: the kinds' modules import make from here)."""
    out: dict[str, Rule] = {}
    for r in rules():
        if r.id in out:
            raise ValueError(f"finding id {r.id} is declared twice")
        out[r.id] = r
    return out


def __getattr__(name: str) -> Any:
    if name == "RULES":
        return _rules()
    raise AttributeError(name)


def make(rule_id: str, evidence: dict[str, Any], *, escalated: bool = False, title: str | None = None,
         action: str | None = None) -> Finding:
    """A finding for a catalogue rule, with the evidence that triggered it. escalated=True gives the rule's
    other severity (its page says when); a rule without one cannot be escalated."""
    r = _rules()[rule_id]
    if escalated and not r.otherwise[0]:
        raise ValueError(f"{rule_id} has one severity: its page names no other")
    evidence = {k: v for k, v in evidence.items() if v is not None}  # unknown is left out, never "None"
    return Finding(rule_id, r.otherwise[0] if escalated else r.severity, title or r.title, evidence, r.why,
                   action or r.action)


def explain(rule_id: str) -> str:
    r = _rules()[rule_id]
    lines = [f"{r.id}  ({r.severity_text})", "", r.title, "", "Why it matters", "  " + r.why, "", "What to do", "  " + r.action,
             "", "Named by", *("  " + n for n in r.named_by)]
    if r.example:
        lines += ["", "Example", "  " + r.example]
    return "\n".join(lines)
