"""The restart simulation: what a stop and a start of this server would do, proven in tiers.

1. config: the restart's own command (wrappers peeled, see launch.py) runs a throwaway redis-server
   (throwaway.py) from the restart's working directory; redis-server resolves the includes and says
   whether it starts. Its CONFIG GET is compared with the running server's.
2. stop: SHUTDOWN writes the running dataset to the *running* dir/dbfilename (default: when save points
   exist; SAVE: always; NOSAVE: never) and flushes a running AOF; the start reads the *file's*.
3. files: redis-check-rdb and redis-check-aof on the files the start would load as they are now.
4. load: the throwaway loads a private copy of those files (when they fit), counts the keys and tries a write.

Everything it could not prove is listed in `unproven`; the guard blocks on any of it. Findings are drawn
from this result by assess.py (pure).

It runs on the server's host, through its host access (runbook.access): this machine, or over ssh, where
the files, the binary, redis-check-* and the throwaway copy are.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import socket
from typing import Any

from runbook.access import LOCAL, Access, AccessError, Memo, is_dir, is_file
from runbook.redis import throwaway
from runbook.redis.aof import inspect_aof
from runbook.redis.config import CONFIG_LIMIT, FileConfig, flatten, normalize, split_args
from runbook.redis.info import keyspace
from runbook.redis.launch import Launch, Unprovable, interpret, unit_start
from runbook.redis.hostfacts import accepts_on
from runbook.redis.proofs import called_commands, check_paths, max_db, nodes_myself, resolve, run_as
from runbook.redis.rdb import RdbError, read_header
from runbook.redis.verdict import SHUTDOWN_MODES
from runbook.text import human_bytes, plural

DEFAULT_LOAD_LIMIT = 512 * 1024 * 1024
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
# Compared between the running server and what the restart reads (redis-server's own values).
COMPARED = ("maxmemory", "maxmemory-policy", "databases", "appendonly", "dbfilename", "appenddirname",
            "appendfilename", "min-replicas-to-write", "save", "repl-backlog-size", "client-output-buffer-limit",
            "maxclients", "timeout", "appendfsync", "aof-use-rdb-preamble", "stop-writes-on-bgsave-error",
            "replica-read-only", "protected-mode", "io-threads", "hz", "maxmemory-samples", "lazyfree-lazy-eviction")
# Checked against our reading of the files: where they disagree, our port/unixsocket/replicaof are unproven.
CROSS_CHECKED = ("appendonly", "dbfilename", "appenddirname", "appendfilename", "databases", "maxmemory",
                 "maxmemory-policy", "bind", "save", "min-replicas-to-write")


def read_unit_text(name: str, acc: Access = LOCAL) -> tuple[str, str]:
    """The unit file with its drop-ins, on the host of acc: `systemctl cat`, else the unit directories."""
    try:
        if acc.which("systemctl"):
            p = acc.run(["systemctl", "cat", "--", name], 3)
            if p.rc == 0:
                return p.text, f"systemctl cat {name}"
        units = [os.path.join(d, name) for d in UNIT_DIRS]
        dropins = [os.path.join(d, name + ".d") for d in UNIT_DIRS]
        st = acc.stat_many(units + dropins)
        parts = [f for f in units if is_file(st[f])][:1]
        for d in dropins:
            if is_dir(st[d]):
                parts += [os.path.join(d, f) for f in acc.listdir(d) if f.endswith(".conf")]
        text = "".join((b or b"").decode("utf-8", "replace") + "\n" for b in acc.read_many(parts).values())
    except AccessError:
        return "", ""
    return text, ", ".join(parts)


def _int(v: Any, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def digest(v: str) -> str:
    return hashlib.sha256(v.encode()).hexdigest()[:12]


def _launch(facts: dict[str, Any], restart_command: tuple[str, ...], restart_unit: str, declared_config: str,
            restart_cwd: str, acc: Access) -> Launch:
    info = facts.get("info") or {}
    host = facts.get("host") or {}
    running_cwd = (host.get("cwd") or "/").removesuffix(" (deleted)")
    if restart_unit:
        argv, workdir, user, src = unit_start(restart_unit, lambda name: read_unit_text(name, acc))
        if not argv:
            raise Unprovable(f"systemd unit {restart_unit}: no ExecStart found ({src or 'no unit file'})")
        launch = interpret(argv, workdir, f"the unit's WorkingDirectory ({workdir})",
                           f"systemd unit {restart_unit} ({src})")
        launch.user = launch.user or user
        return launch
    conf = declared_config or str(info.get("config_file") or "")
    cwd, how = (restart_cwd, "the inventory's restart cwd") if restart_cwd else launch_dir(running_cwd, conf, acc)
    if restart_command:
        return interpret(list(restart_command), cwd, how, "the declared restart command")
    source = "the inventory's config" if declared_config else ("INFO config_file" if conf else "no config file")
    launch = interpret(["redis-server", *([conf] if conf else [])], cwd, how, source)
    launch.notes.append("no restart command is declared: the restart is taken to be `redis-server FILE` from the "
                        "server's working directory (declare restart: command or unit in the inventory to be exact)")
    return launch


def launch_dir(running_cwd: str, conf: str, acc: Access = LOCAL) -> tuple[str, str]:
    """Where the server was launched from, as far as it can be told. Its working directory is already its
    data dir once a `dir` line ran; a relative `dir data` then means it was launched from the directory
    above, and that is where a restart by hand resolves the same relative paths."""
    how = "the running server's working directory"
    raw = ""
    try:
        text = acc.read(conf, CONFIG_LIMIT).decode("utf-8", "replace") if conf else ""
    except AccessError:
        return running_cwd, how
    for line in text.splitlines():
        words = split_args(line.strip()) or []
        if len(words) == 2 and words[0].lower() == "dir":
            raw = words[1]
    rel = os.path.normpath(raw) if raw else ""
    if rel and not os.path.isabs(rel) and rel != "." and not rel.startswith(".."):
        if running_cwd.rstrip("/").endswith("/" + rel):
            launched = running_cwd.rstrip("/")[: -len(rel) - 1] or "/"
            return launched, f"{how} less its relative dir {raw!r} (where it was launched)"
    return running_cwd, how


def restart_preview(facts: dict[str, Any], *, restart_command: tuple[str, ...] = (), restart_unit: str = "",
                    declared_config: str = "", restart_cwd: str = "", shutdown: str = "default",
                    load_limit: int = DEFAULT_LOAD_LIMIT, allow_modules: bool = False,
                    credentials: tuple[str | None, str | None] = (None, None),
                    live_secrets: dict[str, str] | None = None, timeout: float = 10.0,
                    acc: Access = LOCAL, simulate: bool = True, data: str = "") -> dict[str, Any]:
    """The restart simulation of the server of facts, on the host of acc: this machine, or the host
    runbook reaches over ssh (where the files, the binary and the throwaway copy are).
    simulate=False is a look, not a simulation: runbook's own reading of the files and the RDB header,
    no copy started, no checker run (fast enough for a fleet; the guard always simulates)."""
    info = facts.get("info") or {}
    host = facts.get("host") or {}
    keys_live = sum(keyspace(info).values())
    running_file = str(info.get("config_file") or "")
    out: dict[str, Any] = {"keys_live": keys_live, "running_config_file": running_file, "unproven": [],
                           "shutdown": shutdown, "tiers": {}, "loads": "unknown", "writable": None,
                           "simulated": simulate, "declared_data": data}
    unproven: list[str] = out["unproven"]
    out["local"], out["read_over"] = acc.local, acc.name
    out["reached"] = bool(host.get("local") if acc.local else host.get("on_host"))  # the server's own host
    if not out["reached"]:
        out["config_file"] = declared_config or running_file
        unproven.append("the server does not run on this machine: its config, data files and binary cannot be "
                        "read from here" if acc.local else
                        host.get("error") or f"the server's pid does not listen on its port on {acc.name}")
        return out
    try:
        return _preview(out, facts, acc, restart_command=restart_command, restart_unit=restart_unit,
                        declared_config=declared_config, restart_cwd=restart_cwd, load_limit=load_limit,
                        allow_modules=allow_modules, credentials=credentials, live_secrets=live_secrets or {},
                        timeout=timeout, simulate=simulate)
    except AccessError as e:  # the host stopped answering halfway: what is not proven blocks
        unproven.append(f"the host did not answer every read ({e})")
        return out


def _preview(out: dict[str, Any], facts: dict[str, Any], acc: Access, *, restart_command: tuple[str, ...],
             restart_unit: str, declared_config: str, restart_cwd: str, load_limit: int, allow_modules: bool,
             credentials: tuple[str | None, str | None], live_secrets: dict[str, str], timeout: float,
             simulate: bool = True) -> dict[str, Any]:
    acc = Memo(acc)  # type: ignore[assignment]  # one look: the same path is asked of the host once
    info = facts.get("info") or {}
    live = facts.get("config") or {}
    host = facts.get("host") or {}
    unproven: list[str] = out["unproven"]
    running_file, keys_live, shutdown = out["running_config_file"], out["keys_live"], out["shutdown"]
    try:
        launch = _launch(facts, restart_command, restart_unit, declared_config, restart_cwd, acc)
    except Unprovable as e:
        out["config_file"] = ""
        out["config_source"] = "the declared restart command" if restart_command else f"systemd unit {restart_unit}"
        unproven.append(f"the start command cannot be interpreted: {e}")
        return out
    out.update(config_file=launch.config_file, config_source=launch.source, cwd=launch.cwd,
               cwd_source=launch.cwd_source, options=list(launch.options), notes=list(launch.notes))
    acc.realpath_many([launch.config_file, running_file, str(live.get("dir") or "").removesuffix(" (deleted)")])
    out["reads_other_file"] = bool(launch.config_file and running_file and
                                   acc.realpath(launch.config_file) != acc.realpath(running_file))
    acc.which_many([launch.binary, "redis-check-rdb", "redis-check-aof"])
    binary = launch.resolved_binary(acc)
    if not binary:
        out["restart_fails"] = f"{launch.binary}: no such executable"
        return out
    if not is_dir(acc.stat(launch.cwd)):
        out["restart_fails"] = f"the start's working directory {launch.cwd} does not exist"
        return out
    fc = flatten(launch.config_file, launch.cwd, launch.overrides(), acc=None if acc.local else acc)
    out["files"] = fc.files
    out["files_unchanged_since_start"] = _unchanged_since_start(fc.files, info, acc)
    s = fc.settings()
    ours = _our_reading(fc, s, acc)
    out["file"] = ours
    # ---- tier 2: the stop, then what the start reads
    stop = _stop(info, live, ours, shutdown, acc)
    out["stop"] = stop
    out["appendonly"] = ours["appendonly"]
    out["dir"] = ours["dir"]
    # ---- tier 3: the files as they are now
    rdb_path = os.path.join(ours["dir"], ours["dbfilename"])
    rdb = _rdb(rdb_path, acc)
    out["rdb"] = rdb
    aof: dict[str, Any] = {}
    if ours["appendonly"] == "yes":
        aof = inspect_aof(ours["dir"], ours["appenddirname"], ours["appendfilename"], acc)
        out["aof"] = aof
        if aof.get("unread"):
            unproven += [p for p in aof["problems"] if "could not be read" in p]
        out["loads"], out["path"] = "aof", aof["manifest"]
        if not aof["manifest_exists"] and not aof["legacy_file"]:
            out["loads"], out["path"], out["starts_empty"] = "nothing", aof["dir"], True
        elif aof["legacy_file"] and not aof["manifest_exists"]:
            out["path"] = aof["legacy_file"]
    else:
        out["loads"], out["path"] = ("rdb", rdb_path) if rdb["exists"] else ("nothing", rdb_path)
        out["starts_empty"] = not rdb["exists"]
    if out["loads"] == "nothing":
        checked = {}
    elif simulate:
        checked = _check_files(out, rdb, aof, acc)
    else:
        checked = _headers_only(out, rdb, aof)
    out["tiers"]["files"] = checked or {"said": "no file to check: the start loads nothing"}
    out["keys_on_disk"] = checked.get("keys") if out["loads"] != "nothing" else 0
    # ---- tiers 1 and 4: the throwaway
    if not simulate:
        if aof.get("fatal"):  # runbook's reading of the manifest (the simulation asks redis-server itself)
            out["restart_fails"] = "; ".join(aof["problems"])
        out["tiers"]["config"] = {"said": "not simulated: runbook's own reading of the config files (redis check "
                                          "--restart, and every guard, start a copy of the restart)"}
        _compare(out, info, live, ours, live_secrets, host, _self_replica(facts, info), acc)
        _outcomes(out, info, keys_live)
        return out
    data, load_note = _data_to_copy(out, aof, rdb, load_limit, acc)
    out["tiers"]["load"] = {"said": load_note}
    called = sorted(called_commands(info))
    out["runs_as"] = _restart_user(host, launch, acc)
    blockers = _before_start(fc, ours, allow_modules, acc)
    if blockers:
        unproven += blockers
        out["tiers"]["config"] = {"said": "redis-server was not started: " + "; ".join(blockers)}
    else:
        _simulate(out, launch, binary, fc, ours, data, credentials, live_secrets, timeout, acc,
                  commands=tuple(sorted(set(called) | {v for k, v in ours["renames"].items() if k in called and v})))
    _prove_copy_changes(out, facts, fc, ours, launch, acc)
    if "keys_loaded" not in out and not out.get("restart_fails"):
        # not loaded here: what the checkers found is the evidence
        if aof.get("fatal"):
            out["restart_fails"] = "; ".join(aof["problems"])
        elif checked.get("ok") is False:
            out["restart_fails"] = checked["said"]
    _compare(out, info, live, ours, live_secrets, host, _self_replica(facts, info), acc)
    _outcomes(out, info, keys_live)
    return out


def _unchanged_since_start(files: list[str], info: dict[str, Any], acc: Access) -> bool:
    """Whether no config file the restart reads changed since the server started (then what cannot change
    at runtime, such as rename-command, is the same in the running server as in the files)."""
    now = _int(info.get("server_time_usec"), 0) / 1e6
    up = _int(info.get("uptime_in_seconds"), -1)
    paths = [f for f in files if f and not f.startswith("<")]
    if not now or up < 0 or not paths:
        return False
    st = acc.stat_many(paths)
    return all(st[f] is not None and st[f]["mtime"] < now - up - 1 for f in paths)


def _restart_user(host: dict[str, Any], launch: Launch, acc: Access) -> tuple[str, str, str, str]:
    """(uid, gid, groups, name) the restart runs as: the declared user (sudo -u, the unit's User=), else
    the running process's real ids; and this access's own uid last, as "me"."""
    try:
        if launch.user:
            r = acc.run(["sh", "-c", 'id -u -- "$1" && id -g -- "$1" && id -G -- "$1"', "sh", launch.user], 5)
            words = r.text.split("\n")
            if r.rc == 0 and len(words) >= 3:
                return words[0].strip(), words[1].strip(), ",".join(words[2].split()), launch.user
            return "", "", "", launch.user
        status = acc.read(f"/proc/{host['pid']}/status", 65536).decode("utf-8", "replace") if host.get("pid") else ""
    except AccessError:
        return "", "", "", launch.user
    return run_as(status, "")


def _as_ids(out: dict[str, Any], acc: Access) -> tuple[int, int, list[int]] | None:
    """Who the copy runs as: the restart's user when that is not us (runbook must be root there to
    switch; if it cannot, the copy runs as us and what that user may read is unproven)."""
    uid, gid, groups, name = out.get("runs_as") or ("", "", "", "")
    if not uid.isdigit() or not gid.isdigit():
        if name:
            out["unproven"].append(f"the restart's user {name} is not known on the host: the copy ran as runbook's")
        return None
    me = str(os.geteuid()) if acc.local else acc.run(["id", "-u"], 5).text.strip()
    if uid == me:
        return None
    if me != "0":
        out["unproven"].append(f"the restart runs as uid {uid}, runbook as uid {me}: the copy could not run with "
                               "the restart's rights (run runbook as root to prove what that user can read)")
        return None
    return int(uid), int(gid), [int(g) for g in groups.split(",") if g.isdigit()]


def _self_replica(facts: dict[str, Any], info: dict[str, Any]) -> bool:
    return bool(facts.get("master_is_self_by_address")) or (
        bool(facts.get("master_run_id")) and str(facts.get("master_run_id")) == str(info.get("run_id")))


def _headers_only(out: dict[str, Any], rdb: dict[str, Any], aof: dict[str, Any]) -> dict[str, Any]:
    """A look's reading of the files: the key count the RDB header (or the AOF base's) declares."""
    said = "not checked: the key count is the file header's (redis check --restart runs redis-check-rdb/aof)"
    if out["loads"] == "rdb" and rdb.get("has_resizedb") and not rdb.get("header_error"):
        return {"said": said, "keys": rdb.get("keys")}
    if out["loads"] == "aof" and aof.get("base_keys") is not None and not aof.get("incr_commands"):
        return {"said": said, "keys": aof["base_keys"]}
    return {"said": said}


def _our_reading(fc: FileConfig, s: dict[str, str], acc: Access) -> dict[str, Any]:
    def get(k: str, default: str) -> str:
        return normalize(s.get(k, default))

    rep = fc.value("replicaof")
    return {
        "dir": fc.dir, "dir_exists": fc.dir_exists and is_dir(acc.stat(fc.dir)),
        "port": _int(get("port", "6379"), 6379), "unixsocket": s.get("unixsocket", ""),
        "bind": s.get("bind", ""), "dbfilename": s.get("dbfilename", "dump.rdb"),
        "appendonly": get("appendonly", "no").lower(), "appenddirname": s.get("appenddirname", "appendonlydir"),
        "appendfilename": s.get("appendfilename", "appendonly.aof"),
        "replicaof": "" if rep.lower() in ("", "no one") else rep,
        "modules": [d.args[0] for d in fc.directives if d.name == "loadmodule" and d.args],
        "renames": fc.renames(),
        # a rename of CONFIG in the main file is dropped in the copy's copy of it (throwaway.copy_main)
        "config_command": next((d.args[1] for d in reversed(fc.directives) if d.name == "rename-command"
                                and len(d.args) == 2 and d.args[0].lower() == "config" and d.file != fc.path),
                               "CONFIG"),
        "cluster": get("cluster-enabled", "no").lower() == "yes",
        "cluster_config_file": s.get("cluster-config-file", "nodes.conf"),
        "tls_port": _int(get("tls-port", "0"), 0),
        "tls": _int(get("tls-port", "0"), 0) != 0 or get("tls-replication", "no").lower() == "yes"
        or get("tls-cluster", "no").lower() == "yes",
        "logfile": s.get("logfile", ""), "databases": _int(get("databases", "16"), 16),
        "include_logfiles": [(d.file, " ".join(d.args)) for d in fc.directives
                             if d.name == "logfile" and d.file not in (fc.path, "<command line>") and d.args
                             and d.args[0]],
    }


def _stop(info: dict[str, Any], live: dict[str, Any], ours: dict[str, Any], mode: str, acc: Access) -> dict[str, Any]:
    """What the stop writes, in each shutdown mode, and whether the start reads exactly that."""
    live_dir = str(live.get("dir") or "").removesuffix(" (deleted)")
    save_points = bool(str(live.get("save") or "").strip())
    aof_on = str(live.get("appendonly") or "") == "yes" or info.get("aof_enabled") == 1
    same_dir = bool(live_dir) and acc.realpath(live_dir) == acc.realpath(ours["dir"])
    out: dict[str, Any] = {"mode": mode, "running_dir": live_dir, "running_dbfilename": live.get("dbfilename"),
                           "running_appendonly": "yes" if aof_on else "no", "save_points": save_points}
    if ours["appendonly"] == "yes":
        current = (aof_on and same_dir and live.get("appenddirname") == ours["appenddirname"]
                   and live.get("appendfilename") == ours["appendfilename"]
                   and info.get("aof_last_write_status", "ok") == "ok")
        out["current"] = {m: current for m in SHUTDOWN_MODES}
        out["said"] = ("the running server writes the AOF the start reads; every stop flushes it" if current else
                       "the start reads an AOF the running server does not write: what is on disk now")
    else:
        same_file = same_dir and live.get("dbfilename") == ours["dbfilename"]
        writes = {"default": save_points, "save": True, "nosave": False}
        out["current"] = {m: same_file and writes[m] for m in SHUTDOWN_MODES}
        if not live:
            out["unknown"] = True
            out["said"] = ("the running dir, dbfilename and save points are unknown (CONFIG GET refused): the start "
                           "is judged on what is on disk now")
        elif same_file:
            out["said"] = (f"SHUTDOWN writes {os.path.join(live_dir, str(live.get('dbfilename')))}"
                           f"{'' if save_points else ' only with SAVE (no save points)'}, and the start reads it")
        else:
            out["said"] = (f"SHUTDOWN writes {os.path.join(live_dir, str(live.get('dbfilename')))} but the start "
                           f"reads {os.path.join(ours['dir'], ours['dbfilename'])}")
    return out


def _rdb(path: str, acc: Access) -> dict[str, Any]:
    st = acc.stat(path)
    out: dict[str, Any] = {"path": path, "exists": is_file(st)}
    if not out["exists"]:
        return out
    out["mtime"] = st["mtime"]
    try:
        out.update(read_header(path, acc).to_dict())
    except (RdbError, AccessError) as e:
        out["header_error"] = str(e)
    return out


_KEYS_READ = re.compile(r"\[info\] (\d+) keys read")


def _check_files(out: dict[str, Any], rdb: dict[str, Any], aof: dict[str, Any], acc: Access) -> dict[str, Any]:
    """redis-check-rdb / redis-check-aof on what the start would load (read only)."""
    res: dict[str, Any] = {}
    if out["loads"] == "rdb":
        res = _run_check("redis-check-rdb", rdb["path"], rdb.get("size_bytes") or 0, acc)
        if res.get("ok") and "keys" not in res and rdb.get("has_resizedb"):
            res["keys"] = rdb.get("keys")
    elif out["loads"] == "aof":
        res = _run_check("redis-check-aof", out["path"], 0, acc)
        res.pop("keys", None)  # it counts the keys of the base only: not what the AOF holds
        base = [e for e in aof.get("files") or [] if e.get("type") == "b" and e.get("exists")]
        if res.get("ok") and base and not aof.get("incr_commands"):
            b = os.path.join(aof["dir"], base[0]["name"])
            if b.endswith(".rdb"):
                rb = _run_check("redis-check-rdb", b, base[0].get("size_bytes") or 0, acc)
                if rb.get("ok"):
                    res["keys"] = rb.get("keys")
    return res


def _run_check(tool: str, path: str, size: int, acc: Access) -> dict[str, Any]:
    where = "" if acc.local else f" on {acc.host}"
    exe = acc.which(tool)
    if not exe:
        return {"tool": tool, "said": f"{tool} is not installed{where} (Debian: redis-tools)"}
    try:
        p = acc.run([exe, path], 10 + size / (20 * 1024 * 1024))
    except AccessError as e:
        return {"tool": tool, "said": f"{tool} did not finish{where}: {e}"}
    text = (p.stdout + p.stderr).decode("utf-8", "replace")
    res: dict[str, Any] = {"tool": tool, "path": path, "ok": p.rc == 0}
    m = _KEYS_READ.search(text)
    if m:
        res["keys"] = int(m[1])
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    err = [x for x in lines if "ERROR" in x or "rror" in x or "Can't" in x or "not valid" in x]
    res["said"] = (f"{tool}: OK" + (f", {plural(res['keys'], 'key')}" if "keys" in res else "")) if res["ok"] else \
        f"{tool}: " + ("; ".join(err[-3:]) or (lines[-1] if lines else f"exit {p.rc}"))[-400:]
    return res


def _data_to_copy(out: dict[str, Any], aof: dict[str, Any], rdb: dict[str, Any], limit: int,
                  acc: Access) -> tuple[list[tuple[str, str]], str]:
    """The files a start reads as they are, when it matters (the stop does not rewrite them) and they fit."""
    if out["stop"]["current"][out["shutdown"]]:
        return [], "not needed: the stop writes what the start loads (the copy on disk now would be replaced)"
    if out["loads"] == "nothing":
        return [], "nothing on disk to load"
    if out["loads"] == "aof":
        src = aof["dir"]
        if aof.get("legacy_file") and not aof.get("manifest_exists"):
            data = [(aof["legacy_file"], os.path.basename(aof["legacy_file"]))]
            size = (acc.stat(aof["legacy_file"]) or {}).get("size", 0)
        else:
            data = [(src, out["file"]["appenddirname"])]
            files = acc.stat_many([os.path.join(src, f) for f in acc.listdir(src)])
            size = sum(st["size"] for st in files.values() if is_file(st))
    else:
        size = rdb.get("size_bytes") or (acc.stat(rdb["path"]) or {}).get("size", 0)
        data = [(rdb["path"], out["file"]["dbfilename"])]
    why = _too_big(size, limit, acc)
    if why:
        return [], f"skipped: {why}"
    return data, f"a private copy of {human_bytes(size)} loaded"


def _too_big(size: int, limit: int, acc: Access) -> str:
    if size > limit:
        return f"the data is {human_bytes(size)}, over the load limit of {human_bytes(limit)} (--load-limit)"
    avail = acc.mem_available()
    if avail is None:
        return "free memory is unknown"
    if size * 4 > avail / 2:
        return f"loading {human_bytes(size)} needs about {human_bytes(size * 4)} of memory; {human_bytes(avail)} is free"
    try:
        free = acc.disk("/tmp")[1]
    except AccessError:
        return "the free space of /tmp is unknown"
    if size * 1.2 > free:
        return f"/tmp has {human_bytes(free)} free, the copy needs {human_bytes(size)}"
    return ""


def _before_start(fc: FileConfig, ours: dict[str, Any], allow_modules: bool, acc: Access) -> list[str]:
    """What stops us from starting the throwaway without harm."""
    out = []
    modules = {m: os.path.join(fc.dir, m) for m in ours["modules"]}  # join keeps an absolute path as it is
    logs = {p: os.path.join(fc.dir, p) for _, p in ours["include_logfiles"]}
    st = acc.stat_many(sorted(set(modules.values()) | set(logs.values())))
    present = [m for m, p in modules.items() if st[p] is not None]
    if present and not allow_modules:
        out.append(f"the config loads modules ({', '.join(present)}): a simulated start would run their code; "
                   "allow it with --allow-modules (params.allow_modules)")
    for file, path in ours["include_logfiles"]:
        if st[logs[path]] is None:
            out.append(f"{file} sets logfile {path}: redis-server would create that file while reading the config")
    return out


def _simulate(out: dict[str, Any], launch: Launch, binary: str, fc: FileConfig, ours: dict[str, Any],
              data: list[tuple[str, str]], credentials: tuple[str | None, str | None], live_secrets: dict[str, str],
              timeout: float, acc: Access, commands: tuple[str, ...] = ()) -> None:
    user, password = credentials
    config_cmd = ours["config_command"]
    size = sum(st["size"] for st in acc.stat_many([p for p, _ in data]).values() if is_file(st))
    kw = dict(password=password, username=user, config_command=config_cmd, timeout=timeout,
              load_timeout=timeout + size / (50 * 1024 * 1024), admin_password=live_secrets.get("requirepass"), acc=acc,
              commands=commands, cluster=ours["cluster"], tls=ours["tls"], as_ids=_as_ids(out, acc))
    res = throwaway.run(binary, launch.config_file, launch.options, launch.cwd, ours["dir"], data, **kw)
    said = [f"redis-server ({binary}{'' if acc.local else ' on ' + acc.host}) read {launch.config_file or 'no config file'}"
            f"{' with ' + ' '.join(launch.options) if launch.options else ''} from {launch.cwd} ({launch.cwd_source})"]
    if not res.started and not res.dir_confirmed and not res.timed_out:  # (a copy too slow to start says so below)
        out["unproven"].append(f"redis-server's data dir is not {ours['dir']}, where runbook read it: the files "
                               "it loads and the port, socket and replicaof of the file are unproven")
        res = throwaway.run(binary, launch.config_file, launch.options, launch.cwd, ours["dir"], [],
                            confirm_dir=False, **kw)
    if res.cannot_read:
        out["unproven"].append(f"runbook could not read or copy what the simulated start needs ({res.cannot_read})")
        out["tiers"]["config"] = {"said": "redis-server was not started: " + res.cannot_read}
        return
    out["throwaway"] = {"started": res.started, "load_s": res.load_s, "log": res.log[-12:]}
    out["reader"] = "redis-server" if res.started and res.config else None
    if res.timed_out:
        out["unproven"].append(f"the simulated start {res.reason}")
    elif not res.started:
        out["restart_fails"] = res.reason
        said.append(f"it did not start: {res.reason}")
    if res.started:
        said.append(f"data dir {ours['dir']} confirmed by redis-server")
        out["auth_ok"] = res.auth_ok
        if res.auth_ok is False:
            said.append("it refused the credentials this check used")
        out["sim_config"] = res.config
        if res.config is None and res.auth_ok is not False:
            out["unproven"].append(f"the simulated server's CONFIG GET failed ({res.config_error or 'refused'}): "
                                   "its settings cannot be compared")
        if res.config:
            mismatch = [k for k in CROSS_CHECKED if k in fc.settings() and k in res.config
                        and _norm(k, fc.settings()[k]) != _norm(k, res.config[k])]
            if mismatch:
                out["unproven"].append("runbook's reading of the config files disagrees with redis-server's on "
                                       f"{', '.join(mismatch)}: the file's port, unixsocket and replicaof are unproven")
            else:
                said.append("runbook's reading of the files agrees with redis-server's")
        if data:
            out["tiers"]["load"] = {
                "said": f"loaded a private copy in {res.load_s:.2f} s: {plural(sum(res.keys.values()), 'key')}"
                        + (f" ({', '.join(f'{k}={v}' for k, v in sorted(res.keys.items()))})" if res.keys else "")
                        + (", accepts writes" if res.write == "ok" else f", a write got: {res.write}" if res.write else ""),
                "keys": sum(res.keys.values()), "dbs": res.keys}
            out["keys_loaded"] = sum(res.keys.values())
        out["copy_commands"] = res.commands
        out["write"] = res.write
        out["keys_after_write"] = res.keys_after_write
        out["keys_started"] = sum(res.keys.values())
    out["tiers"]["config"] = {"said": "; ".join(said)}


def _norm(k: str, v: str) -> str:
    v = normalize(str(v)).strip()
    if k == "bind":
        return " ".join(sorted(v.split()))
    return v.lower() if k in ("appendonly", "maxmemory-policy") else v


def _compare(out: dict[str, Any], info: dict[str, Any], live: dict[str, Any], ours: dict[str, Any],
             live_secrets: dict[str, str], host: dict[str, Any], self_replica: bool, acc: Access) -> None:
    """The running server against what the restart reads: drift, moves, auth, replicaof, would-fail addresses."""
    sim = out.get("sim_config") or {}
    diff: dict[str, dict[str, str]] = {}
    if live and sim:
        for k in COMPARED:
            if k in live and k in sim and _norm(k, live[k]) != _norm(k, sim[k]):
                diff[k] = {"running": str(live[k]), "file": str(sim[k])}
    if live:
        live_dir = str(live.get("dir") or "").removesuffix(" (deleted)")
        if live_dir and acc.realpath(live_dir) != acc.realpath(ours["dir"]):
            diff["dir"] = {"running": live_dir, "file": ours["dir"]}
    out["diff"] = diff
    # moves: where clients and replicas find it
    moves: dict[str, Any] = {}
    live_port = _int(info.get("tcp_port"), 0)
    if live_port != ours["port"]:
        moves["port"] = {"running": live_port, "file": ours["port"]}
    if live and str(live.get("unixsocket") or "") != ours["unixsocket"]:
        moves["unixsocket"] = {"running": live.get("unixsocket") or "", "file": ours["unixsocket"]}
    if live and sim and _norm("bind", live.get("bind", "")) != _norm("bind", sim.get("bind", "")):
        moves["bind"] = {"running": live.get("bind"), "file": sim.get("bind")}
    if not live:
        _moves_from_the_kernel(out, moves, host, sim, ours, acc)
    out["moves"] = moves
    bind = (sim.get("bind") if sim else "") or ours["bind"] or "* -::*"
    for port, now in ((ours["port"], live_port), (ours["tls_port"], _int(live.get("tls-port"), 0))):
        if port and not out.get("restart_fails"):
            reason = _cannot_listen(bind, port, now, host) if acc.local else \
                _cannot_listen_there(bind, port, now, host, acc)
            if reason:
                out["restart_fails"] = reason
    # auth: digests only, never values
    auth: dict[str, Any] = {}
    if sim and live:
        running = live_secrets.get("requirepass", "")
        file_pw = sim.get("requirepass", "")
        if digest(running) != digest(file_pw):
            auth["requirepass"] = "differs" if running and file_pw else ("removed" if running else "added")
    if out.get("auth_ok") is False:
        auth["credentials_of_this_check"] = "refused by the restarted server"
    out["auth_changes"] = auth
    out["replicaof"] = ours["replicaof"]
    if ours["replicaof"]:
        parts = ours["replicaof"].split()
        mhost, mport = parts[0], _int(parts[1] if len(parts) > 1 else 6379, 6379)
        if info.get("role") == "slave" and not self_replica and mport == _int(info.get("master_port"), -1) and (
                set(acc.resolve(mhost)) & set(acc.resolve(str(info.get("master_host") or "")))
                or mhost == info.get("master_host")):
            out["resyncs_from_current_master"] = True
        ips = acc.resolve(mhost)
        self_addr = mport == ours["port"] and any(accepts_on(ip, host) for ip in ips)
        out["file_replicaof"] = {"host": mhost, "port": mport, "addresses": ips, "self_by_address": self_addr}
    _role(out, info, ours, self_replica)


def _role(out: dict[str, Any], info: dict[str, Any], ours: dict[str, Any], self_replica: bool) -> None:
    """A role given at runtime (REPLICAOF, a Sentinel's reconfiguration not rewritten) is lost by a restart
    that reads a file which says otherwise. A cluster node's role comes from its nodes file instead."""
    if info.get("cluster_enabled") == 1 or ours["cluster"] or self_replica:
        return
    role = info.get("role")
    if role == "slave":
        now = f"a replica of {info.get('master_host')}:{info.get('master_port')}"
        if not ours["replicaof"]:
            out["role_changes"] = {"role_now": now, "after_restart": "a writable master: the file names no master"}
        elif not out.get("resyncs_from_current_master"):
            out["role_changes"] = {"role_now": now, "after_restart": f"a replica of {ours['replicaof']}"}
    elif role == "master" and ours["replicaof"]:
        out["role_changes"] = {"role_now": "a master", "after_restart": f"a replica of {ours['replicaof']}"}


def _moves_from_the_kernel(out: dict[str, Any], moves: dict[str, Any], host: dict[str, Any], sim: dict[str, Any],
                           ours: dict[str, Any], acc: Access) -> None:
    """The running config cannot be read: where the server listens now is asked of the kernel (its pid's
    listening sockets) and compared with where the restarted one would."""
    bind = (sim.get("bind") or ours["bind"] or "* -::*").split()
    wild = {"*", "-*", "::*", "-::*", "0.0.0.0", "::"}
    now = [ip for ip, _ in host.get("listening_pairs") or []]
    if not now:
        out["unproven"].append("where the server listens now: CONFIG GET is refused and its listening sockets could "
                               "not be read")
        return
    if not any(b in wild for b in bind):
        missing = sorted({ip for ip in now if ip not in {b.lstrip("-") for b in bind}})
        if missing:
            moves["bind"] = {"running": " ".join(sorted(set(now))), "file": " ".join(bind)}
    paths = _unix_listeners(host.get("pid"), acc)
    if paths is None:
        out["unproven"].append("the server's unix sockets (CONFIG GET is refused and they could not be read)")
        return
    want = resolve(ours["unixsocket"], ours["dir"]) if ours["unixsocket"] else ""
    if paths != ([want] if want else []):
        moves["unixsocket"] = {"running": " ".join(paths), "file": want}


_UNIX = 'for f in /proc/"$1"/fd/*; do readlink "$f"; done; echo --; cat /proc/net/unix'


def _unix_listeners(pid: Any, acc: Access) -> list[str] | None:
    """The paths of the unix sockets a process listens on, from the kernel: its fds' socket inodes
    against /proc/net/unix (flag __SO_ACCEPTCON). None when they could not be read."""
    if not isinstance(pid, int):
        return None
    try:
        r = acc.run(["sh", "-c", _UNIX, "sh", str(pid)], 5)
    except AccessError:
        return None
    fds, _, table = r.text.partition("\n--\n")
    inodes = {x[8:-1] for x in fds.split() if x.startswith("socket:[")}
    if not table.strip():
        return None
    out = []
    for line in table.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 8 and parts[6] in inodes and int(parts[3], 16) & 0x10000:
            out.append(parts[7])
    return sorted(set(out))


def _cannot_listen(bind: str, port: int, live_port: int, host: dict[str, Any]) -> str:
    """Ask the OS: can the restarted server listen where the file says? (A bind that is taken by another
    process, or an address this host does not have, stops redis-server at start.)"""
    addrs = bind.split()
    for a in addrs:
        optional = a.startswith("-")
        ip = a.lstrip("-")
        ip = {"*": "0.0.0.0", "::*": "::"}.get(ip, ip)
        fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((ip, 0))
            except OSError as e:
                if e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) and not optional:
                    return f"bind {ip}: this host has no such address ({e.strerror}): redis-server exits at start"
                continue
        if port == live_port:
            continue  # the stop frees it
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((ip, port))
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    return f"port {port} on {ip} is taken by another process: redis-server exits at start"
    return ""


