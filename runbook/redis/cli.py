"""`runbook redis check URL...`: read Redis instances concurrently and print findings."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("redis", help="Redis: check instances")
    rs = p.add_subparsers(dest="redis_cmd", metavar="check", required=True)
    c = rs.add_parser("check", help="read Redis instances and print findings with the restart preview")
    c.add_argument("urls", nargs="*", metavar="URL", help="redis://[user:pass@]host:port, rediss://, unix:///path; "
                   "a Sentinel or cluster node is expanded to every instance it knows")
    c.add_argument("-i", "--inventory", metavar="FILE",
                   help="check the inventory's Redis targets, each with its restart command, config and ssh")
    c.add_argument("--ssh", metavar="[USER@]HOST[:PORT]",
                   help="the host the URLs' servers run on, read over your own ssh (its files, logs, processes)")
    c.add_argument("--ssh-option", action="append", default=[], metavar="KEY=VALUE", help="an ssh -o option (repeatable)")
    c.add_argument("--json", action="store_true", help="JSON: a list with one object per instance")
    c.add_argument("--timeout", type=float, default=2.0, help="network timeout per call, seconds (default 2)")
    c.add_argument("--interval", type=float, default=0.0,
                   help="take two samples this many seconds apart: full-sync storm, write rate, backlog sizing")
    c.add_argument("--outage", type=float, default=60.0, help="the outage the backlog must survive, seconds (default 60)")
    c.add_argument("--no-discover", action="store_true", help="do not expand Sentinels and cluster nodes")
    c.add_argument("--no-preview", action="store_true",
                   help="skip the restart preview (files and a throwaway redis-server): a fast sweep of many servers")
    c.add_argument("--restart", action="store_true",
                   help="simulate a restart: start a copy of it (the config, the data, the commands clients call, "
                        "Sentinels and cluster identity), as the restart guard does; without it the preview is "
                        "runbook's own reading of the files")
    c.add_argument("--shutdown", choices=("default", "save", "nosave"), default="default",
                   help="the stop the restart preview assumes: SHUTDOWN (default, as SIGTERM and systemctl restart do), "
                        "SHUTDOWN SAVE or SHUTDOWN NOSAVE")
    c.add_argument("--load-limit", type=float, default=512, metavar="MB",
                   help="load a private copy of the data in the restart simulation up to this size (default 512)")
    c.add_argument("--allow-modules", action="store_true",
                   help="let the restart simulation load the modules the config names (runs their code)")
    c.set_defaults(fn=cmd_check)

    f = sub.add_parser("fleet", help="every Redis a Prometheus knows (redis_exporter), ranked worst first by runbook's findings")
    f.add_argument("--prometheus", metavar="URL", default=None,
                   help="the Prometheus that scrapes redis_exporter (default $RUNBOOK_PROMETHEUS)")
    f.add_argument("--match", metavar="SELECTOR", default="",
                   help='label matchers for the exporter\'s series, e.g. \'job="redis",env="prod"\'')
    f.add_argument("--window", metavar="DUR", default="5m",
                   help="counters (full syncs, rejected connections, evictions) over this window (default 5m)")
    f.add_argument("--live", type=int, default=0, metavar="N", help="also check the worst N live, beside Prometheus' view")
    f.add_argument("-i", "--inventory", metavar="FILE",
                   help="the Redis targets behind the instances (ssh, addresses) for the live checks")
    f.add_argument("--all", action="store_true", help="list the instances with no finding too")
    f.add_argument("--json", action="store_true", help="JSON: the ranked instances with their findings")
    f.add_argument("--tui", action="store_true",
                   help="the fleet as a table (sortable, filtered as you type); Enter checks an instance live")
    f.add_argument("--timeout", type=float, default=5.0, help="HTTP timeout per query, seconds (default 5)")
    f.add_argument("--judge-all", action="store_true",
                   help="read every instance's full facts and judge each one, without the pre-filter (slower)")
    f.set_defaults(fn=cmd_fleet)


async def discover(facts: dict[str, Any], url: str, timeout: float) -> list[str]:
    """More instances named by one already read: a Sentinel's masters and replicas, a cluster's nodes."""
    from urllib.parse import urlsplit, urlunsplit

    from runbook.redis.connect import connection_kwargs
    from runbook.redis.wire import Wire

    info = facts.get("info") or {}
    sentinel = info.get("redis_mode") == "sentinel"
    cluster = info.get("cluster_enabled") == 1
    parts = urlsplit(url)
    if not (sentinel or cluster) or parts.scheme not in ("redis", "rediss"):
        return []

    def with_addr(host: str, port: Any) -> str:
        cred = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        h = f"[{host}]" if ":" in host else host
        return urlunsplit(parts._replace(netloc=f"{cred}{h}:{port}"))

    out: list[str] = []
    w = None
    try:
        w = await Wire.open(connection_kwargs(url, timeout), timeout)
        if sentinel:
            (masters,) = await w.call([["SENTINEL", "MASTERS"]])
            for m in masters:
                md = _pairs(m)
                out.append(with_addr(md["ip"], md["port"]))
                (reps,) = await w.call([["SENTINEL", "REPLICAS", md["name"]]])
                out += [with_addr(_pairs(x)["ip"], _pairs(x)["port"]) for x in reps]
        else:
            (nodes,) = await w.call([["CLUSTER", "NODES"]])
            for line in (nodes.decode() if isinstance(nodes, bytes) else str(nodes)).splitlines():
                f = line.split()
                if len(f) > 2 and "fail" not in f[2] and "noaddr" not in f[2]:
                    host, _, port = f[1].split("@")[0].rpartition(":")
                    out.append(with_addr(host or "127.0.0.1", port))
    except Exception:  # noqa: BLE001 - discovery is best effort; what was read is still reported
        pass
    finally:
        if w is not None:
            await w.close()
    return out


def _pairs(x: Any) -> dict[str, str]:
    from runbook.redis.info import pairs_to_dict

    return pairs_to_dict(x)


def cmd_check(args: argparse.Namespace) -> int:
    import asyncio

    from runbook.redis.check import aggregate, assess_look, report, status_code
    from runbook.redis.connect import RedisUrlError, connection_kwargs

    from runbook.fanout import sharded
    from runbook.redis.check import simulation_params
    from runbook.targets import TargetError, load_inventory

    sim = {"shutdown": args.shutdown, "load_limit": int(args.load_limit * 1048576), "allow_modules": args.allow_modules,
           "simulate": args.restart}
    per_url: dict[str, dict[str, Any]] = {}  # what each URL's own target says (inventory): restart, config, ssh
    try:
        if args.inventory:
            for t in load_inventory(args.inventory).values():
                if t.kind == "redis":
                    per_url[t.url] = simulation_params(t, {})
        if args.ssh:
            from runbook.access import Ssh

            Ssh(args.ssh, tuple(args.ssh_option))  # a wrong destination or option is a usage error, now
            for u in args.urls:
                per_url[u] = {"ssh": args.ssh, "ssh_options": tuple(args.ssh_option)}
    except (TargetError, ValueError) as e:
        sys.stderr.write(f"runbook: {e}\n")
        return 3
    if not args.urls and not per_url:
        sys.stderr.write("runbook: name Redis URLs to check, or an inventory (-i FILE)\n")
        return 3
    for u in [*args.urls, *per_url]:
        try:
            connection_kwargs(u, 1.0)
        except RedisUrlError as e:
            sys.stderr.write(f"runbook: {e}\n")
            return 3

    if args.interval:  # the wait is said, not silent (on stderr: the JSON on stdout stays clean)
        sys.stderr.write(f"redis check: reading each server twice, {args.interval:g} s apart (full syncs, write rate, "
                         "backlog): the report follows the second reading\n")
        sys.stderr.flush()

    async def judged(urls: list[str], expand: bool) -> list[tuple[dict[str, Any], int, bool, list[str]]]:
        """Each URL's report, status code, whether it is a Sentinel, and the instances it names."""
        from runbook.redis.check import look, read_window

        async def one(u: str) -> dict[str, Any]:
            kw = {**sim, **per_url.get(u, {})}
            if args.interval:
                return await read_window(u, args.timeout, args.interval, args.outage, preview=not args.no_preview, **kw)
            return await look(u, args.timeout, args.outage, preview=not args.no_preview, **kw)

        out = []
        for url, facts in zip(urls, await asyncio.gather(*(one(u) for u in urls))):
            more = await discover(facts, url, args.timeout) if expand else []
            findings = assess_look(facts)
            sentinel = (facts.get("info") or {}).get("redis_mode") == "sentinel"
            out.append((report(facts, findings), status_code(facts, findings), sentinel, more))
        return out

    def judge(urls: list[str], expand: bool) -> list[tuple[dict[str, Any], int, bool, list[str]]]:
        if args.restart or any(p.get("ssh") for p in per_url.values()):
            # a copy of the restart is owned by the process that started it (and is most of the cost); an ssh
            # connection is one per process, and might ask for a password again
            return asyncio.run(judged(urls, expand))
        return sharded(urls, lambda part: asyncio.run(judged(part, expand)))

    urls = list(dict.fromkeys([*args.urls, *per_url]))
    rows = judge(urls, not args.no_discover)
    if not args.no_discover:
        more: list[str] = []
        for *_, named in rows:
            more += [u for u in named if u not in urls and u not in more]
        # a Sentinel is a way in, not an instance to judge: reported only for what it says of its masters
        rows = [row for row in rows if not row[2] or row[0]["findings"]]
        rows += judge(more, False) if more else []
    reports = [row[0] for row in rows]
    codes = [row[1] for row in rows]
    if args.json:
        sys.stdout.write(json_reports(reports))
    else:
        for r in reports:
            sys.stdout.write(render(r) + "\n")
    return aggregate(codes)


