"""`runbook fleet`: every Redis instance a Prometheus knows (scraped by redis_exporter), judged by the same
finding rules as `redis check`, worst first; then, for the worst, the live check beside Prometheus' view.

Read-only: instant queries over the whole fleet (runbook/redis/exporter.py says which), issued together
over a few connections, each with a timeout, all evaluated at the same instant. A Prometheus that cannot
be read is one FleetError with one line to say.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from runbook.findings import Finding, sort_findings
from runbook.redis import exporter

TIMEOUT_S = 5.0
CONNECTIONS = 4
MAX_BYTES = 256 * 1024 * 1024
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class FleetError(Exception):
    pass


def window_seconds(window: str) -> float:
    m = _DURATION.match(window or "")
    if not m:
        raise FleetError(f"--window {window!r}: a Prometheus duration such as 30s, 5m or 1h")
    s = int(m.group(1)) * _UNIT_S[m.group(2)]
    if s <= 0:
        raise FleetError(f"--window {window!r}: must be longer than nothing")
    return s


@dataclass
class Instance:
    """One instance as Prometheus sees it: its facts (INFO field names), findings and status."""

    name: str  # its `instance` label
    facts: dict[str, Any]
    findings: list[Finding]
    status: int  # 0 OK, 1 warning, 2 critical, 3 unknown (the exporter could not read it)

    @property
    def worst(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    @property
    def role(self) -> str:
        return str((self.facts.get("info") or {}).get("role") or "")

    def age_s(self, now: float) -> float | None:
        at = self.facts.get("scraped_at")
        return round(max(0.0, now - at), 1) if isinstance(at, (int, float)) else None

    def to_dict(self, now: float) -> dict[str, Any]:
        return {"instance": self.name, "status": ["ok", "warning", "critical", "unknown"][self.status],
                "role": self.role or None, "reachable": bool(self.facts.get("reachable")),
                "scraped_at": self.facts.get("scraped_at"), "age_s": self.age_s(now),
                "findings": [f.to_dict() for f in self.findings], "window": self.facts.get("window")}


@dataclass
class Fleet:
    prometheus: str
    asked_at: float
    window: str
    seconds: float
    queries: int
    instances: list[Instance] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"critical": 0, "warning": 0, "ok": 0, "unknown": 0}
        for i in self.instances:
            out[["ok", "warning", "critical", "unknown"][i.status]] += 1
        return out


def _rank(i: Instance) -> tuple[Any, ...]:
    sev = [f.severity for f in i.findings]
    return (-sev.count("critical"), -(i.status == 3), -sev.count("warning"), -len(sev), i.name)


def judge(facts: dict[str, Any]) -> list[Finding]:
    """The findings of one instance's facts from Prometheus: the same rules as `redis check` (the server's
    own and redis.latency's fork rule); what needs the host, the files or the log has no facts here."""
    from runbook.redis import assess as _assess
    from runbook.redis import latency

    out = _assess.assess(facts)
    info = facts.get("info")
    if facts.get("reachable") and info and info.get("latest_fork_usec"):
        out += latency.assess({"reachable": True, "latest_fork_usec": info["latest_fork_usec"],
                               "used_memory": info.get("used_memory"), "latency_events": []})
    return sort_findings(out)


def status_of(facts: dict[str, Any], findings: list[Finding]) -> int:
    from runbook.redis.check import status_code

    return status_code(facts, findings)


def prometheus_base(url: str) -> str:
    base = (url or "").rstrip("/")
    if not re.match(r"^https?://[^/]", base):
        raise FleetError(f"{url or '(none)'}: a Prometheus URL starts with http:// or https://")
    return base


def client(base: str, timeout: float = TIMEOUT_S, connections: int = CONNECTIONS) -> Any:
    """One HTTP client for a look: a few kept-alive connections (no CA bundle loaded for plain http)."""
    import httpx

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.Client(timeout=timeout, limits=limits, follow_redirects=False, verify=base.startswith("https:"))


