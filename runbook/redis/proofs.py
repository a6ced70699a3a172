"""What the throwaway copy does not take from the real config as it is, and how each real value is proven
another way. The copy must not listen where the server listens, write where it writes, or reach its peers;
every directive it changes for that is listed here, with the proof of the real value. A proof that could
not be made is unproven and blocks; a proof that fails says the restart would not come up.

The path proofs ask the host's own shell, as the user the restart runs as (`runuser`/`setpriv` when runbook
is root and the server is not), whether the directory is there and writable: the kernel answers, ACLs and
mounts included, rather than our reading of mode bits.
"""

from __future__ import annotations

import os
from typing import Any

from runbook.access import Access, AccessError

# directive -> (what the copy uses instead, how the real value is proven)
COPY_CHANGES: dict[str, tuple[str, str]] = {
    "port": ("0 (no TCP listener)", "the host's kernel: the address exists and the port is free or the server's own"),
    "tls-port": ("0", "the certificate and key are loaded by the copy itself (it is given tls-replication yes when "
                      "the file uses TLS); the port is checked with the host's kernel like port"),
    "unixsocket": ("a socket in the copy's temp dir", "its directory exists and is writable by the restart's user"),
    "dir": ("the copy's temp dir (a private copy of the data)", "the copy is started with our include named "
            "relative to the real dir, so it starts only where redis-server's own reading of dir agrees; the dir "
            "exists"),
    "logfile": ("the copy's temp dir (the main file's logfile lines are blanked in its copy)",
                "the file is writable, or its directory exists and is writable, by the restart's user"),
    "pidfile": ("the copy's temp dir", "not needed: redis-server only warns when it cannot write its pidfile"),
    "daemonize / supervised": ("no", "not needed: how it is started, not what it serves"),
    "syslog-enabled": ("no", "not needed: where it logs"),
    "replicaof": ("a master at port 0 (refuses every connection); none in cluster mode",
                  "the peer named by the file is read (run_id, keys) and compared with the running role"),
    "cluster-enabled / cluster-config-file": (
        "cluster mode off (the copy must not bind a cluster bus or gossip); its own nodes file",
        "the nodes file is there, readable and writable by the restart's user, and names the running node "
        "(CLUSTER MYID) as itself"),
    "rename-command CONFIG": ("kept as CONFIG in the main file's copy, so the copy's settings can be read",
                              "the file's own rename is read from the file"),
    "databases": ("as in the file", "every database that holds keys now is below the file's count (when the "
                                    "copy loads no data)"),
}

_CHECK = r'''while [ $# -gt 1 ]; do k=$1 p=$2; shift 2
case $k in
dir) if [ -d "$p" ] && [ -w "$p" ] && [ -x "$p" ]; then echo ok; elif [ -d "$p" ]; then echo notwritable; else echo missing; fi;;
file) d=$(dirname -- "$p")
  if [ -e "$p" ]; then if [ -w "$p" ]; then echo ok; else echo notwritable; fi
  elif [ -d "$d" ]; then if [ -w "$d" ] && [ -x "$d" ]; then echo ok; else echo notwritable; fi
  else echo missing; fi;;
rw) if [ -e "$p" ]; then if [ -r "$p" ] && [ -w "$p" ]; then echo ok; else echo notwritable; fi; else echo missing; fi;;
esac; done'''

_AS = r'''u=$1 g=$2 groups=$3 name=$4; shift 4
if [ -n "$name" ]; then
  [ "$(id -un)" = "$name" ] && exec sh -c "$CHECK" sh "$@"
  exec runuser -u "$name" -- sh -c "$CHECK" sh "$@"
fi
[ "$(id -u)" = "$u" ] && exec sh -c "$CHECK" sh "$@"
if [ -n "$groups" ]; then exec setpriv --reuid="$u" --regid="$g" --groups="$groups" sh -c "$CHECK" sh "$@"; fi
exec setpriv --reuid="$u" --regid="$g" --clear-groups sh -c "$CHECK" sh "$@"'''


def run_as(status: str, user: str) -> tuple[str, str, str, str]:
    """(uid, gid, groups, name) of the restart's user: the declared one by name, else the running process's
    real ids from /proc/PID/status."""
    ids = {"Uid": "", "Gid": "", "Groups": ""}
    for line in (status or "").splitlines():
        k, _, v = line.partition(":")
        if k in ids:
            ids[k] = v.split()[0] if k != "Groups" and v.split() else " ".join(v.split())
    return ids["Uid"], ids["Gid"], ids["Groups"].replace(" ", ","), user


def check_paths(items: list[tuple[str, str]], who: tuple[str, str, str, str], acc: Access) -> list[str]:
    """For each (kind, path), the host's answer as the restart's user: ok, missing, notwritable; "unknown"
    when it could not be asked (not root and another user, no runuser/setpriv, the host did not answer)."""
    if not items:
        return []
    uid, gid, groups, name = who
    if not name and not uid:
        return ["unknown"] * len(items)
    argv = ["env", f"CHECK={_CHECK}", "sh", "-c", _AS, "sh", uid, gid, groups, name,
            *[x for kind, path in items for x in (kind, path)]]
    try:
        r = acc.run(argv, 10)
    except AccessError:
        return ["unknown"] * len(items)
    said = r.text.split()
    return said if r.rc == 0 and len(said) == len(items) else ["unknown"] * len(items)


def nodes_myself(text: str) -> str:
    """The node id a cluster nodes file names as itself ('' when it names none)."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and "myself" in parts[2].split(","):
            return parts[0]
    return ""


def resolve(path: str, base: str) -> str:
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base, path))


def max_db(info: dict[str, Any]) -> int:
    """The highest database index that holds keys now (-1 when none)."""
    dbs = [int(k[2:]) for k, v in info.items() if k.startswith("db") and k[2:].isdigit()
           and isinstance(v, dict) and int(v.get("keys") or 0) > 0]
    return max(dbs) if dbs else -1


def called_commands(info: dict[str, Any]) -> dict[str, int]:
    """Commands called since the server started (INFO commandstats), by their own names: name -> calls."""
    out: dict[str, int] = {}
    for k, v in info.items():
        if not k.startswith("cmdstat_"):
            continue
        calls = v.get("calls") if isinstance(v, dict) else None
        if calls is None and isinstance(v, str) and v.startswith("calls="):
            calls = v.split(",")[0][6:]
        try:
            n = int(calls or 0)
        except (TypeError, ValueError):
            continue
        name = k[8:].split("|")[0].lower()
        if n > 0:
            out[name] = out.get(name, 0) + n
    return out
