"""Findings: plain data on the ground floor. Imports nothing of ours."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("critical", "warning", "info")
_RANK = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    title: str
    evidence: dict[str, Any] = field(default_factory=dict)
    why: str = ""
    action: str = ""

    def __post_init__(self) -> None:
        if self.severity not in _RANK:
            raise ValueError(f"unknown severity {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "title": self.title,
            "evidence": self.evidence,
            "why": self.why,
            "action": self.action,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Finding":
        return cls(d["id"], d["severity"], d["title"], d.get("evidence") or {}, d.get("why", ""), d.get("action", ""))


def sort_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (_RANK[f.severity], f.id))


def exit_code(findings: list[Finding], unknown: bool = False) -> int:
    """Monitoring-plugin exit code: 0 OK, 1 warning, 2 critical, 3 unknown."""
    if any(f.severity == "critical" for f in findings):
        return 2
    if unknown:
        return 3
    if any(f.severity == "warning" for f in findings):
        return 1
    return 0