PRETTY_UP_TO = 10


def json_reports(reports: list[dict[str, Any]]) -> str:
    """The JSON array of reports: indented for a few instances; one instance per line for a fleet, which
    the C encoder writes (an indented dump of a thousand reports is the pure-Python encoder's slowest)."""
    if len(reports) <= PRETTY_UP_TO:
        return json.dumps(reports, indent=2, default=str) + "\n"
    return "[\n" + ",\n".join(json.dumps(r, default=str) for r in reports) + "\n]\n"


def render(r: dict[str, Any]) -> str:
    from runbook.text import human_field
    from runbook.text import printable as p

    sentinel = r.get("mode") == "sentinel"
    lines = [f"{p(r['target'])}  {'sentinel' if sentinel else r.get('role') or '-'}  {r.get('version') or ''}  "
             f"{r['status'].upper()}"]
    if not r["reachable"]:
        lines.append(f"  could not read: {p(r.get('error'))}")
    pv = r.get("restart_preview")
    if sentinel:
        lines.append("  a Sentinel      what it says of the masters it watches")
    elif pv and not pv.get("read", True):
        lines.append("  restart         not previewed (--no-preview)")
    elif pv:
        src = f" ({p(pv['config_source'])})" if pv.get("config_source") and pv.get("config_file") else ""
        lines.append(f"  restart reads   {p(pv.get('config_file') or '(no config file)')}{src}")
        if pv.get("cwd"):
            lines.append(f"  starts in       {p(pv['cwd'])} ({p(pv.get('cwd_source') or '')})")
        if pv.get("stop"):
            lines.append(f"  the stop        {p(pv['stop'])}")
        disk = pv.get("keys_on_disk")
        lines.append(f"  restart loads   {pv.get('loads')}{' ' + p(pv['path']) if pv.get('path') else ''}: "
                     f"{'?' if disk is None else f'{disk:,}'} keys on disk now, "
                     f"{'?' if pv.get('keys_live') is None else format(pv['keys_live'], ',')} live")
        after = pv.get("keys_after")
        w = pv.get("writable")
        up = "writable" if w else ("READ-ONLY" + (" replica of " + p(pv["replicaof"]) if pv.get("replicaof") else "")) \
            if w is False else "unknown"
        lines.append(f"  comes up        {up}, {'? keys' if after is None else f'{after:,} keys'}"
                     + (f"; RESTART FAILS: {p(pv['restart_fails'])}" if pv.get("restart_fails") else ""))
        for tier, said in (pv.get("tiers") or {}).items():
            if said:
                lines.append(f"  proved {'(' + tier + ')':9}{p(said)}")
        if pv.get("simulated") is False:
            lines.append("  simulation      not run: a look reads the files; --restart starts a copy of the restart")
        else:
            for u in pv.get("unproven") or []:
                lines.append(f"  NOT PROVEN      {p(u)}")
    for f in r["findings"]:
        lines.append(f"  {f['severity'].upper():8} {f['id']}: {p(f['title'])}")
        for k, v in f["evidence"].items():
            for n, line in enumerate(human_field(k, v).splitlines() or [""]):
                lines.append(f"           {p(k) + ':' if n == 0 else ' ' * (len(k) + 1)} {p(line)}")
        lines.append(f"           why: {p(f['why'])}")
        lines.append(f"           do:  {p(f['action'])}")
    if not r["findings"] and r["reachable"]:
        lines.append("  no findings")
    return "\n".join(lines)