def _cannot_listen_there(bind: str, port: int, live_port: int, host: dict[str, Any], acc: Access) -> str:
    """The same question for a host over ssh, asked of its kernel's tables as the host facts read them:
    the addresses of its interfaces and its listening sockets (nothing is bound there to find out)."""
    import ipaddress

    addrs = set(host.get("local_addresses") or [])
    listeners = [tuple(x) for x in host.get("host_listening") or []]
    for a in bind.split():
        optional = a.startswith("-")
        ip = {"*": "0.0.0.0", "::*": "::"}.get(a.lstrip("-"), a.lstrip("-"))
        try:
            wildcard_or_loopback = ip in ("0.0.0.0", "::") or ipaddress.ip_address(ip).is_loopback
        except ValueError:
            return f"bind {ip}: not an address redis-server can bind"
        if not wildcard_or_loopback and ip not in addrs and not optional:
            return f"bind {ip}: {acc.host} has no such address: redis-server exits at start"
        if port == live_port:
            continue  # the stop frees it
        taken = [f"{lip}:{lp}" for lip, lp in listeners if lp == port and (lip == ip or lip in ("0.0.0.0", "::")
                                                                          or ip in ("0.0.0.0", "::"))]
        if taken:
            return f"port {port} on {ip} is taken on {acc.host} ({taken[0]}): redis-server exits at start"
    return ""


