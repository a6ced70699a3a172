"""Read one Redis instance (and its host, where it runs on this machine). Read-only.

Commands sent: INFO all, CONFIG GET *, ROLE, DBSIZE, SLOWLOG GET 128, LATENCY LATEST, TIME (one pipeline,
one connection); on a Sentinel what redis.sentinel reads, on a cluster node what redis.cluster reads; and
INFO server on the address the server replicates from, to compare run ids.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from typing import Any

from runbook.access import LOCAL
from runbook.redis.connect import RedisUrlError
from runbook.redis.hostfacts import accepts_on, host_facts
from runbook.redis.logfile import log_facts
from runbook.redis.info import pairs_to_dict, parse_info
from runbook.secrets import mask_mapping, mask_text, mask_url

SECRETS = "_secrets"


def _s(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, list):
        return [_s(x) for x in v]
    return v


async def read_server(url: str, timeout: float) -> dict[str, Any]:
    """INFO all, CONFIG GET *, ROLE, DBSIZE, and what redis.latency reads (facts["latency"]). Never raises
    for a dead host: reachable=False and error."""
    from runbook.redis import latency
    from runbook.redis.command import _plain
    from runbook.redis.connect import connection_kwargs
    from runbook.redis.wire import Wire, WireError

    facts: dict[str, Any] = {"url": mask_url(url), "reachable": False}
    try:
        kw = connection_kwargs(url, timeout)
    except RedisUrlError as e:
        facts["error"] = str(e)
        return facts
    w = None
    try:
        w = await Wire.open(kw, timeout)
        info_raw, config_raw, role, dbsize, *lat = await w.call(
            [["INFO", "all"], ["CONFIG", "GET", "*"], ["ROLE"], ["DBSIZE"], *latency.COMMANDS])
        if isinstance(info_raw, Exception):
            raise WireError(f"INFO refused: {info_raw}")
        facts["reachable"] = True
        facts["info"] = parse_info(info_raw)
        if isinstance(config_raw, Exception):
            facts["config"] = None
            facts["config_error"] = str(config_raw)
        else:
            config = pairs_to_dict(config_raw)
            # kept apart (never in facts) to mask their echoes and to authenticate to our master
            facts[SECRETS] = {k: config[k] for k in ("requirepass", "masterauth") if config.get(k)}
            facts["config"] = mask_mapping(config)  # masked at once
        facts["role"] = None if isinstance(role, Exception) else _s(role)
        facts["dbsize"] = None if isinstance(dbsize, Exception) else int(dbsize)
        facts["latency"] = latency.facts_of({"url": facts["url"], "reachable": True}, *map(_plain, lat),
                                            facts["info"], facts["config"], {})
    except WireError as e:
        facts["error"] = str(e)
    finally:
        if w is not None:
            await w.close()
    return facts


async def read_peer(host: str, port: int, password: str | None, timeout: float) -> dict[str, Any] | None:
    """run_id and key count of the server at host:port (INFO server, INFO keyspace), or None."""
    from runbook.redis.info import keyspace
    from runbook.redis.wire import Wire, WireError

    w = None
    try:
        w = await Wire.open({"host": host, "port": port, "password": password}, timeout)
        server, ks = await w.call([["INFO", "server"], ["INFO", "keyspace"]])
        if isinstance(server, Exception):
            return None
        return {"run_id": str(parse_info(server).get("run_id") or "") or None,
                "keys": None if isinstance(ks, Exception) else sum(keyspace(parse_info(ks)).values())}
    except WireError:
        return None
    finally:
        if w is not None:
            await w.close()


HELLO = "__sentinel__:hello"
HELLO_WAIT_S = 2.5  # Sentinels publish their hello to each instance they watch every 2 s


async def read_restart_reads(url: str, timeout: float, info: dict[str, Any],
                             aliases: tuple[str, ...] = ()) -> dict[str, Any]:
    """What only a restart needs from the running server, beyond the look: the names the commands that
    clients call answer to (COMMAND INFO), the Sentinels subscribed to it (PUBSUB NUMSUB of their hello
    channel; then their hello messages and each Sentinel's down-after and quorum), its cluster node id."""
    from runbook.redis.connect import connection_kwargs
    from runbook.redis.proofs import called_commands
    from runbook.redis.throwaway import commands_from_reply
    from runbook.redis.wire import Wire, WireError

    out: dict[str, Any] = {}
    calls = called_commands(info)
    called = sorted(set(calls) | {a.lower() for a in aliases if a})
    cluster = info.get("cluster_enabled") == 1
    cmds = [["PUBSUB", "NUMSUB", HELLO]] + ([["COMMAND", "INFO", *called]] if called else []) + \
        ([["CLUSTER", "MYID"]] if cluster else [])
    w = None
    try:
        w = await Wire.open(connection_kwargs(url, timeout), timeout)
        replies = await w.call(cmds)
        numsub = replies[0]
        out["sentinels"] = {"subscribed": int(numsub[1]) if isinstance(numsub, list) and len(numsub) == 2 else None}
        if isinstance(numsub, Exception):
            out["sentinels"]["error"] = f"PUBSUB NUMSUB {HELLO}: {numsub}"
        if called:
            reply = replies[1]
            out["commands"] = None if isinstance(reply, Exception) else commands_from_reply(called, reply)
            out["commands_called"] = calls
            if isinstance(reply, Exception):
                out["commands_error"] = f"COMMAND INFO: {reply}"
        if cluster:
            myid = replies[-1]
            out["cluster_myid"] = None if isinstance(myid, Exception) else _s(myid)
            if isinstance(myid, Exception):
                out["cluster_error"] = f"CLUSTER MYID: {myid}"
        if out["sentinels"]["subscribed"] is None:  # NUMSUB refused: the Sentinels' own connections, by name
            (clients,) = await w.call([["CLIENT", "LIST"]])
            if not isinstance(clients, Exception):
                out["sentinels"] = {"subscribed": sentinel_links(_s(clients)), "by": "CLIENT LIST"}
        if out["sentinels"].get("subscribed"):
            out["sentinels"].update(await _sentinels(w, url, timeout))
    except WireError as e:
        out["error"] = str(e)
    finally:
        if w is not None:
            await w.close()
    return out


def sentinel_links(client_list: str) -> int:
    """How many Sentinels hold a subscription on this server: their pub/sub links are named
    sentinel-<id>-pubsub in CLIENT LIST."""
    n = 0
    for line in client_list.splitlines():
        f = dict(x.partition("=")[::2] for x in line.split())
        if f.get("name", "").startswith("sentinel-") and f.get("name", "").endswith("-pubsub"):
            n += 1
    return n


async def _sentinels(w: Any, url: str, timeout: float) -> dict[str, Any]:
    """The Sentinels' own hello messages on the server (ip,port,runid,epoch,master name,...), then each
    Sentinel's view of this master: down-after-milliseconds and quorum."""
    from runbook.redis.connect import password_of
    from runbook.redis.info import pairs_to_dict
    from runbook.redis.wire import WireError

    seen: dict[str, tuple[str, int, str]] = {}
    try:
        pushed = await w.subscribe(HELLO, HELLO_WAIT_S)
    except (WireError, OSError) as e:
        return {"error": f"reading the Sentinels' hello: {e}"}
    for msg in pushed:
        if isinstance(msg, Exception):
            return {"error": f"SUBSCRIBE {HELLO}: {msg}"}
        if isinstance(msg, list) and len(msg) == 3 and _s(msg[0]) == "message":
            parts = _s(msg[2]).split(",")
            if len(parts) >= 5 and parts[1].isdigit():
                seen[parts[2]] = (parts[0], int(parts[1]), parts[4])
    found = []
    for runid, (ip, port, name) in sorted(seen.items()):
        entry: dict[str, Any] = {"addr": f"{ip}:{port}", "master_name": name}
        try:
            reply = await _sentinel_master(ip, port, name, None, timeout)
            if isinstance(reply, Exception) and "NOAUTH" in str(reply) and password_of(url):
                reply = await _sentinel_master(ip, port, name, password_of(url), timeout)
            if isinstance(reply, Exception):
                entry["error"] = str(reply)
            else:
                m = pairs_to_dict(reply)
                entry["down_after_ms"] = int(m.get("down-after-milliseconds") or 0) or None
                entry["quorum"] = int(m.get("quorum") or 0) or None
        except (WireError, ValueError) as e:
            entry["error"] = str(e)
        found.append(entry)
    return {"found": found}


async def _sentinel_master(ip: str, port: int, name: str, password: str | None, timeout: float) -> Any:
    from runbook.redis.wire import Wire

    s = await Wire.open({"host": ip, "port": port, "password": password}, timeout)
    try:
        (reply,) = await s.call([["SENTINEL", "MASTER", name]])
        return reply
    finally:
        await s.close()


async def read_run_id(host: str, port: int, password: str | None, timeout: float) -> str | None:
    peer = await read_peer(host, port, password, timeout)
    return peer["run_id"] if peer else None


async def read_instance(url: str, timeout: float, *, restart_command: tuple[str, ...] = (), restart_unit: str = "",
                        declared_config: str = "", preview: bool = True, ssh: str = "", ssh_options: tuple[str, ...] = (),
                        **simulation: Any) -> dict[str, Any]:
    """simulation: restart_cwd, shutdown, load_limit, allow_modules (see preview.restart_preview)."""
    try:
        return await _read_instance(url, timeout, restart_command=restart_command, restart_unit=restart_unit,
                                    declared_config=declared_config, preview=preview, ssh=ssh, ssh_options=ssh_options,
                                    **simulation)
    except Exception as e:  # noqa: BLE001 - one server's failure never loses the others' reports
        import traceback

        where = traceback.extract_tb(e.__traceback__)[-1]
        return {"url": mask_url(url), "reachable": False,
                "error": mask_text(f"internal error while checking: {type(e).__name__}: {e} "
                                   f"({os.path.basename(where.filename)}:{where.lineno})")}


async def host_and_log(info: dict[str, Any], config: dict[str, Any] | None, ssh: str = "",
                       ssh_options: tuple[str, ...] = ()) -> tuple[Any, dict[str, Any], dict[str, Any] | None]:
    """The facts of the server's host and its log: over ssh when the engineer says where it runs (its
    access, else None), else on this machine if its process is here. The log is None when the host is not
    the server's."""
    if ssh:
        from runbook import access
        from runbook.redis import remote

        acc = access.ssh(ssh, tuple(ssh_options))
        host = await asyncio.to_thread(remote.host_facts, acc, info, config)
        log = await asyncio.to_thread(log_facts, config, host.get("cwd"), acc) if host.get("on_host") else None
        return acc, host, log
    host = host_facts(info, config)  # local /proc and statvfs reads: quicker inline than through a thread
    return None, host, log_facts(config, host.get("cwd")) if host.get("local") else None


async def _read_instance(url: str, timeout: float, *, restart_command: tuple[str, ...], restart_unit: str,
                         declared_config: str, preview: bool, ssh: str = "", ssh_options: tuple[str, ...] = (),
                         **simulation: Any) -> dict[str, Any]:
    """Everything `redis check` knows about one instance, as plain data (secrets masked)."""
    t0 = time.monotonic()
    facts = await read_server(url, timeout)
    if not facts["reachable"]:
        return facts
    info = facts["info"]
    config = facts.get("config")
    raw_secrets = facts.pop(SECRETS, {})
    secrets = set(raw_secrets.values())
    acc, host, log = await host_and_log(info, config, ssh, ssh_options)
    facts["host"] = host
    if log is not None:
        facts["log"] = log
    # Is the server (live) a replica of itself? Compare run ids through the address it replicates from.
    if info.get("role") == "slave" and info.get("master_host"):
        from runbook.redis.connect import password_of

        pw = password_of(url) or raw_secrets.get("masterauth") or None
        facts["master_run_id"] = await read_run_id(str(info["master_host"]), int(info.get("master_port") or 6379), pw, timeout)
        facts["master_is_self_by_address"] = bool(
            (host.get("on_host") if acc else host.get("local")) and info.get("master_port") == info.get("tcp_port")
            and any(accepts_on(ip, host) for ip in (acc or LOCAL).resolve(str(info["master_host"]))))
    if info.get("redis_mode") == "sentinel":  # what it knows of its masters; a Sentinel is not restarted here
        from runbook.redis import sentinel

        facts["sentinel"] = await sentinel.read(url, timeout)
        preview = False
    elif info.get("cluster_enabled") == 1:
        from runbook.redis import cluster

        facts["cluster"] = await cluster.read(url, timeout)
    if preview:
        from runbook.redis.preview import after_reads, restart_preview

        from runbook.redis.connect import connection_kwargs, password_of

        kw = connection_kwargs(url, timeout)
        run = functools.partial(
            restart_preview, facts, restart_command=restart_command, restart_unit=restart_unit,
            declared_config=declared_config, credentials=(kw.get("username"), kw.get("password")),
            live_secrets=raw_secrets, timeout=max(timeout, 5.0), acc=acc or LOCAL, **simulation)
        # a look's preview on this host reads a config file and an RDB header: quicker inline than through a
        # thread (a fleet's hundred hops contend for the GIL); a simulation or ssh waits on other processes
        pv = run() if acc is None and not simulation.get("simulate", True) else await asyncio.to_thread(run)
        facts["restart_preview"] = pv
        if pv.get("simulated"):
            renames = (pv.get("file") or {}).get("renames") or {}
            facts["restart_reads"] = await read_restart_reads(url, timeout, info, aliases=tuple(renames.values()))
            after_reads(pv, facts["restart_reads"], info)
        sim = pv.get("sim_config") or {}
        secrets |= {sim[k] for k in ("requirepass", "masterauth") if sim.get(k)}
        fp = pv.get("file_replicaof")
        if fp and fp.get("host"):
            pw = password_of(url) or raw_secrets.get("masterauth") or None
            peer = await read_peer(fp["host"], int(fp["port"]), pw, timeout)
            fp["run_id"] = (peer or {}).get("run_id")
            fp["keys"] = (peer or {}).get("keys")
            fp["reachable"] = peer is not None
    facts["read_ms"] = round((time.monotonic() - t0) * 1000, 1)
    # INFO holds no secrets; what can (config, the preview's diff, log lines) is masked here, once.
    for key in ("restart_preview", "log", "error"):  # config was masked as it was read
        if facts.get(key) is not None:
            facts[key] = mask_mapping(facts[key], frozenset(secrets))
    return facts