def cmd_fleet(args: argparse.Namespace) -> int:
    import os

    from runbook.redis.fleet import FleetError, exit_code, live_check, prometheus_base, read_fleet, render, \
        to_json, window_seconds
    from runbook.targets import TargetError, load_inventory

    url = args.prometheus or os.environ.get("RUNBOOK_PROMETHEUS") or ""
    try:
        prometheus_base(url)
        window_seconds(args.window)
        inventory = load_inventory(args.inventory) if args.inventory else {}
    except (FleetError, TargetError, ValueError) as e:
        sys.stderr.write(f"runbook: {e}\n")
        return 3
    if args.live < 0 or args.timeout <= 0:
        sys.stderr.write("runbook: --live and --timeout take a positive number\n")
        return 3
    if args.tui:
        from runbook.redis.fleet import FleetSource, reachable

        try:  # what cannot be read is said here, without a screen, as without --tui
            reachable(url, args.timeout)
        except FleetError as e:
            sys.stderr.write(f"runbook: {e}\n")
            return 3
        return args.screens.fleet(FleetSource(url, args.match, args.window, args.timeout, inventory))
    try:
        fleet = read_fleet(url, args.match, args.window, args.timeout, judge_all=args.judge_all)
    except FleetError as e:
        sys.stderr.write(f"runbook: {e}\n")
        return 3
    if not fleet.instances:
        sys.stderr.write(f"runbook: {fleet.prometheus} knows no Redis instance (no redis_up series"
                         f"{' matching ' + args.match if args.match else ''}): is redis_exporter scraped?\n")
        return 3
    live = None
    if args.live:  # the worst N, read at once (each a look of its own, over ssh where the inventory says)
        from concurrent.futures import ThreadPoolExecutor

        worst = fleet.instances[:args.live]
        with ThreadPoolExecutor(max_workers=min(8, len(worst))) as pool:
            live = list(pool.map(lambda i: live_check(i.name, inventory, min(args.timeout, 2.0)), worst))
    if args.json:
        sys.stdout.write(json.dumps(to_json(fleet, live), default=str) + "\n")
    else:
        sys.stdout.write(render(fleet, args.all, live) + "\n")
    return exit_code(fleet)