def _outcomes(out: dict[str, Any], info: dict[str, Any], keys_live: int) -> None:
    """Keys after the restart, per shutdown mode, and the verdict for the mode the action uses."""
    stop = out["stop"]
    on_disk = out.get("keys_loaded", out.get("keys_on_disk"))
    if out["loads"] == "nothing":
        on_disk = 0
    outcomes = {}
    for m in SHUTDOWN_MODES:
        if stop["current"][m]:
            outcomes[m] = {"keys_after": keys_live, "from": "the stop's own save" if out["loads"] != "aof"
                           else "the AOF the running server writes"}
        else:
            outcomes[m] = {"keys_after": on_disk, "from": "what is on disk now"}
    out["outcomes"] = outcomes
    changes = _int(info.get("rdb_changes_since_last_save"), 0)
    if stop.get("unknown") and changes and out["loads"] != "aof":
        out["unproven"].append(f"what the stop writes: the running config cannot be read (CONFIG GET is refused or "
                               f"renamed), and {changes:,} changes since the last save are only in memory")
    mode = out["shutdown"]
    after = outcomes[mode]["keys_after"]
    out["keys_after"] = after
    if out.get("restart_fails"):
        return
    if out.get("resyncs_from_current_master"):
        # a replica that comes back as a replica of the same master gets its data from it again
        out["writable"] = False
        return
    if after is None:
        out["unproven"].append("how many keys the start would load (the data was not loaded and the checkers "
                               "could not count it)")
    elif after < keys_live:
        out["data_loss"] = {"keys_after": after, "keys_live": keys_live, "lost": keys_live - after,
                            "why": _loss_why(out, info), "shutdown": mode,
                            "safe_modes": [m for m in SHUTDOWN_MODES if (outcomes[m]["keys_after"] or 0) >= keys_live]}
    ka, ks = out.get("keys_after_write"), out.get("keys_started")
    if isinstance(ka, int) and isinstance(ks, int) and ka < ks:
        out["data_loss"] = {"keys_after": ka, "keys_live": keys_live, "lost": ks - ka, "shutdown": mode,
                            "why": "maxmemory in the file is below the dataset: the first write evicts keys"}
    sim = out.get("sim_config") or {}
    maxmemory = _int(sim.get("maxmemory"), 0)
    used = _int(info.get("used_memory"), 0)
    if maxmemory and "keys_loaded" not in out and used > maxmemory and keys_live:
        # the live dataset (not our copy) is what the start loads: its size decides
        policy = sim.get("maxmemory-policy", "noeviction")
        ev = {"maxmemory": maxmemory, "used_memory_now": used, "maxmemory-policy": policy}
        if policy == "noeviction":
            out["read_only"] = {**ev, "write_error": "OOM: the dataset it loads is over maxmemory (from the live "
                                                     "used_memory; the data was not loaded here)"}
        elif "data_loss" not in out:
            out["data_loss"] = {"keys_after": None, "keys_live": keys_live, "lost": None, "shutdown": mode,
                                "why": f"maxmemory in the file ({human_bytes(maxmemory)}) is below the dataset "
                                       f"({human_bytes(used)}): {policy} evicts keys from the first write"}
    write = str(out.get("write") or "")
    need = _int(sim.get("min-replicas-to-write"), 0)
    online = sum(1 for k, v in info.items() if k.startswith("slave") and k[5:].isdigit()
                 and isinstance(v, dict) and v.get("state") == "online")
    if "read_only" not in out and need > online:
        out["read_only"] = {"min-replicas-to-write": need, "replicas_online_now": online,
                            "write_error": write if write and write != "ok" else "NOREPLICAS (from the file's setting)"}
    elif write and write != "ok" and "data_loss" not in out and "read_only" not in out \
            and not write.startswith("NOREPLICAS"):
        out["read_only"] = {"write_error": write.split("\n")[0][:200]}
    out["writable"] = not out.get("read_only") and not out.get("replicaof")


