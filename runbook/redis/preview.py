"""The restart preview: what would a restart of this instance read, load and become?

Pure I/O on this machine (files, a throwaway redis-server); the findings are drawn from its
result by assess.py.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from typing import Any

from runbook.redis.aof import inspect_aof
from runbook.redis.config import ConfigError, FileConfig, effective_via_server, flatten, normalize, split_args
from runbook.redis.info import keyspace
from runbook.redis.probe import accepts_on, resolve
from runbook.redis.rdb import RdbError, read_header

# Keys whose running value says nothing about the file (our throwaway overrides them, or they are runtime state).
NOT_COMPARED = frozenset({
    "port", "unixsocket", "unixsocketperm", "dir", "pidfile", "logfile", "daemonize", "supervised",
    "syslog-enabled", "syslog-ident", "syslog-facility", "tls-port", "cluster-config-file", "save", "appendonly",
    "requirepass", "masterauth", "masteruser", "replicaof", "slaveof", "bind", "aclfile", "dbfilename",
    "appenddirname", "appendfilename", "cluster-announce-ip",
})
# Compared against the file's own lines (the throwaway never saw them).
FROM_FILE = ("port", "save", "appendonly", "dir", "dbfilename", "appendfilename", "appenddirname", "requirepass",
             "masterauth", "bind", "logfile")
DEFAULTS = {"port": "6379", "save": "3600 1 300 100 60 10000", "appendonly": "no", "dbfilename": "dump.rdb",
            "appendfilename": "appendonly.aof", "appenddirname": "appendonlydir", "requirepass": "", "masterauth": "",
            "bind": "* -::*", "logfile": ""}
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")


def _alias(k: str) -> str:
    return k.replace("slave", "replica") if k.startswith("slave") else k


def parse_command(argv: list[str] | tuple[str, ...]) -> tuple[str, list[list[str]]]:
    """redis-server [FILE] [--opt val ...] -> (file, overrides). A wrapper (sh -c ..., a script) is
    searched for the one .conf file it names; when that is ambiguous the file is unknown ("")."""
    args = list(argv)
    if args and os.path.basename(args[0]).startswith("redis-server"):
        args = args[1:]
        conf = ""
        if args and not args[0].startswith("-"):
            conf = args.pop(0)
        overrides: list[list[str]] = []
        for a in args:
            if a.startswith("--"):
                overrides.append([a[2:]])
            elif overrides:
                overrides[-1].append(a)
        return conf, overrides
    tokens: list[str] = []
    for a in args:
        tokens += (split_args(a) or [a]) if any(c.isspace() for c in a) else [a]
    confs = list(dict.fromkeys(t.strip("'\";") for t in tokens if t.strip("'\";").endswith(".conf")))
    return (confs[0] if len(confs) == 1 else ""), []


def unit_exec_start(unit: str) -> tuple[list[str], str]:
    """ExecStart of a systemd unit (drop-ins included): (argv, source)."""
    name = unit if "." in unit else unit + ".service"
    text = ""
    source = ""
    systemctl = shutil.which("systemctl")
    if systemctl:
        try:
            p = subprocess.run([systemctl, "cat", name], capture_output=True, text=True, timeout=3, stdin=subprocess.DEVNULL)
            if p.returncode == 0:
                text, source = p.stdout, f"systemctl cat {name}"
        except (OSError, subprocess.TimeoutExpired):
            pass
    if not text:
        parts = []
        for d in UNIT_DIRS:
            f = os.path.join(d, name)
            if os.path.isfile(f) and not parts:
                parts.append(f)
        for d in UNIT_DIRS:
            parts += sorted(glob.glob(os.path.join(d, name + ".d", "*.conf")))
        for f in parts:
            try:
                with open(f, encoding="utf-8", errors="replace") as fh:
                    text += fh.read() + "\n"
            except OSError:
                continue
        source = ", ".join(parts)
    exec_start: list[str] = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("ExecStart="):
            v = s[len("ExecStart="):].strip().lstrip("-@:+!")
            exec_start = split_args(v) or [] if v else []
    return exec_start, source


def _int(v: Any, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def restart_preview(facts: dict[str, Any], *, restart_command: tuple[str, ...] = (), restart_unit: str = "",
                    declared_config: str = "") -> dict[str, Any]:
    info = facts.get("info") or {}
    live = facts.get("config") or {}
    host = facts.get("host") or {}
    out: dict[str, Any] = {"keys_live": sum(keyspace(info).values()), "problems": []}
    running_file = str(info.get("config_file") or "")
    out["running_config_file"] = running_file
    overrides: list[list[str]] = []
    conf, source = running_file, "INFO config_file" if running_file else ""
    if restart_unit:
        argv, src = unit_exec_start(restart_unit)
        if argv:
            conf, overrides = parse_command(argv)
            source = f"systemd unit {restart_unit} ({src})"
        else:
            out["problems"].append(f"systemd unit {restart_unit}: no ExecStart found")
    elif restart_command:
        conf, overrides = parse_command(restart_command)
        source = "the declared restart command"
        if not conf:
            out["problems"].append("cannot tell which config file the declared restart command reads")
            out["config_file"] = ""
            out["config_source"] = source
            out["loads"] = "unknown"
            out["writable"] = None
            out["restart_fails"] = "unknown: the restart command names no single .conf file"
            return out
    elif declared_config:
        conf, source = declared_config, "the inventory's config"
    out["config_file"] = conf
    out["config_source"] = source
    out["overrides"] = [" ".join(o) for o in overrides]
    out["reads_other_file"] = bool(conf and running_file and os.path.realpath(conf) != os.path.realpath(running_file))
    if not host.get("local"):
        out["local"] = False
        out["loads"] = "unknown"
        out["problems"].append("the server does not run on this machine: its files cannot be read from here")
        out["writable"] = None
        return out
    out["local"] = True
    cwd = host.get("cwd") or "/"
    if cwd.endswith(" (deleted)"):
        cwd = cwd[: -len(" (deleted)")]
    if not conf:
        out["loads"] = "nothing"
        out["path"] = ""
        out["keys_on_disk"] = 0
        out["writable"] = True
        out["replicaof"] = ""
        out["reason"] = "no config file: a restart by hand starts from defaults, in the directory it is launched from"
        return out
    if not os.path.isabs(conf):
        conf = os.path.normpath(os.path.join(cwd, conf))
        out["config_file"] = conf
    if not os.path.isfile(conf):
        out["loads"] = "unknown"
        out["restart_fails"] = f"config file {conf} does not exist"
        out["writable"] = None
        return out
    fc = flatten(conf, cwd, overrides)
    out["files"] = fc.files
    out["problems"] += fc.problems
    effective: dict[str, str] = {}
    try:
        effective = effective_via_server(fc)
        out["reader"] = "redis-server"
    except ConfigError as e:
        out["reader"] = "parser"
        out["reader_error"] = str(e)
        if "refused the file" in str(e):
            out["restart_fails"] = str(e)
    out["diff"] = config_diff(live, effective, fc)
    s = fc.settings()
    get = lambda k: normalize(s.get(k, DEFAULTS.get(k, "")))  # noqa: E731
    appendonly = get("appendonly").lower()
    data_dir = fc.dir
    out["appendonly"] = appendonly
    out["dir"] = data_dir
    out["dir_exists"] = fc.dir_exists and os.path.isdir(data_dir)
    if not out["dir_exists"]:
        out["restart_fails"] = out.get("restart_fails") or f"dir {data_dir} does not exist: redis-server cannot chdir there"
    rdb_path = os.path.join(data_dir, get("dbfilename"))
    rdb = _rdb(rdb_path)
    out["rdb"] = rdb
    if appendonly == "yes":
        aof = inspect_aof(data_dir, get("appenddirname"), get("appendfilename"))
        out["aof"] = aof
        out["loads"] = "aof"
        out["path"] = aof["manifest"]
        if not aof["manifest_exists"] and not aof["legacy_file"]:
            out["loads"] = "nothing"
            out["path"] = aof["dir"]
            out["keys_on_disk"] = 0
            out["starts_empty"] = True
        elif aof["legacy_file"] and not aof["manifest_exists"]:
            out["path"] = aof["legacy_file"]
            out["keys_on_disk"] = None
        else:
            out["keys_on_disk"] = aof["base_keys"]
        if aof["fatal"]:
            out["restart_fails"] = "; ".join(aof["problems"])
    else:
        if rdb["exists"]:
            out["loads"] = "rdb"
            out["path"] = rdb_path
            out["keys_on_disk"] = rdb.get("keys")
        else:
            out["loads"] = "nothing"
            out["path"] = rdb_path
            out["keys_on_disk"] = 0
            out["starts_empty"] = True
    # replicaof in the file: does the restarted server replicate from itself?
    rep = fc.value("replicaof")
    out["replicaof"] = rep
    port = _int(get("port"), 6379)
    out["port_after_restart"] = port
    if rep and rep.lower() != "no one":
        parts = rep.split()
        mhost, mport = parts[0], _int(parts[1] if len(parts) > 1 else 6379, 6379)
        ips = resolve(mhost)
        self_addr = mport == port and any(accepts_on(ip, host) for ip in ips)
        out["file_replicaof"] = {"host": mhost, "port": mport, "addresses": ips, "self_by_address": self_addr}
        out["writable"] = False
    else:
        out["writable"] = True
    return out


def _rdb(path: str) -> dict[str, Any]:
    out: dict[str, Any] = {"path": path, "exists": os.path.isfile(path)}
    if not out["exists"]:
        return out
    try:
        h = read_header(path)
        out.update(h.to_dict())
        out["mtime"] = os.path.getmtime(path)
        if not h.ends_with_eof:
            out["damaged"] = "the file does not end with the EOF marker: truncated"
    except (RdbError, OSError) as e:
        out["damaged"] = str(e)
    return out


def config_diff(live: dict[str, str], effective: dict[str, str], fc: FileConfig) -> dict[str, dict[str, str]]:
    """Settings whose running value differs from what the file gives a restart."""
    diff: dict[str, dict[str, str]] = {}
    if not live:
        return diff
    if effective:
        for k, v in effective.items():
            if k in NOT_COMPARED or k not in live:
                continue
            if str(live[k]) != str(v):
                diff[k] = {"running": str(live[k]), "file": str(v)}
    else:
        for k, v in fc.settings().items():
            k2 = _alias(k)
            if k2 in NOT_COMPARED or k2 not in live:
                continue
            if normalize(str(live[k2])) != v:
                diff[k2] = {"running": str(live[k2]), "file": v}
    s = fc.settings()
    for k in FROM_FILE:
        if k not in live:
            continue
        fv = normalize(s.get(k, DEFAULTS.get(k, "")))
        lv = str(live[k])
        if k == "dir":
            fv = fc.dir
            lv = lv.removesuffix(" (deleted)")
        if k == "bind" and k not in s:
            continue
        if fv != lv:
            diff[k] = {"running": lv, "file": fv}
    return diff
