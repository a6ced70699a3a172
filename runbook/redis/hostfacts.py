"""Facts of the machine a Redis server runs on, when that is this machine: decided by the process (its pid
listens on the server's port), not by the address. Read-only: /proc, statvfs; psutil where /proc does not
answer (a look at a fleet does not pay its import)."""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
from typing import Any

from runbook.access import LOCAL, parse_listen_tables


def _read_first_line(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().strip()
    except OSError:
        return None


_CACHE: dict[str, tuple[float, Any]] = {}
CACHE_S = 1.0  # system-wide tables are read once per check of many servers, not once per server
# The listening sockets, by inode: an entry cannot go stale (an inode is one socket, and a listening socket
# listens until it is closed); what it can miss is a socket opened since, and a server none of whose
# sockets is in it reads it again. A host with a thousand servers writes 2,000 lines of /proc/net/tcp.
LISTEN_TABLE_S = 5.0


_CACHE_LOCK = threading.Lock()


def _cached(key: str, fn: Any, ttl: float = CACHE_S) -> Any:
    with _CACHE_LOCK:  # concurrent checks wait for one read instead of each reading the tables
        hit = _CACHE.get(key)
        now = time.monotonic()
        if hit and now - hit[0] < ttl:
            return hit[1]
        value = fn()
        _CACHE[key] = (time.monotonic(), value)
        return value


def local_addresses() -> set[str]:
    return _cached("addrs", _local_addresses)


def _local_addresses() -> set[str]:
    """The addresses of this host's interfaces, as the kernel lists them (/proc/net/fib_trie's local
    IPv4 routes and /proc/net/if_inet6), else psutil's getifaddrs()."""
    try:
        with open("/proc/net/fib_trie", encoding="ascii") as f:
            trie = f.read().splitlines()
        with open("/proc/net/if_inet6", encoding="ascii") as f:
            six = f.read().splitlines()
    except OSError:
        return _local_addresses_psutil()
    out = set()
    last = ""
    for line in trie:
        text = line.strip()
        if text.startswith(("|-- ", "+-- ")):
            last = text[4:].split("/")[0]
        elif text == "/32 host LOCAL" and last:
            out.add(last)
    for line in six:
        fields = line.split()
        if fields and len(fields[0]) == 32:
            try:
                out.add(str(ipaddress.IPv6Address(int(fields[0], 16))))
            except ValueError:
                continue
    return out or _local_addresses_psutil()


def _local_addresses_psutil() -> set[str]:
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


def _proc_listen_table() -> dict[int, tuple[str, int]]:
    """inode -> (ip, port) of every listening TCP socket, from /proc/net/tcp{,6} (Linux)."""
    files = LOCAL.read_many(["/proc/net/tcp", "/proc/net/tcp6"])
    return {int(k): v for k, v in parse_listen_tables(files["/proc/net/tcp"], files["/proc/net/tcp6"]).items()}


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
    table = _cached("listen-table", _proc_listen_table, LISTEN_TABLE_S)
    if inodes and not inodes & table.keys():  # a server newer than the cached table: read it again
        with _CACHE_LOCK:
            _CACHE.pop("listen-table", None)
        table = _cached("listen-table", _proc_listen_table, LISTEN_TABLE_S)
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
    pid = info.get("process_id")
    port = info.get("tcp_port")
    out: dict[str, Any] = {"local": False}
    if not isinstance(pid, int) or pid <= 0:
        return out
    unixsocket = (config or {}).get("unixsocket") or ""
    name = _read_first_line(f"/proc/{pid}/comm")  # one small read: a fleet check reads a thousand of these
    if name is None:
        import psutil

        try:
            name = psutil.Process(pid).name()  # no /proc here
        except (psutil.Error, OSError):
            return out  # no such process here: not this machine's server
    open_socket = bool(unixsocket) and os.path.exists(unixsocket)
    listens = listening(pid)
    if "redis" not in name and not any(port == lp for _, lp in listens):
        return out
    if port and not any(lp == port for _, lp in listens) and not (port == 0 and open_socket):
        return out
    out["local"] = True
    out["pid"] = pid
    out["listening"] = [f"{ip}:{lp}" for ip, lp in listens]
    out["listening_pairs"] = [[ip, lp] for ip, lp in listens]
    try:
        cwd = _cwd(pid)
        out["cwd"] = cwd
        out["cwd_deleted"] = cwd.endswith(" (deleted)") or not os.path.isdir(cwd)
    except OSError as e:
        out["cwd"] = None
        out["cwd_error"] = str(e)
    oc, thp = _cached("kernel", _kernel_settings)
    out["overcommit_memory"] = oc
    if thp:
        out["transparent_hugepages"] = thp
    data_dir = (config or {}).get("dir") or out.get("cwd")
    if data_dir and not out.get("cwd_deleted"):
        try:
            st = os.statvfs(data_dir)
            out["disk_free_bytes"] = st.f_bavail * st.f_frsize
            out["disk_total_bytes"] = st.f_blocks * st.f_frsize
        except OSError as e:
            out["disk_error"] = str(e)
    out["local_addresses"] = sorted(local_addresses())
    out["mem_total_bytes"] = _cached("mem-total", _mem_total)
    limit = cgroup_memory_limit(pid)
    if limit:
        out["cgroup_memory_limit_bytes"], out["cgroup"] = limit
    out["swap_bytes"] = _vm_swap(pid)
    return out


UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a page-rounded 2^63


def cgroup_memory_limit(pid: int) -> tuple[int, str] | None:
    """The tightest memory limit of the cgroups the process is in (its own and every ancestor's: cgroup v2
    memory.max, v1 memory.limit_in_bytes) and the cgroup that sets it; None when there is none or it cannot
    be read. The kernel kills the process at that limit, whatever the host has."""
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    mounts = _cached("cgroup-mounts", _cgroup_mounts)
    if mounts is None:
        return None
    best: tuple[int, str] | None = None
    for line in lines:
        if line.count(":") < 2:
            continue
        _, controllers, path = line.split(":", 2)
        v2 = controllers == ""
        if not (v2 or "memory" in controllers.split(",")):
            continue
        # servers of one fleet mostly share their cgroup: its limits are read once per batch
        limit = _cached(f"cgroup-limit:{int(v2)}:{path}", lambda: _cgroup_limit(mounts, v2, path))
        if limit is not None and (best is None or limit[0] < best[0]):
            best = limit
    return best


def _cgroup_mounts() -> list[tuple[str, str, str, list[str]]] | None:
    """(fstype, root, mount point, super options) of every cgroup file system this process sees."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    out = []
    for m in lines:
        left, _, right = m.partition(" - ")
        fields, extra = left.split(), right.split()
        if len(fields) < 5 or len(extra) < 3 or extra[0] not in ("cgroup", "cgroup2"):
            continue
        out.append((extra[0], fields[3], fields[4], extra[2].split(",")))
    return out


def _cgroup_limit(mounts: list[tuple[str, str, str, list[str]]], v2: bool, path: str) -> tuple[int, str] | None:
    """The tightest limit on path and its ancestors, read where the first matching hierarchy is mounted."""
    best: tuple[int, str] | None = None
    for fstype, root, point, supers in mounts:
        if not ((v2 and fstype == "cgroup2") or (not v2 and fstype == "cgroup" and "memory" in supers)):
            continue
        if not (path == root or path.startswith(root.rstrip("/") + "/")):
            continue
        rel = path[len(root.rstrip("/")):].strip("/")
        name = "memory.max" if v2 else "memory.limit_in_bytes"
        parts = rel.split("/") if rel else []
        for depth in range(len(parts), -1, -1):
            cg = "/".join(parts[:depth])
            value = _read_first_line(os.path.join(point, cg, name))
            if value and value.isdigit() and int(value) < UNLIMITED and (best is None or int(value) < best[0]):
                best = (int(value), "/" + cg)
        break
    return best


def _kernel_settings() -> tuple[int | None, str | None]:
    """vm.overcommit_memory and the transparent huge pages mode: the machine's, read once per batch."""
    oc = _read_first_line("/proc/sys/vm/overcommit_memory")
    thp = _read_first_line("/sys/kernel/mm/transparent_hugepage/enabled")
    if thp and "[" in thp:
        thp = thp[thp.find("[") + 1 : thp.find("]")]
    return (int(oc) if oc and oc.isdigit() else None), thp


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except FileNotFoundError:
        import psutil

        try:
            return psutil.Process(pid).cwd()
        except psutil.Error as e:
            raise OSError(str(e)) from None


def _mem_total() -> int:
    """The host's memory (MemTotal of /proc/meminfo, else psutil)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import psutil

    return psutil.virtual_memory().total


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