def _loss_why(out: dict[str, Any], info: dict[str, Any]) -> str:
    stop, f = out["stop"], out["file"]
    if out["loads"] == "nothing" and f["appendonly"] == "yes":
        return (f"the file says appendonly yes and there is no AOF in {out.get('path')}: it starts empty"
                + (" (the RDB on disk is ignored)" if (out.get("rdb") or {}).get("exists") else ""))
    if f["appendonly"] == "yes":
        return "the AOF on disk is not the one the running server writes: it is stale"
    if "dir" in out.get("diff", {}):
        return f"the data dir moved: the stop saves in {stop['running_dir']}, the start reads {f['dir']}"
    if stop.get("running_dbfilename") and stop["running_dbfilename"] != f["dbfilename"]:
        return (f"dbfilename differs: the stop saves {stop['running_dbfilename']}, the start reads "
                f"{f['dbfilename']}")
    if not stop.get("save_points") and out["shutdown"] == "default":
        return ("no persistence on stop: save is empty, so SHUTDOWN writes nothing and the start reads "
                + ("nothing" if out["loads"] == "nothing" else "an older snapshot"))
    if out["shutdown"] == "nosave":
        return "SHUTDOWN NOSAVE writes nothing: the start reads an older snapshot"
    return "the file the start loads holds fewer keys than the running server"