def query_all(base: str, named: dict[str, str], at: float, http: Any,
              connections: int = CONNECTIONS) -> dict[str, list[exporter.Sample]]:
    """Every query, evaluated at the same instant `at`, a few at a time over the client's connections."""
    import httpx

    def one(expr: str) -> list[exporter.Sample]:
        import json

        try:
            with http.stream("POST", f"{base}/api/v1/query", data={"query": expr, "time": f"{at:.3f}"}) as r:
                chunks, size = [], 0
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise FleetError(f"{base}: an answer larger than {MAX_BYTES // 1048576} MB: not read")
                    chunks.append(chunk)
        except httpx.TimeoutException:
            raise FleetError(f"{base}: no answer within {http.timeout.read:g} s") from None
        except httpx.HTTPError as e:
            raise FleetError(f"{base}: cannot reach it: {e}") from None
        try:
            body = json.loads(b"".join(chunks))
        except ValueError:
            raise FleetError(f"{base}: answered HTTP {r.status_code}, not JSON, for /api/v1/query "
                             "(is it a Prometheus?)") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            err = body.get("error") if isinstance(body, dict) else None
            raise FleetError(f"{base}: refused the query {expr!r}: {err or f'HTTP {r.status_code}'}")
        data = body.get("data") or {}
        if data.get("resultType") != "vector":
            raise FleetError(f"{base}: answered {data.get('resultType')!r} where a vector was asked")
        return [(s["metric"], float(s["value"][1])) for s in data.get("result") or ()]

    with ThreadPoolExecutor(max_workers=connections) as pool:  # the widest first: they finish together
        futures = {k: pool.submit(one, q) for k, q in sorted(named.items(), key=lambda kq: -kq[1].count("{"))}
        return {k: futures[k].result() for k in named}


def reachable(url: str, timeout: float = TIMEOUT_S) -> str:
    """The Prometheus' version when it answers its build info; FleetError (one line) when not: said before
    a screen opens."""
    base = prometheus_base(url)
    import httpx

    try:
        with client(base, timeout, 1) as http:
            r = http.get(f"{base}/api/v1/status/buildinfo")
    except httpx.TimeoutException:
        raise FleetError(f"{base}: no answer within {timeout:g} s") from None
    except httpx.HTTPError as e:
        raise FleetError(f"{base}: cannot reach it: {e}") from None
    try:
        return str(r.json()["data"]["version"])
    except (ValueError, KeyError, TypeError):
        raise FleetError(f"{base}: answered HTTP {r.status_code} for /api/v1/status/buildinfo "
                         "(is it a Prometheus?)") from None


WIDE = 0.25  # past this share of the fleet under suspicion, the whole fleet's facts are read at once


def read_fleet(url: str, match: str = "", window: str = "5m", timeout: float = TIMEOUT_S,
               judge_all: bool = False) -> Fleet:
    """The fleet, judged and ranked worst first. First the instances Prometheus knows (when each was
    scraped) and those where a necessary condition of some rule holds (exporter.suspects); then the full
    facts of those alone, judged by the rules. judge_all: the full facts of every instance, every one judged."""
    base = prometheus_base(url)
    window_s = window_seconds(window)
    t0 = time.monotonic()
    at = time.time()  # every query is evaluated at this instant: one consistent view
    with client(base, timeout) as http:
        answers, suspects, asked = _read(base, match, window, at, http, judge_all)
    fleet = Fleet(base, at, window, 0.0, asked)
    judged = exporter.facts_from(answers, window_s, at)
    for name, facts in judged.items():
        if suspects is None or name in suspects:
            findings = judge(facts)
            fleet.instances.append(Instance(name, facts, findings, status_of(facts, findings)))
    for labels, at_s in answers.get("scraped", ()):  # no rule's condition holds: nothing to judge
        name = labels.get("instance", "")
        if name not in judged or (suspects is not None and name not in suspects):
            fleet.instances.append(Instance(name, {"url": name, "reachable": True, "source": "prometheus",
                                                   "scraped_at": at_s, "judged": False}, [], 0))
    fleet.instances.sort(key=_rank)
    fleet.seconds = round(time.monotonic() - t0, 3)
    return fleet


def _read(base: str, match: str, window: str, at: float, http: Any,
          judge_all: bool) -> tuple[dict[str, list[exporter.Sample]], set[str] | None, int]:
    """(the answers, the suspects (None: every instance is judged), how many queries were asked)."""
    full = exporter.queries(match, window)
    if judge_all:
        return query_all(base, full, at, http), None, len(full)
    first = query_all(base, {"scraped": full["scraped"], "down": full["down"],
                             **{f"x:{k}": q for k, q in exporter.suspects(match, window).items()}}, at, http)
    asked = len(first)
    suspects = {labels.get("instance", "") for k, got in first.items() if k.startswith("x:") for labels, _ in got}
    suspects |= exporter.scrape_failed(first)
    size = len({labels.get("instance", "") for labels, _ in first["scraped"]} | suspects)
    if len(suspects) > WIDE * size:
        answers = query_all(base, full, at, http)
        asked += len(full)
    elif suspects:
        narrow = exporter.queries(match, window, suspects)
        answers = query_all(base, narrow, at, http)
        asked += len(narrow)
    else:
        answers = {}
    answers["scraped"], answers["down"] = first["scraped"], first["down"]
    return answers, suspects, asked


