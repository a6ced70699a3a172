"""Read one Redis instance (and its host, where it runs on this machine). Read-only.

Commands sent: INFO all, CONFIG GET *, ROLE, DBSIZE (one pipeline, one connection), and
INFO server on the address the server replicates from, to compare run ids. Nothing else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
import threading
import time
from typing import Any

from runbook.redis.connect import RedisUrlError
from runbook.redis.info import pairs_to_dict, parse_info
from runbook.secrets import mask_mapping, mask_text, mask_url

LOG_PATTERNS = {
    "output_buffer_disconnects": "for overcoming of output buffer limits",
    "partial_resync_refused": "for lack of backlog",
    "bgsave_for_sync": "Starting BGSAVE for SYNC",
    "cannot_attach_bgsave": "Can't attach the replica to the current BGSAVE",
    "full_resync_requested": "Full resync requested by replica",
    "bgsave_errors": "Background saving error",
    "no_master_link": "NOMASTERLINK",
    "overcommit_warning": "Memory overcommit must be enabled",
    "thp_warning": "Transparent Huge Pages",
    "aof_created_on_start": "on server start",
}
LOG_TAIL_BYTES = 512 * 1024
SECRETS = "_secrets"


def _s(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, list):
        return [_s(x) for x in v]
    return v


async def read_server(url: str, timeout: float) -> dict[str, Any]:
    """INFO all, CONFIG GET *, ROLE, DBSIZE. Never raises for a dead host: reachable=False and error."""
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
        info_raw, config_raw, role, dbsize = await w.call([["INFO", "all"], ["CONFIG", "GET", "*"], ["ROLE"], ["DBSIZE"]])
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


async def read_run_id(host: str, port: int, password: str | None, timeout: float) -> str | None:
    peer = await read_peer(host, port, password, timeout)
    return peer["run_id"] if peer else None


# ------------------------------------------------------------------ host (this machine only)
def _read_first_line(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().strip()
    except OSError:
        return None


_CACHE: dict[str, tuple[float, Any]] = {}
CACHE_S = 1.0  # system-wide tables are read once per check of many servers, not once per server


_CACHE_LOCK = threading.Lock()


def _cached(key: str, fn: Any) -> Any:
    with _CACHE_LOCK:  # concurrent checks wait for one read instead of each reading the tables
        hit = _CACHE.get(key)
        now = time.monotonic()
        if hit and now - hit[0] < CACHE_S:
            return hit[1]
        value = fn()
        _CACHE[key] = (time.monotonic(), value)
        return value


def local_addresses() -> set[str]:
    return _cached("addrs", _local_addresses)


def _local_addresses() -> set[str]:
    import psutil

    out = set()
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family in (socket.AF_INET, socket.AF_INET6):
                out.add(a.address.split("%")[0])
    return out


def is_local_ip(ip: str, local: set[str]) -> bool:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return a.is_loopback or ip in local


def resolve(host: str) -> list[str]:
    try:
        return sorted({ai[4][0] for ai in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})
    except OSError:
        return []


def _proc_listen_table() -> dict[int, tuple[str, int]]:
    """inode -> (ip, port) of every listening TCP socket, from /proc/net/tcp{,6} (Linux)."""
    out: dict[int, tuple[str, int]] = {}
    for name, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            with open(name, encoding="ascii") as f:
                next(f, None)
                for line in f:
                    parts = line.split()
                    if len(parts) < 10 or parts[3] != "0A":  # 0A = LISTEN
                        continue
                    hexip, hexport = parts[1].split(":")
                    raw = bytes.fromhex(hexip)
                    if v6:
                        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                        ip = str(ipaddress.IPv6Address(raw))
                    else:
                        ip = str(ipaddress.IPv4Address(raw[::-1]))
                    out[int(parts[9])] = (ip, int(hexport, 16))
        except OSError:
            continue
    return out


def listening(pid: int) -> list[tuple[str, int]]:
    """Listening TCP sockets of pid: its socket inodes matched against the system table (read once
    per batch of servers), so a check of a hundred servers does not scan every process a hundred times."""
    try:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(int(link[8:-1]))
    except OSError:
        return _listening_psutil(pid)
    table = _cached("listen-table", _proc_listen_table)
    if inodes and not inodes & table.keys():  # a server newer than the cached table: read it again
        with _CACHE_LOCK:
            _CACHE.pop("listen-table", None)
        table = _cached("listen-table", _proc_listen_table)
    return sorted({table[i] for i in inodes if i in table})


def _listening_psutil(pid: int) -> list[tuple[str, int]]:
    import psutil

    try:
        p = psutil.Process(pid)
        conns = p.net_connections(kind="inet") if hasattr(p, "net_connections") else p.connections(kind="inet")
    except (psutil.Error, OSError):
        return []
    return sorted({(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN})


def accepts_on(ip: str, host: dict[str, Any]) -> bool:
    """Would the server (listening as now) accept a connection to ip? Wildcards match any local address."""
    local = set(host.get("local_addresses") or [])
    if not is_local_ip(ip, local):
        return False
    pairs = host.get("listening_pairs") or []
    if not pairs:
        return True  # not known: a local address is enough
    for lip, _ in pairs:
        if lip in ("0.0.0.0", "::") or lip == ip:
            return True
    return False


def host_facts(info: dict[str, Any], config: dict[str, Any] | None) -> dict[str, Any]:
    """Facts of the machine the server runs on, when that is this machine (its pid listens on its port)."""
    import psutil

    pid = info.get("process_id")
    port = info.get("tcp_port")
    out: dict[str, Any] = {"local": False}
    if not isinstance(pid, int) or not psutil.pid_exists(pid):
        return out
    listens = listening(pid)
    unixsocket = (config or {}).get("unixsocket") or ""
    try:
        p = psutil.Process(pid)
        name = p.name()
        open_socket = bool(unixsocket) and os.path.exists(unixsocket)
    except psutil.Error:
        return out
    if "redis" not in name and not any(port == lp for _, lp in listens):
        return out
    if port and not any(lp == port for _, lp in listens) and not (port == 0 and open_socket):
        return out
    out["local"] = True
    out["pid"] = pid
    out["listening"] = [f"{ip}:{lp}" for ip, lp in listens]
    out["listening_pairs"] = [[ip, lp] for ip, lp in listens]
    try:
        cwd = p.cwd()
        out["cwd"] = cwd
        out["cwd_deleted"] = cwd.endswith(" (deleted)") or not os.path.isdir(cwd)
    except (psutil.Error, OSError) as e:
        out["cwd"] = None
        out["cwd_error"] = str(e)
    oc = _read_first_line("/proc/sys/vm/overcommit_memory")
    out["overcommit_memory"] = int(oc) if oc and oc.isdigit() else None
    thp = _read_first_line("/sys/kernel/mm/transparent_hugepage/enabled")
    if thp:
        sel = thp[thp.find("[") + 1 : thp.find("]")] if "[" in thp else thp
        out["transparent_hugepages"] = sel
    data_dir = (config or {}).get("dir") or out.get("cwd")
    if data_dir and not out.get("cwd_deleted"):
        try:
            st = os.statvfs(data_dir)
            out["disk_free_bytes"] = st.f_bavail * st.f_frsize
            out["disk_total_bytes"] = st.f_blocks * st.f_frsize
        except OSError as e:
            out["disk_error"] = str(e)
    out["local_addresses"] = sorted(local_addresses())
    out["mem_total_bytes"] = _cached("mem-total", lambda: psutil.virtual_memory().total)
    out["swap_bytes"] = _vm_swap(pid)
    return out


def _vm_swap(pid: int) -> int | None:
    """How much of the process is swapped out (VmSwap of /proc/PID/status), in bytes."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmSwap:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def log_facts(config: dict[str, Any] | None, cwd: str | None) -> dict[str, Any]:
    """Counts and samples of the log lines that matter, from the tail of a readable log file."""
    logfile = (config or {}).get("logfile") or ""
    if not logfile:
        return {"readable": False, "reason": "logs go to stdout or syslog"}
    path = logfile if os.path.isabs(logfile) else os.path.join(cwd or "/", logfile)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            f.seek(max(0, size - LOG_TAIL_BYTES))
            tail = f.read().decode("utf-8", "replace").splitlines()
    except OSError as e:
        return {"readable": False, "path": path, "reason": e.strerror}
    return {"readable": True, "path": path, **count_log_lines(tail)}