def _prove_copy_changes(out: dict[str, Any], facts: dict[str, Any], fc: FileConfig, ours: dict[str, Any],
                        launch: Launch, acc: Access) -> None:
    """The real values of what the copy does not take as it is (proofs.COPY_CHANGES), proven another way:
    paths asked of the host as the restart's user, the databases in use against the file's count, the
    cluster nodes file read for the node it names as itself."""
    if out.get("restart_fails"):
        return
    info = facts.get("info") or {}
    said: dict[str, str] = {}
    items: list[tuple[str, str, str]] = []  # (directive, kind, path)
    if ours["unixsocket"]:
        sock = resolve(ours["unixsocket"], ours["dir"])
        items.append(("unixsocket", "dir", os.path.dirname(sock) or "/"))
    if ours["logfile"]:
        items.append(("logfile", "file", resolve(ours["logfile"], ours["dir"])))
        if not os.path.isabs(ours["logfile"]) and acc.realpath(launch.cwd) != acc.realpath(ours["dir"]):
            items.append(("logfile", "file", resolve(ours["logfile"], launch.cwd)))
    nodes = resolve(ours["cluster_config_file"], ours["dir"]) if ours["cluster"] else ""
    if nodes:
        items.append(("cluster-config-file", "rw", nodes))
    who = out.get("runs_as") or ("", "", "", launch.user)
    answers = check_paths([(k, p) for _, k, p in items], who, acc)
    user = who[3] or (f"uid {who[0]}" if who[0] else "the restart's user")
    for (directive, kind, path), answer in zip(items, answers):
        if answer == "ok":
            said[directive] = f"{path}: {'writable' if kind != 'dir' else 'a writable directory'} for {user}"
        elif directive == "cluster-config-file" and answer == "missing":
            said[directive] = f"{path}: missing (the node would start as a new node)"
            out["nodes_file"] = {"path": path, "state": "missing"}
        elif answer == "unknown":
            out["unproven"].append(f"whether {path} ({directive}) is writable by {user}: the host could not be "
                                   "asked as that user (runbook is not root there, or runuser/setpriv is missing)")
        else:
            what = {"missing": "does not exist", "notwritable": f"is not writable by {user}"}[answer]
            where = path if kind != "file" or answer != "missing" else os.path.dirname(path)
            out["restart_fails"] = (f"{directive} {ours.get(directive.replace('-', '_'), '') or path}: {where} {what}"
                                    ": redis-server exits at start")
            said[directive] = out["restart_fails"]
            break
    live = facts.get("config") or {}
    if nodes and live.get("cluster-config-file") and live.get("dir"):
        running = resolve(str(live["cluster-config-file"]), str(live["dir"]).removesuffix(" (deleted)"))
        acc.realpath_many([running, nodes])
        out["running_nodes_file"] = acc.realpath(running)
        nodes = acc.realpath(nodes)
    if nodes and "nodes_file" not in out and not out.get("restart_fails"):
        try:
            text = acc.read(nodes, 4 * 1024 * 1024).decode("utf-8", "replace")
            out["nodes_file"] = {"path": nodes, "state": "present", "myself": nodes_myself(text)}
        except AccessError as e:
            out["unproven"].append(f"the cluster nodes file {nodes} could not be read ({e})")
    # databases: the copy proves it when it loads the data; when it loads none, the live keyspace decides
    top = max_db(info)
    sim = out.get("sim_config") or {}
    databases = _int(sim.get("databases"), ours["databases"])
    if "keys_loaded" not in out and top >= databases and not out.get("restart_fails"):
        out["restart_fails"] = (f"the file sets databases {databases} but db{top} holds keys: redis-server refuses "
                                "to load the data (it exits at start)")
    said["databases"] = f"{databases} in the file; the highest database holding keys is db{top}" if top >= 0 else \
        f"{databases} in the file; no database holds keys"
    if ours["tls"]:
        said["tls-port"] = "the copy loaded the certificate and key itself" if (out.get("throwaway") or {}).get(
            "started") else "the copy did not start"
    out["copy_changes"] = said