def exit_code(fleet: Fleet) -> int:
    from runbook.redis.check import aggregate

    return aggregate([i.status for i in fleet.instances]) if fleet.instances else 3


# ---------------------------------------------------------------- the live check beside it
def live_url(instance: str, inventory: dict[str, Any]) -> tuple[str, Any]:
    """The Redis URL to check live for an `instance` label, and its inventory target (None): the inventory's
    target of that name, URL or address (alerts.target_at); the label itself when it is a URL (redis_exporter's
    multi-target mode); for an exporter's address (host:port, one exporter beside each server), the one Redis
    target of the inventory on that host (its URL's or one of its `addresses`). Never a guess: FleetError
    when none says, or several."""
    from urllib.parse import urlsplit

    from runbook.alerts import target_at

    t = inventory.get(instance) or target_at(instance, "redis", inventory)
    if t is not None:
        return t.url, t
    if "://" in instance:
        return instance, None
    host = (urlsplit(f"x://{instance}").hostname or "").lower()
    on_host = [x for x in inventory.values() if x.kind == "redis"
               and host and (host == (urlsplit(x.url).hostname or "").lower() or host in x.addresses)]
    if len(on_host) == 1:
        return on_host[0].url, on_host[0]
    raise FleetError(f"{instance}: an exporter's address, not a Redis URL; "
                     + ("several Redis targets of the inventory are on that host: name it as the instance"
                        if on_host else "name its Redis in the inventory (-i FILE: a target with that host in "
                                        "its URL or `addresses`)"))


def live_check(instance: str, inventory: dict[str, Any], timeout: float = 2.0) -> dict[str, Any]:
    """The live `redis check` of one instance (over ssh when its inventory target says so): its report
    (the JSON of redis check) and when it was read."""
    import asyncio

    from runbook.redis.check import assess_look, look, report, simulation_params

    try:
        url, target = live_url(instance, inventory)
    except FleetError as e:
        return {"instance": instance, "error": str(e), "read_at": time.time()}
    kw = simulation_params(target, {}) if target is not None else {}
    kw["simulate"] = False
    facts = asyncio.run(look(url, timeout, 60.0, **kw))
    findings = assess_look(facts)
    return {"instance": instance, "report": report(facts, findings), "read_at": time.time()}


