"""The restart guard against the truth: each case builds a real server, asks the guard, then really
stops and restarts that server the way the restart would, and compares.

A restart is dangerous when the server does not come back at its address, comes back with fewer keys,
as a replica, refusing writes, or refusing the credentials clients use. The guard must block exactly
those, and pass the others. The check itself must change no file of the server.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import psutil
import pytest
import redis as redis_py

from redis_server import RedisServer, free_port, no_retry
from runbook.redis import guards
from conftest import redis_look_findings as assess
from runbook.redis.probe import read_instance

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


@dataclass
class Case:
    server: RedisServer
    command: list[str] = field(default_factory=list)  # the declared restart command ([] = redis-server FILE)
    cwd: str = ""  # where the restart command runs ("" = the server's working directory)
    shutdown: str = "default"
    url: str = ""  # the URL clients use (default: the server's)
    admin_password: str | None = None
    started: list[subprocess.Popen] = field(default_factory=list)
    ssh: Any = None  # a real sshd on loopback: the same verdict is also asked over ssh


def fingerprint(root: Path, skip: tuple[str, ...] = ("redis.log",)) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name not in skip and not p.is_socket():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def verdict(case: Case, over_ssh: bool = False) -> tuple[bool, dict[str, Any], list[str]]:
    s = case.server
    ssh = dict(ssh=case.ssh.dest, ssh_options=case.ssh.options) if over_ssh else {}
    facts = asyncio.run(read_instance(case.url or s.url, 5.0, restart_command=tuple(case.command),
                                      restart_cwd=case.cwd, shutdown=case.shutdown, **ssh))
    passed, ev, reason = guards.restart_is_safe(facts, {"shutdown": case.shutdown})
    found = [f.id for f in assess(facts) if f.severity == "critical"]
    return passed, facts, found


def _listening_ports(pid: int) -> set[int]:
    try:
        return {c.laddr.port for c in psutil.Process(pid).net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    except psutil.Error:
        return set()


def truth(case: Case) -> tuple[bool, str]:
    """Stop and start the server for real. Safe: back at its address, as a writable master, with every
    key, accepting the clients' credentials."""
    s = case.server
    admin = redis_py.Redis(host="127.0.0.1", port=s.port, password=case.admin_password or s.password,
                           socket_timeout=5, decode_responses=True, retry=no_retry())
    info = admin.info()
    keys = sum(v["keys"] for k, v in info.items() if k.startswith("db") and isinstance(v, dict))
    run_id, pid = info["run_id"], info["process_id"]
    cwd = case.cwd or psutil.Process(pid).cwd()
    try:
        admin.execute_command("SHUTDOWN", *{"default": [], "save": ["SAVE"], "nosave": ["NOSAVE"]}[case.shutdown])
    except redis_py.exceptions.ConnectionError:
        pass
    except redis_py.exceptions.ResponseError as e:
        return False, f"the stop failed: {e}"
    s.proc.wait(15)
    argv = case.command or ["redis-server", str(s.conf)]
    proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    case.started.append(proc)
    client = redis_py.Redis.from_url(case.url or s.url, socket_timeout=2, decode_responses=True, retry=no_retry())
    deadline = time.monotonic() + 15
    while True:
        if proc.poll() is not None:
            return False, f"did not come up (exit {proc.returncode})"
        try:
            client.ping()  # with the clients' credentials
            i = admin.info()
            if i["run_id"] != run_id and not i.get("loading"):
                break
        except redis_py.exceptions.AuthenticationError:
            return False, "refuses the clients' credentials"
        except redis_py.exceptions.ResponseError as e:
            if "NOAUTH" in str(e) or "WRONGPASS" in str(e) or "AUTH" in str(e):
                return False, "refuses the clients' credentials"
        except (redis_py.exceptions.ConnectionError, redis_py.exceptions.TimeoutError):
            ports = _listening_ports(proc.pid)
            if ports and s.port not in ports:  # up, and listening elsewhere: no need to wait out the deadline
                return False, f"nothing answers at its address: it listens on {sorted(ports)}"
        if time.monotonic() > deadline:
            return False, "nothing answers at its address"
        time.sleep(0.05)
    time.sleep(0.3)  # a replicaof line acts within a second
    client = admin
    i = client.info()
    after = sum(v["keys"] for k, v in i.items() if k.startswith("db") and isinstance(v, dict))
    if i["role"] != "master":
        return False, f"came back as a {i['role']}"
    try:
        client.set("truth:write", "1")
        client.delete("truth:write")
    except redis_py.exceptions.ResponseError as e:
        return False, f"refuses writes: {e}"
    after = min(after, sum(v["keys"] for k, v in client.info("keyspace").items()))
    if after < keys:
        return False, f"came back with {after} of {keys} keys"
    return True, "same address, master, writable, every key"


