"""From the page to the playbook: the firing alerts of an Alertmanager (API v2), the playbooks that
declare them (`alerts:` in a playbook), and the targets an alert's labels bind.

Read-only: one GET of /api/v2/alerts with a timeout. An Alertmanager that cannot be reached, answers
slowly or returns something else than alerts is one AlertsError with one line to say.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from typing import Any

TIMEOUT_S = 3.0
ENV = "RUNBOOK_ALERTMANAGER"
MAX_BYTES = 8 * 1024 * 1024


class AlertsError(Exception):
    pass


@dataclass(frozen=True)
class Alert:
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    state: str = "active"

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    def to_dict(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "alertname": self.name, "labels": self.labels,
                "annotations": self.annotations, "starts_at": self.starts_at, "state": self.state}


@dataclass
class Handling:
    """What runbook would do with one alert: the playbook, the targets bound, and what is missing."""

    alert: Alert
    playbook: Any = None
    targets: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # roles the alert does not bind: say how to give them
    closest: list[str] = field(default_factory=list)  # no playbook handles it: the nearest by finding ids
    inputs: dict[str, str] = field(default_factory=dict)  # the playbook's inputs the alert gives

    def to_dict(self) -> dict[str, Any]:
        from runbook.secrets import mask_url

        return {**self.alert.to_dict(),
                "playbook": self.playbook.name if self.playbook else None,
                "playbook_path": self.playbook.path if self.playbook else None,
                "targets": {r: mask_url(t.url) for r, t in self.targets.items()},
                "inputs": self.inputs, "missing_targets": self.missing, "closest_playbooks": self.closest}


def alertmanager_url(given: str | None) -> str | None:
    """--alertmanager, else $RUNBOOK_ALERTMANAGER."""
    return given or os.environ.get(ENV) or None


def fetch(url: str, timeout: float = TIMEOUT_S) -> list[Alert]:
    """The alerts that fire now: active, neither silenced nor inhibited."""
    import httpx

    base = url.rstrip("/")
    if not re.match(r"^https?://", base):
        raise AlertsError(f"{url}: an Alertmanager URL starts with http:// or https://")
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            with client.stream("GET", f"{base}/api/v2/alerts",
                               params={"active": "true", "silenced": "false", "inhibited": "false"}) as r:
                if r.status_code != 200:
                    raise AlertsError(f"{base}: answered HTTP {r.status_code} for /api/v2/alerts (is it an Alertmanager?)")
                body = b""
                for chunk in r.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise AlertsError(f"{base}: the answer is larger than {MAX_BYTES // 1048576} MB: not read")
    except httpx.TimeoutException:
        raise AlertsError(f"{base}: no answer within {timeout:g} s") from None
    except httpx.HTTPError as e:
        raise AlertsError(f"{base}: cannot reach it: {e}") from None
    return parse(body, base)


def parse(body: bytes, where: str = "") -> list[Alert]:
    import json

    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise AlertsError(f"{where}: the answer is not JSON: not an Alertmanager's alerts") from None
    if not isinstance(data, list):
        raise AlertsError(f"{where}: the answer is not a list of alerts")
    out = []
    for a in data:
        if not isinstance(a, dict) or not isinstance(a.get("labels"), dict):
            raise AlertsError(f"{where}: an alert without labels: not an Alertmanager's alerts")
        labels = {str(k): str(v) for k, v in a["labels"].items()}
        annotations = {str(k): str(v) for k, v in (a.get("annotations") or {}).items()}
        state = str((a.get("status") or {}).get("state") or "active")
        out.append(Alert(str(a.get("fingerprint") or ""), labels, annotations, str(a.get("startsAt") or ""), state))
    out.sort(key=lambda x: (x.starts_at, x.name))
    return out


def handles(playbook: Any, alert: Alert) -> Any:
    """The playbook's declaration that handles this alert (None: it does not)."""
    for spec in getattr(playbook, "alerts", []):
        if spec.alertname == alert.name and all(alert.labels.get(k) == v for k, v in spec.match.items()):
            return spec
    return None


def handle(alert: Alert, playbooks: list[Any], inventory: dict[str, Any] | None = None) -> Handling:
    """The first playbook that handles the alert, with the targets its labels bind (an inventory name or
    a URL); or, when none does, the closest playbooks."""
    for pb in playbooks:
        spec = handles(pb, alert)
        if spec is not None:
            targets, missing = bind(pb, spec, alert, inventory or {})
            inputs, unread = given_inputs(spec, alert)
            return Handling(alert, pb, targets, missing + unread, inputs=inputs)
    named = by_runbook_url(alert, playbooks)
    if named is not None:  # a rule's runbook_url names the playbook: its targets come from the inventory
        from runbook.playbook.model import AlertSpec

        targets, missing = bind(named, AlertSpec(alert.name), alert, inventory or {})
        return Handling(alert, named, targets, missing)
    return Handling(alert, closest=closest(alert, playbooks))