def count_log_lines(tail: list[str]) -> dict[str, Any]:
    """The lines that matter in a log's tail: counts, the last of each (masked), and those of the last
    minute by the line's own time."""
    counts: dict[str, int] = {}
    recent: dict[str, int] = {}  # within RECENT_S of now, by the line's own time
    samples: dict[str, str] = {}
    now = time.time()
    for line in tail:
        for key, needle in LOG_PATTERNS.items():
            if needle in line:
                keys = [key]
                if key == "output_buffer_disconnects" and not _REPLICA_FLAGS.search(line):
                    keys.append("client_output_buffer_disconnects")  # a pub/sub or normal client, not a replica
                at = log_time(line)
                for k in keys:
                    counts[k] = counts.get(k, 0) + 1
                    samples[k] = mask_text(line)
                    if at is not None and now - at <= RECENT_S:
                        recent[k] = recent.get(k, 0) + 1
    return {"counts": counts, "recent": recent, "recent_s": RECENT_S, "samples": samples, "lines_read": len(tail)}


RECENT_S = 60
_REPLICA_FLAGS = re.compile(r" flags=[A-Za-z]*S")  # CLIENT LIST flags of the disconnected client: S is a replica
_LOG_TIME = re.compile(r"^\d+:[A-Z] (\d{1,2} \w{3} \d{4} \d{2}:\d{2}:\d{2})\.(\d{3}) ")