def side_by_side(inst: Instance, live: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(id, Prometheus' severity, the live severity) for every id either view names; a view that cannot
    know an id says so ("not from Prometheus")."""
    prom = {f.id: f.severity for f in inst.findings}
    rep = live.get("report") or {}
    got = {f["id"]: f["severity"] for f in rep.get("findings") or []}
    rows = []
    for fid in sorted(set(prom) | set(got), key=lambda x: (min(_SEV.get(prom.get(x, ""), 3),
                                                              _SEV.get(got.get(x, ""), 3)), x)):
        p = prom.get(fid) or ("not from Prometheus" if not computable(fid) else "-")
        g = got.get(fid) or ("needs --interval" if fid in exporter.FROM_WINDOW else "-")
        if live.get("error"):
            g = "?"
        rows.append((fid, p, g))
    return rows


_SEV = {"critical": 0, "warning": 1, "info": 2}


def computable(fid: str) -> bool:
    return fid in exporter.FROM_PROMETHEUS or fid in exporter.FROM_WINDOW


def to_json(fleet: Fleet, live: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    now = time.time()
    out: dict[str, Any] = {
        "prometheus": fleet.prometheus, "asked_at": fleet.asked_at, "window": fleet.window,
        "seconds": fleet.seconds, "queries": fleet.queries, "counts": fleet.counts(),
        "instances": [i.to_dict(now) for i in fleet.instances],
        "not_from_prometheus": exporter.NOT_FROM_PROMETHEUS,
    }
    if live is not None:
        out["live"] = [{**x, "age_s": round(now - x["read_at"], 1)} for x in live]
    return out


def render(fleet: Fleet, show_all: bool = False, live: list[dict[str, Any]] | None = None) -> str:
    from datetime import datetime, timezone

    from runbook.text import plural
    from runbook.text import printable as p

    now = time.time()
    c = fleet.counts()
    when = datetime.fromtimestamp(fleet.asked_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [f"fleet: {plural(len(fleet.instances), 'instance')} from {p(fleet.prometheus)} at {when} "
             f"(window {fleet.window}; {fleet.queries} queries, {fleet.seconds:.2f} s): {c['critical']:,} critical, "
             f"{c['warning']:,} warning, {c['unknown']:,} unknown, {c['ok']:,} ok"]
    width = max((len(p(i.name)) for i in fleet.instances[:200]), default=10)
    quiet = 0
    for i in fleet.instances:
        if not i.findings and not show_all:
            quiet += 1
            continue
        w = i.worst
        status = ["OK", "WARNING", "CRITICAL", "UNKNOWN"][i.status]
        what = f"{w.id}: {p(w.title)}" if w else "no findings"
        more = f" (+{len(i.findings) - 1} more: {', '.join(f.id for f in i.findings[1:4])}" \
               f"{', ...' if len(i.findings) > 4 else ''})" if len(i.findings) > 1 else ""
        lines.append(f"{status:8}  {p(i.name):{width}}  {p(i.role or '-'):7}  {what}{more}")
    if quiet:
        lines.append(f"{'OK':8}  {plural(quiet, 'more instance')} with no finding (--all lists them)")
    lines.append("not from Prometheus (a live `redis check` names them; --live N checks the worst N): "
                 + ", ".join(exporter.NOT_FROM_PROMETHEUS))
    by_name = {i.name: i for i in fleet.instances}
    for x in live or []:
        inst = by_name[x["instance"]]
        rep = x.get("report") or {}
        age_p = inst.age_s(now)
        lines += ["", f"{p(inst.name)}: Prometheus (scraped {'?' if age_p is None else f'{age_p:g} s'} ago) "
                      f"beside the live check (read {now - x['read_at']:.1f} s ago"
                      f"{', ' + p(rep.get('status', '?')).upper() if rep else ''})"]
        if x.get("error") or (rep and not rep.get("reachable")):
            lines.append(f"  live: could not read: {p(x.get('error') or rep.get('error'))}")
        rows = side_by_side(inst, x)
        idw = max((len(r[0]) for r in rows), default=10)
        lines.append(f"  {'finding':{idw}}  {'prometheus':20}  live")
        for fid, a, b in rows:
            lines.append(f"  {fid:{idw}}  {a:20}  {b}")
        if not rows:
            lines.append("  no findings in either view")
    return "\n".join(lines)


class FleetSource:
    """What the fleet screen shows, as plain data (the TUI renders it and knows nothing of Redis): load()
    reads the fleet (in the screen's worker thread), live(name) checks one instance live and puts its
    findings beside Prometheus'."""

    def __init__(self, url: str, match: str = "", window: str = "5m", timeout: float = TIMEOUT_S,
                 inventory: dict[str, Any] | None = None) -> None:
        self.url, self.match, self.window, self.timeout = url, match, window, timeout
        self.inventory = inventory or {}
        self.fleet: Fleet | None = None

    def load(self) -> dict[str, Any]:
        """{"title", "rows": [{instance, status, role, worst, worst_severity, findings, age_s}]}; FleetError
        when Prometheus cannot be read."""
        from runbook.text import plural

        fleet = read_fleet(self.url, self.match, self.window, self.timeout)
        self.fleet = fleet
        now = time.time()
        c = fleet.counts()
        rows = [{"instance": i.name, "status": ["ok", "warning", "critical", "unknown"][i.status],
                 "rank": n, "role": i.role, "worst": f"{i.worst.id}: {i.worst.title}" if i.worst else "",
                 "worst_severity": i.worst.severity if i.worst else "", "findings": len(i.findings),
                 "ids": " ".join(f.id for f in i.findings), "age_s": i.age_s(now)}
                for n, i in enumerate(fleet.instances)]
        title = (f"{plural(len(rows), 'instance')} from {fleet.prometheus} (window {fleet.window}, "
                 f"{fleet.queries} queries, {fleet.seconds:.2f} s): {c['critical']:,} critical, "
                 f"{c['warning']:,} warning, {c['unknown']:,} unknown, {c['ok']:,} ok")
        return {"title": title, "rows": rows, "code": exit_code(fleet) if rows else 3}

    def live(self, name: str) -> dict[str, Any]:
        """Prometheus' view and the live check of one instance: {"instance", "prometheus": {age_s,
        findings}, "live": {age_s, status, error, findings}, "rows": [(id, prometheus, live)]}."""
        assert self.fleet is not None
        inst = next(i for i in self.fleet.instances if i.name == name)
        got = live_check(name, self.inventory, min(self.timeout, 2.0))
        now = time.time()
        rep = got.get("report") or {}
        return {
            "instance": name,
            "prometheus": {"age_s": inst.age_s(now), "status": ["ok", "warning", "critical", "unknown"][inst.status],
                           "findings": [(f.severity, f.id, f.title) for f in inst.findings]},
            "live": {"age_s": round(now - got["read_at"], 1), "status": rep.get("status", "unknown"),
                     "error": got.get("error") or (rep.get("error") if rep and not rep.get("reachable") else None),
                     "findings": [(f["severity"], f["id"], f["title"]) for f in rep.get("findings") or []]},
            "rows": side_by_side(inst, got),
        }