def by_runbook_url(alert: Alert, playbooks: list[Any]) -> Any:
    """The playbook a rule's runbook_url annotation names (its last path segment: NAME or NAME.yaml)."""
    from urllib.parse import urlsplit

    url = alert.annotations.get("runbook_url") or ""
    stem = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    for ext in (".yaml", ".yml"):
        stem = stem.removesuffix(ext)
    return next((pb for pb in playbooks if stem and stem in (pb.name, os.path.splitext(os.path.basename(pb.path))[0])), None)


def bind(playbook: Any, spec: Any, alert: Alert, inventory: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    from runbook.playbook import template
    from runbook.playbook.expr import ExprError
    from runbook.targets import TargetError, parse_binding

    env = {"labels": alert.labels, "annotations": alert.annotations}
    targets: dict[str, Any] = {}
    missing = []
    for role in playbook.targets:
        source = spec.targets.get(role)
        if source is None:
            if role in inventory:
                targets[role] = inventory[role]
            else:
                missing.append(f"{role}: the alert does not say (--target {role}=URL or the inventory)")
            continue
        try:
            value = str(template.render(source, env, lambda v: v)).strip()
        except ExprError as e:
            missing.append(f"{role}: {e} (the alert's labels: {', '.join(sorted(alert.labels))})")
            continue
        named = inventory.get(value) or target_at(value, playbook.targets[role].kind, inventory)
        if named is not None:
            targets[role] = replace(named, name=role)
            continue
        if "://" not in value and ":" in value and not value.startswith(("pid:", "host:")):
            missing.append(f"{role}: {value!r} (an exporter's address?) is no target of the inventory: add one there "
                           f"with that host, or give --target {role}=URL")
            continue
        try:
            targets[role] = parse_binding(f"{role}={value}")
        except (TargetError, ValueError) as e:
            missing.append(f"{role}: {value!r} is neither a target URL nor a name in the inventory ({e})")
    return targets, missing


def given_inputs(spec: Any, alert: Alert) -> tuple[dict[str, str], list[str]]:
    """The playbook's inputs the alert gives (its declaration's `inputs`), and those its labels do not say."""
    from runbook.playbook import template
    from runbook.playbook.expr import ExprError

    env = {"labels": alert.labels, "annotations": alert.annotations}
    inputs, missing = {}, []
    for name, source in spec.inputs.items():
        try:
            inputs[name] = str(template.render(source, env, lambda v: v)).strip()
        except ExprError as e:
            missing.append(f"input {name}: {e} (the alert's labels: {', '.join(sorted(alert.labels))}; --param {name}=VALUE)")
    return inputs, missing


def target_at(value: str, kind: str, inventory: dict[str, Any]) -> Any:
    """The one inventory target of this kind at the address an alert's label gives (host:port, or a URL):
    the same host (its URL's, or one of its `addresses`), and the same port unless the target's URL gives
    none. None when none or several are."""
    from urllib.parse import urlsplit

    def host_port(text: str) -> tuple[str, int | None]:
        u = urlsplit(text if "://" in text else f"x://{text}")
        try:
            return (u.hostname or "").lower(), u.port
        except ValueError:
            return (u.hostname or "").lower(), None

    host, port = host_port(value)
    if not host:
        return None
    found = []
    for t in inventory.values():
        if t.kind != kind:
            continue
        th, tp = host_port(t.url)
        if (th == host or host in t.addresses) and (tp is None or tp == port):  # a URL without a port (ssh://db7) names the host alone
            found.append(t)
    return found[0] if len(found) == 1 else None


_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_NOISE = {"redis", "host", "jvm", "is", "too", "the", "of", "on", "in", "high", "low", "many", "detected", "will", "instance"}


def closest(alert: Alert, playbooks: list[Any], n: int = 3) -> list[str]:
    """Playbooks ranked by the finding ids the alert's name and labels suggest: the words of the alert
    (RedisOutOfConfiguredMaxmemory: out, configured, maxmemory) against each finding id's words and title,
    counted over the ids a playbook names."""
    from runbook import catalog

    text = " ".join([alert.name, *alert.labels.values()])
    words = {w.lower() for w in _WORD.findall(text)} - _NOISE
    if not words:
        return []
    suggested = set()
    for rid, rule in catalog.RULES.items():
        vocab = set(re.split(r"[._\s,:()]+", f"{rid} {rule.title}".lower()))
        if words & vocab:
            suggested.add(rid)
    scored = []
    for pb in playbooks:
        named = _finding_ids(pb)
        score = len(named & suggested)
        if score:
            scored.append((-score, pb.name))
    return [name for _, name in sorted(scored)[:n]]


def _finding_ids(playbook: Any) -> set[str]:
    """The finding ids a playbook's decisions name."""
    out = set()
    for step in playbook.steps:
        for b in getattr(step, "branches", None) or []:
            expr = getattr(b, "when", None)
            if expr is not None and hasattr(expr, "finding_ids"):
                out.update(expr.finding_ids())
    return out