@pytest.fixture(scope="module")
def sshd_on_loopback(tmp_path_factory):
    """One real sshd for the module (root only): each case's verdict is also asked through it, where the
    simulation runs through the ssh access (its throwaway started by the remote shell, read through a
    forwarded socket). Same files, same truth: the verdicts must agree."""
    import sshd

    if not sshd.available():
        yield None
        return
    server = sshd.Sshd(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture
def make(tmp_path, sshd_on_loopback):
    cases: list[Case] = []

    def _make(conf: str = "", keys: int = 1000, name: str = "r", **kw: Any) -> Case:
        s = RedisServer(tmp_path, name, conf=conf, password=kw.pop("password", None))
        case = Case(server=s, ssh=sshd_on_loopback, **kw)
        cases.append(case)
        return case

    yield _make
    for c in cases:
        c.server.stop()
        for p in c.started:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)


def judge(case: Case, *, dangerous: bool, expect: str | None = None) -> None:
    """The guard's verdict equals what the real restart did; the check changed no file."""
    before = fingerprint(case.server.base)
    passed, facts, found = verdict(case)
    assert fingerprint(case.server.base) == before, "the check changed a file of the server"
    if case.ssh is not None:
        passed_ssh, facts_ssh, found_ssh = verdict(case, over_ssh=True)
        assert fingerprint(case.server.base) == before, "the check over ssh changed a file of the server"
        assert facts_ssh["restart_preview"]["read_over"].startswith("ssh "), facts_ssh["restart_preview"]
        assert (passed_ssh, set(found_ssh)) == (passed, set(found)), \
            f"over ssh: passed={passed_ssh} {found_ssh} {facts_ssh['restart_preview'].get('unproven')}; " \
            f"here: passed={passed} {found}"
    safe, what = truth(case)
    assert safe is not dangerous, f"the real restart: {what}"
    assert passed is safe, f"guard passed={passed}, the real restart: {what}; critical findings: {found}; " \
                           f"unproven: {(facts.get('restart_preview') or {}).get('unproven')}"
    if expect:
        assert expect in found, found


def fill(case: Case, n: int = 1000, prefix: str = "k") -> None:
    case.server.fill(n, prefix)


def running(make: Callable[..., Case], **kw: Any) -> Case:
    """A started server with save points (a stop writes what the start reads) holding 1,000 keys."""
    c = make(conf="save 3600 1\n", **kw)
    c.server.start()
    fill(c)
    return c


def append(c: Case, text: str) -> None:
    """Lines added to the end of the file a restart reads (the running server does not see them)."""
    c.server.conf.write_text(c.server.conf.read_text() + text)


# ------------------------------------------------------------------ dangerous restarts
def test_no_persistence_loses_everything(make) -> None:
    c = make()  # save "" and appendonly no
    c.server.start()
    fill(c)
    judge(c, dangerous=True, expect="redis.restart.data_loss")


def test_include_by_glob_brings_appendonly_yes(make) -> None:
    c = make(conf='save 3600 1\n')
    (c.server.base / "conf.d").mkdir()
    c.server.start()
    fill(c)
    c.server.client().save()
    append(c, f"include {c.server.base}/conf.d/*.conf\n")
    (c.server.base / "conf.d" / "50-aof.conf").write_text("appendonly yes\n")
    judge(c, dangerous=True, expect="redis.restart.data_loss")