def estimate_outage_s(info: dict[str, Any], out: dict[str, Any]) -> float:
    """How long the server is away during a restart, generously: the stop's save (as long as the last
    background save took, or the dataset at 300 MB/s), then the start and the load (the copy's own load
    time when it loaded, else the dataset at 200 MB/s)."""
    used = _int(info.get("used_memory"), 0)
    save = _int(info.get("rdb_last_bgsave_time_sec"), -1)
    save_s = float(save) if save >= 0 else used / (300 * 1024 * 1024)
    load = (out.get("throwaway") or {}).get("load_s") if "keys_loaded" in out else None
    load_s = float(load) if load else used / (200 * 1024 * 1024)
    return round(save_s + load_s + 0.5, 2)


def after_reads(out: dict[str, Any], reads: dict[str, Any], info: dict[str, Any]) -> None:
    """What the restart does to clients and peers, from the server's own answers (probe.read_restart_reads)
    beside the simulation's: commands clients call that would change name, maxclients below the clients
    connected, Sentinels that would fail over during the stop, a cluster node that would forget itself."""
    if not out.get("reached") or "file" not in out:
        return
    unproven: list[str] = out["unproven"]
    if reads.get("error"):
        unproven.append(f"the server's commands, Sentinels and cluster id could not be read ({reads['error']})")
        return
    breaks: dict[str, Any] = {}
    sim = out.get("sim_config") or {}
    maxclients = _int(sim.get("maxclients"), 0)
    connected = _int(info.get("connected_clients"), 0) - 1  # less this check's own connection
    if maxclients and connected > maxclients:
        breaks["maxclients"] = {"file": maxclients, "clients_connected_now": connected}
    called = reads.get("commands_called") or {}
    live, copy = reads.get("commands"), out.get("copy_commands")
    renames = (out.get("file") or {}).get("renames") or {}
    if called and live is None and out.get("files_unchanged_since_start") and not out.get("options"):
        # rename-command cannot change at runtime: with the files as they were at start (and no options
        # on the start's command line), the running server's names are the files' names
        live = {name: ("" if name in renames else name) for name in called}
        live.update({v.lower(): k for k, v in renames.items() if v})
    if called and live is None:
        unproven.append("which names the commands clients call answer to: "
                        f"{reads.get('commands_error') or 'COMMAND INFO was refused'} (allow +command|info), and "
                        "the config files changed since the server started")
    elif called and copy is None and (out.get("throwaway") or {}).get("started"):
        unproven.append("which names the commands clients call answer to after the restart (COMMAND INFO on the "
                        "copy failed)")
    elif called and copy is not None:
        changed = {}
        for name, calls in sorted(called.items()):
            after = ("" if "config" in renames else "config") if name == "config" else copy.get(name, "")
            now = live.get(name, "")
            if now == name and after != name:
                changed[name] = {"calls": calls, "after_restart": f"renamed to {renames[name]!r}"
                                 if renames.get(name) else "disabled by the file (rename-command to \"\")"}
            elif now != name:
                alias = renames.get(name, "")
                if not alias or live.get(alias.lower()) != name:
                    changed[name] = {"calls": calls, "now": "called by another name (rename-command)",
                                     "after_restart": f"renamed to {alias!r}" if alias else
                                     ("disabled" if name in renames else "its own name again")}
        if changed:
            breaks["commands"] = changed
    out["clients_break"] = breaks
    # Sentinels
    sen = reads.get("sentinels") or {}
    if sen.get("subscribed") is None:
        unproven.append("whether Sentinels watch this server: "
                        f"{sen.get('error') or 'PUBSUB NUMSUB was refused'} (allow +pubsub|numsub)")
    elif sen["subscribed"] and info.get("role") == "master":  # Sentinels fail over masters only
        found = [s for s in sen.get("found") or [] if s.get("down_after_ms")]
        est = estimate_outage_s(info, out)
        if not found:
            why = sen.get("error") or "; ".join(f"{s['addr']}: {s.get('error')}" for s in sen.get("found") or []) \
                or "no hello message came in time"
            unproven.append(f"{sen['subscribed']} Sentinel connection(s) watch this server, but their down-after "
                            f"could not be read ({why})")
        else:
            short = min(s["down_after_ms"] for s in found)
            out["sentinels"] = {"sentinels": [s["addr"] for s in found], "master_name": found[0]["master_name"],
                                "down_after_ms": short, "quorum": found[0].get("quorum"),
                                "restart_estimate_s": est}
            if short / 1000.0 < 2 * est + 1:
                out["sentinel_failover"] = out["sentinels"]
    # cluster membership and identity
    live_cluster = info.get("cluster_enabled") == 1
    file_cluster = bool((out.get("file") or {}).get("cluster"))
    if live_cluster != file_cluster:
        out["cluster_forgets"] = {"cluster_now": live_cluster, "cluster_after_restart": file_cluster,
                                  "why": "the file turns cluster mode " + ("off" if live_cluster else "on")}
    elif live_cluster:
        nf = out.get("nodes_file") or {}
        myid = reads.get("cluster_myid")
        if nf.get("state") == "missing":
            out["cluster_forgets"] = {"nodes_file": nf["path"], "node_id_now": myid,
                                      "why": "the nodes file is missing: it would start as a new node with no slots"}
        elif not myid and nf.get("path") and nf.get("path") == out.get("running_nodes_file"):
            pass  # the very file the running node keeps up to date: it starts as itself
        elif not myid:
            unproven.append(f"this node's cluster id ({reads.get('cluster_error') or 'CLUSTER MYID refused'}; "
                            "allow +cluster|myid), and the restart reads another nodes file than the running node")
        elif nf.get("state") == "present" and nf.get("myself") != myid:
            out["cluster_forgets"] = {"nodes_file": nf["path"], "node_id_now": myid,
                                      "node_id_in_file": nf.get("myself") or "(none)",
                                      "why": "the nodes file names another node as itself"}