def log_time(line: str) -> float | None:
    """The time of a Redis log line ("1234:M 26 Nov 2026 23:48:30.325 # ..."), written in local time."""
    m = _LOG_TIME.match(line)
    if not m:
        return None
    try:
        return time.mktime(time.strptime(m[1], "%d %b %Y %H:%M:%S")) + int(m[2]) / 1000
    except (ValueError, OverflowError):
        return None


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
    acc = None
    if ssh:  # the engineer says where the server runs: its host is read there, over ssh
        from runbook import access
        from runbook.redis import remote

        acc = access.ssh(ssh, tuple(ssh_options))
        host = await asyncio.to_thread(remote.host_facts, acc, info, config)
        facts["host"] = host
        if host.get("on_host"):
            facts["log"] = await asyncio.to_thread(remote.log_facts, acc, config, host.get("cwd"))
    else:
        host = host_facts(info, config)  # local /proc and statvfs reads: quicker inline than through a thread
        facts["host"] = host
        if host.get("local"):
            facts["log"] = log_facts(config, host.get("cwd"))
    # Is the server (live) a replica of itself? Compare run ids through the address it replicates from.
    if info.get("role") == "slave" and info.get("master_host"):
        from runbook.redis.connect import password_of

        pw = password_of(url) or raw_secrets.get("masterauth") or None
        facts["master_run_id"] = await read_run_id(str(info["master_host"]), int(info.get("master_port") or 6379), pw, timeout)
        facts["master_is_self_by_address"] = bool(
            host.get("local") and info.get("master_port") == info.get("tcp_port")
            and any(accepts_on(ip, host) for ip in resolve(str(info["master_host"]))))
    if preview and acc is not None:
        from runbook.redis import remote

        facts["restart_preview"] = await asyncio.to_thread(
            remote.restart_preview, acc, facts, restart_command=restart_command, declared_config=declared_config,
            **simulation)
    elif preview:
        from runbook.redis.preview import restart_preview

        from runbook.redis.connect import connection_kwargs, password_of

        kw = connection_kwargs(url, timeout)
        pv = await asyncio.to_thread(
            restart_preview, facts, restart_command=restart_command, restart_unit=restart_unit,
            declared_config=declared_config, credentials=(kw.get("username"), kw.get("password")),
            live_secrets=raw_secrets, timeout=max(timeout, 5.0), **simulation)
        facts["restart_preview"] = pv
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