def test_relative_include_after_dir_brings_appendonly_yes(make) -> None:
    c = running(make)
    # resolved from the data dir, because dir comes first in the file
    (c.server.base / "late.conf").write_text("appendonly yes\n")
    append(c, "include late.conf\n")
    judge(c, dangerous=True, expect="redis.restart.aof_missing")


def test_env_wrapper_overrides_dir(make, tmp_path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    c = running(make)
    c.command = ["env", "TZ=UTC", "redis-server", str(c.server.conf), "--dir", str(other)]
    judge(c, dangerous=True, expect="redis.restart.data_loss")


@pytest.mark.parametrize("rel, expect", [("../sub", "redis.restart.data_loss"),
                                         # relative to the file's dir, where the file's own dir line moved it
                                         ("sub", "redis.restart.would_fail")])
def test_sh_c_wrapper_changes_directory_and_dir(make, tmp_path, rel, expect) -> None:
    (tmp_path / "sub").mkdir()
    c = running(make)
    c.command = ["sh", "-c", f"cd {tmp_path} && exec redis-server {c.server.conf} --dir {rel}"]
    judge(c, dangerous=True, expect=expect)


def test_aof_no_longer_written_after_config_set(make) -> None:
    c = make(conf="")
    c.server.conf.write_text(c.server.conf.read_text().replace("appendonly no", "appendonly yes"))
    c.server.start()
    fill(c, 100, "early")
    c.server.client().config_set("appendonly", "no")
    fill(c, 900, "late")
    judge(c, dangerous=True, expect="redis.restart.data_loss")


def test_dbfilename_names_an_older_snapshot(make) -> None:
    c = make(conf="save 3600 1\n")
    c.server.start()
    fill(c, 100)
    c.server.client().save()
    os.rename(c.server.base / "dump.rdb", c.server.base / "old.rdb")
    fill(c, 900, "more")
    append(c, "dbfilename old.rdb\n")
    judge(c, dangerous=True, expect="redis.restart.data_loss")


def test_damaged_rdb(make) -> None:
    c = make()
    c.server.start()
    fill(c)
    c.server.client().save()
    rdb = c.server.base / "dump.rdb"
    data = bytearray(rdb.read_bytes())
    data[len(data) // 2] ^= 0xFF
    rdb.write_bytes(bytes(data))
    judge(c, dangerous=True, expect="redis.restart.would_fail")


def test_rdb_of_a_newer_format_version(make) -> None:
    c = make()
    c.server.start()
    fill(c)
    c.server.client().save()
    rdb = c.server.base / "dump.rdb"
    rdb.write_bytes(b"REDIS0099" + rdb.read_bytes()[9:])
    judge(c, dangerous=True, expect="redis.restart.would_fail")


def test_include_that_no_longer_exists(make) -> None:
    c = running(make)
    append(c, f"include {c.server.base}/gone.conf\n")
    judge(c, dangerous=True, expect="redis.restart.would_fail")


def test_port_in_the_file_is_taken(make) -> None:
    c = running(make)
    squatter = socket_listening()
    try:
        c.server.conf.write_text(c.server.conf.read_text().replace(f"port {c.server.port}",
                                                                    f"port {squatter.getsockname()[1]}"))
        judge(c, dangerous=True, expect="redis.restart.would_fail")
    finally:
        squatter.close()


def socket_listening() -> Any:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def test_bind_address_not_on_this_host(make) -> None:
    c = running(make)
    append(c, "bind 127.0.0.1 192.0.2.77\n")
    judge(c, dangerous=True, expect="redis.restart.would_fail")


def test_port_changed_in_the_file(make) -> None:
    c = running(make)
    append(c, f"port {free_port()}\n")
    judge(c, dangerous=True, expect="redis.restart.moves")


@pytest.mark.parametrize("policy, expect", [("noeviction", "redis.restart.read_only"),
                                            ("allkeys-lru", "redis.restart.data_loss")])
def test_maxmemory_in_the_file_below_the_dataset(make, policy, expect) -> None:
    c = make(conf="save 3600 1\n")
    c.server.start()
    c.server.fill(20000)
    append(c, f"maxmemory 1mb\nmaxmemory-policy {policy}\n")
    judge(c, dangerous=True, expect=expect)


def test_requirepass_in_the_file_differs(make) -> None:
    c = make(conf="save 3600 1\n", password="running-secret")
    c.server.start()
    fill(c)
    c.server.conf.write_text(c.server.conf.read_text().replace("requirepass running-secret",
                                                               "requirepass file-secret"))
    c.admin_password = "running-secret"
    judge(c, dangerous=True, expect="redis.restart.auth_changes")


def test_replicaof_another_server_that_holds_nothing(make) -> None:
    peer = make(name="peer")
    peer.server.start()
    c = running(make)
    append(c, f"replicaof 127.0.0.1 {peer.server.port}\n")
    judge(c, dangerous=True, expect="redis.restart.becomes_replica")


def test_loadmodule_of_a_missing_module(make) -> None:
    c = running(make)
    append(c, f"loadmodule {c.server.base}/nothing-here.so\n")
    judge(c, dangerous=True, expect="redis.restart.would_fail")


def test_fewer_databases_in_the_file_than_in_use(make) -> None:
    c = make(conf="")
    c.server.start()
    fill(c)
    r = c.server.client()
    r.execute_command("SELECT", 9)
    r.set("in-db9", 1)
    r.execute_command("SELECT", 0)
    r.save()
    append(c, "databases 4\n")
    judge(c, dangerous=True, expect="redis.restart.would_fail")


def test_min_replicas_to_write_with_no_replica(make) -> None:
    c = running(make)
    append(c, "min-replicas-to-write 1\n")
    judge(c, dangerous=True, expect="redis.restart.read_only")


def test_shutdown_nosave_leaves_an_older_snapshot(make) -> None:
    c = make(conf="save 3600 1\n", shutdown="nosave")
    c.server.start()
    fill(c, 100)
    c.server.client().save()
    fill(c, 900, "more")
    judge(c, dangerous=True, expect="redis.restart.data_loss")


# ------------------------------------------------------------------ safe restarts
def test_healthy_server_with_save_points(make) -> None:
    c = running(make)
    judge(c, dangerous=False)


def test_healthy_server_with_functions_in_its_rdb(make) -> None:
    c = running(make)
    c.server.client().execute_command(
        "FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('one', function() return 1 end)")
    c.server.client().save()
    judge(c, dangerous=False)


def test_functions_only_rdb_with_no_save_points_and_no_keys(make) -> None:
    c = make()
    c.server.start()
    c.server.client().execute_command(
        "FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('one', function() return 1 end)")
    c.server.client().save()
    judge(c, dangerous=False)


def test_relative_dir(make) -> None:
    c = make(conf="save 3600 1\n")
    (c.server.base / "data").mkdir()
    c.server.conf.write_text(c.server.conf.read_text().replace(f"dir {c.server.base}", "dir data"))
    c.server.start()  # launched from its base: dir resolves to base/data
    fill(c)
    c.cwd = str(c.server.base)
    judge(c, dangerous=False)


def test_relative_dir_with_no_declared_command(make) -> None:
    """Launched from its base with `dir data`: its working directory is base/data, and a restart by hand
    from where it was launched reads the same file the same way."""
    c = make(conf="save 3600 1\n")
    (c.server.base / "data").mkdir()
    c.server.conf.write_text(c.server.conf.read_text().replace(f"dir {c.server.base}", "dir data"))
    c.server.start()
    fill(c)
    passed, facts, _ = verdict(c)
    assert facts["restart_preview"]["cwd"] == str(c.server.base)
    c.cwd = str(c.server.base)  # the real restart runs from where the server was launched
    safe, what = truth(c)
    assert safe and passed is safe, what


def test_password(make) -> None:
    c = make(conf="save 3600 1\n", password="s3cret-pass")
    c.server.start()
    fill(c)
    judge(c, dangerous=False)


def test_read_only_acl_user(make) -> None:
    from runbook.redis.command import probe_acl

    rules = probe_acl("probe", "probe-pw").removeprefix("probe ")
    c = make(conf=f"save 3600 1\nuser probe {rules}\n")
    c.server.start()
    fill(c)
    c.url = f"redis://probe:probe-pw@127.0.0.1:{c.server.port}"
    judge(c, dangerous=False)


def test_healthy_aof_server(make) -> None:
    c = make(conf="")
    c.server.conf.write_text(c.server.conf.read_text().replace("appendonly no", "appendonly yes"))
    c.server.start()
    fill(c)
    time.sleep(1.2)  # appendfsync everysec: let the server's own write land before the files are compared
    judge(c, dangerous=False)


def test_wrapped_command_that_changes_nothing(make) -> None:
    c = running(make)
    c.command = ["nice", "-n", "5", "env", "LANG=C", "taskset", "-c", "0", "redis-server", str(c.server.conf)]
    judge(c, dangerous=False)


def test_no_save_points_but_shutdown_save(make) -> None:
    c = make(shutdown="save")
    c.server.start()
    fill(c)
    judge(c, dangerous=False)


def test_glob_include_of_harmless_settings(make) -> None:
    c = make(conf="save 3600 1\n")
    (c.server.base / "conf.d").mkdir()
    (c.server.base / "conf.d" / "a.conf").write_text("hz 20\n")
    (c.server.base / "conf.d" / "b.conf").write_text("maxmemory 512mb\n")
    append(c, f"include {c.server.base}/conf.d/*.conf\n")
    c.server.start()
    fill(c)
    judge(c, dangerous=False)


# ------------------------------------------------------------------ what it cannot prove blocks
def test_a_command_it_cannot_interpret_blocks(make) -> None:
    c = running(make)
    c.command = ["sh", "-c", "redis-server $CONF", "x"]
    passed, facts, found = verdict(c)
    assert not passed and "redis.restart.unproven" in found


def test_an_existing_module_is_not_loaded_without_consent(make, tmp_path) -> None:
    mod = tmp_path / "fake-module.so"
    mod.write_bytes(b"not really a module")
    c = running(make)
    append(c, f"loadmodule {mod}\n")
    passed, facts, found = verdict(c)
    assert not passed and "redis.restart.unproven" in found
    assert "--allow-modules" in " ".join(facts["restart_preview"]["unproven"])


def test_secrets_of_the_file_never_show(make) -> None:
    c = make(conf="save 3600 1\nuser alice on >alice-secret-pw ~* +@all\n", password="s3cret-pass")
    c.server.start()
    fill(c, 10)
    c.server.conf.write_text(c.server.conf.read_text().replace("requirepass s3cret-pass",
                                                               "requirepass other-secret\nbogus-directive x"))
    _, facts, _ = verdict(c)
    import json

    blob = json.dumps(facts, default=str) + json.dumps([f.to_dict() for f in assess(facts)], default=str)
    for secret in ("s3cret-pass", "other-secret", "alice-secret-pw"):
        assert secret not in blob
    assert "redis.restart.would_fail" in [f.id for f in assess(facts)]


def test_the_verdict_is_stable_under_a_writer(make) -> None:
    """A confirmation (or a break-glass) is bound to the guard's evidence: live counters must not be part of
    it, or a writer would void it on every read."""
    import threading

    c = make()
    c.server.start()
    fill(c)
    stop = threading.Event()

    def writer() -> None:
        r = c.server.client()
        i = 0
        while not stop.is_set():
            r.set(f"w{i}", i)
            i += 1

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        verdicts = []
        for _ in range(2):
            facts = asyncio.run(read_instance(c.server.url, 5.0))
            verdicts.append(guards.restart_is_safe(facts, {}))
            time.sleep(0.2)
    finally:
        stop.set()
        t.join(5)
    assert verdicts[0][0] is False and verdicts[0] == verdicts[1]

