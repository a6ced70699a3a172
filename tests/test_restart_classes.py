"""The restart guard against the truth, by class (issue 19): what the copy changes proven another way,
"safe" meaning the server comes back the same as clients and peers see it, safe restarts never blocked
for the simulation's own reasons. Each case really restarts the server (or, where only the real topology
shows it, lets the real Sentinels act) and compares with the guard.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from typing import Callable
from pathlib import Path

import pytest
import redis as redis_py

from redis_server import RedisServer, free_port
from runbook.redis import guards
from conftest import redis_look_findings as assess
from runbook.redis.command import probe_acl
from runbook.redis.probe import read_instance
from test_restart_truth import Case, append, fill, judge, make, running, sshd_on_loopback, verdict  # noqa: F401

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def wait_for(cond, what: str, timeout: float = 20.0, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def restart_same_way(case: Case, while_down: Callable[[], None] | None = None) -> subprocess.Popen:
    """SHUTDOWN, wait for the pid, start the way the restart would; the new process (not yet ready).
    while_down: what happens between the stop and the start (a restart of a big dataset takes seconds)."""
    s = case.server
    c = s.client()
    try:
        c.execute_command("SHUTDOWN")
    except redis_py.exceptions.ConnectionError:
        pass
    s.proc.wait(15)
    if while_down:
        while_down()
    proc = subprocess.Popen(case.command or ["redis-server", str(s.conf)], cwd=case.cwd or str(s.base),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    case.started.append(proc)
    return proc


def up(case: Case, proc: subprocess.Popen) -> redis_py.Redis:
    c = case.server.client()

    def ready():
        assert proc.poll() is None, f"it did not come up (exit {proc.returncode})"
        try:
            return not c.info("persistence").get("loading")
        except (redis_py.exceptions.ConnectionError, redis_py.exceptions.BusyLoadingError):
            return False
    wait_for(ready, "the restarted server to answer")
    return c


# ------------------------------------------------------------------ 1. what the copy changes, proven another way
@pytest.mark.parametrize("remove", [True, False])
def test_log_file_and_its_directory(make, remove) -> None:
    c = make(conf="save 3600 1\n")
    logs = c.server.base / "logs"
    logs.mkdir()
    c.server.conf.write_text(c.server.conf.read_text().replace(f"logfile {c.server.log}", f"logfile {logs}/r.log"))
    c.server.start()
    fill(c)
    if remove:
        shutil.rmtree(logs)
        judge(c, dangerous=True, expect="redis.restart.would_fail")
    else:
        judge(c, dangerous=False)


@pytest.mark.parametrize("remove", [True, False])
def test_unix_socket_and_its_directory(make, remove) -> None:
    c = make(conf="save 3600 1\n")
    run = c.server.base / "run"
    run.mkdir()
    append(c, f"unixsocket {run}/redis.sock\nunixsocketperm 700\n")
    c.server.start()
    fill(c)
    if remove:
        shutil.rmtree(run)
        judge(c, dangerous=True, expect="redis.restart.would_fail")
    else:
        judge(c, dangerous=False)


def _certs(d: Path) -> None:
    d.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")], check=True, capture_output=True)


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
@pytest.mark.parametrize("remove", [True, False])
def test_tls_certificate_files(make, remove) -> None:
    c = make(conf="save 3600 1\n")
    tls = c.server.base / "tls"
    _certs(tls)
    append(c, f"tls-port {free_port()}\ntls-cert-file {tls}/cert.pem\ntls-key-file {tls}/key.pem\n"
              f"tls-ca-cert-file {tls}/cert.pem\ntls-auth-clients no\n")
    c.server.start()
    fill(c)
    if remove:
        shutil.rmtree(tls)
        judge(c, dangerous=True, expect="redis.restart.would_fail")
    else:
        judge(c, dangerous=False)


def test_fewer_databases_in_the_file_with_save_points(make) -> None:
    """The stop writes what the start loads, so the copy loads nothing: the databases in use are proven
    against the file's count from the live keyspace."""
    c = running(make)
    r = c.server.client()
    r.execute_command("SELECT", 9)
    r.set("in-db9", 1)
    append(c, "databases 4\n")
    judge(c, dangerous=True, expect="redis.restart.would_fail")


# ------------------------------------------------------------------ 2. it comes back the same, as clients and peers see it
def test_replica_made_at_runtime_comes_back_a_master(make) -> None:
    m = running(make, name="m")
    c = running(make, name="rep")
    c.server.client().execute_command("REPLICAOF", "127.0.0.1", m.server.port)
    wait_for(lambda: c.server.client().info("replication")["master_link_status"] == "up", "the replica's link")
    passed, facts, found = verdict(c)
    assert not passed and "redis.restart.role_changes" in found, found
    proc = restart_same_way(c)
    after = up(c, proc)
    time.sleep(0.5)
    assert after.info("replication")["role"] == "master"  # the truth: two masters


def test_replica_whose_file_names_the_same_master(make) -> None:
    m = running(make, name="m")
    c = make(conf=f"save 3600 1\nreplicaof 127.0.0.1 {m.server.port}\n", name="rep")
    c.server.start()
    wait_for(lambda: c.server.client().info("replication")["master_link_status"] == "up", "the replica's link")
    passed, facts, found = verdict(c)
    assert "redis.restart.role_changes" not in found, found
    proc = restart_same_way(c)
    after = up(c, proc)
    wait_for(lambda: after.info("replication")["master_link_status"] == "up", "the link after the restart")
    assert passed, (found, facts["restart_preview"].get("unproven"))


def test_master_whose_file_makes_it_a_replica(make) -> None:
    peer = running(make, name="peer")
    c = running(make)
    append(c, f"replicaof 127.0.0.1 {peer.server.port}\n")
    passed, facts, found = verdict(c)
    assert not passed and {"redis.restart.role_changes", "redis.restart.becomes_replica"} <= set(found), found


def test_renamed_command_that_clients_call(make) -> None:
    c = running(make)  # fill() called SET
    append(c, 'rename-command SET ""\n')
    judge(c, dangerous=True, expect="redis.restart.clients_break")


def test_renamed_command_nobody_calls(make) -> None:
    c = running(make)
    append(c, 'rename-command FLUSHALL ""\nrename-command DEBUG ""\n')
    judge(c, dangerous=False)


def test_maxclients_below_the_clients_connected(make) -> None:
    c = running(make)
    held = [c.server.client() for _ in range(30)]
    for h in held:
        h.ping()
    append(c, "maxclients 10\n")
    passed, facts, found = verdict(c)
    assert not passed and "redis.restart.clients_break" in found, found
    proc = restart_same_way(c)
    up(c, proc)
    refused = 0
    # no retries: redis-py's default retry backs off on each refused connection (80 s for twenty of them)
    again = [c.server.client(retry=None, retry_on_error=[]) for _ in range(30)]
    for h in again:
        try:
            h.ping()
        except redis_py.exceptions.ConnectionError:
            refused += 1
    assert refused > 0  # the truth: clients are turned away


def _sentinel(base: Path, name: str, master_port: int, down_after: int) -> RedisServer:
    s = RedisServer(base, name)
    s.conf = s.base / "sentinel.conf"
    s.conf.write_text(f"port {s.port}\nbind 127.0.0.1\ndir {s.base}\nlogfile {s.base}/sentinel.log\n"
                      f"sentinel monitor main 127.0.0.1 {master_port} 1\n"
                      f"sentinel down-after-milliseconds main {down_after}\nsentinel failover-timeout main 2000\n")
    s.extra_args = ["--sentinel"]
    return s.start()


@pytest.mark.skipif(not shutil.which("redis-sentinel"), reason="redis-sentinel is not installed")
def test_a_master_sentinels_would_fail_over(make, tmp_path) -> None:
    c = make(conf="save 3600 1\n", name="m")
    c.server.start()
    c.server.fill(200_000)  # a stop and a start take longer than down-after
    r = make(conf=f"replicaof 127.0.0.1 {c.server.port}\n", name="rep")
    r.server.start()
    wait_for(lambda: r.server.client().info("replication")["master_link_status"] == "up", "the replica's link")
    s = _sentinel(tmp_path, "s1", c.server.port, 100)
    try:
        wait_for(lambda: c.server.client().execute_command("PUBSUB", "NUMSUB", "__sentinel__:hello")[1] >= 1,
                 "the Sentinel to subscribe to the master")
        passed, facts, found = verdict(c)
        assert not passed and "redis.restart.sentinel_failover" in found, found
        ev = next(f for f in assess(facts) if f.id == "redis.restart.sentinel_failover").evidence
        assert ev["down_after_ms"] == 100 and "SENTINEL FAILOVER" in str(ev) + str(
            next(f for f in assess(facts) if f.id == "redis.restart.sentinel_failover").action)
        # the stop and the start of a big dataset take seconds: the Sentinel fails over meanwhile (this
        # restart of 200,000 keys takes a fraction of one, so the test waits for the failover in between)
        sc = s.client()

        def failed_over() -> bool:
            m = sc.execute_command("SENTINEL", "MASTER", "main")
            m = dict(zip(m[::2], m[1::2])) if isinstance(m, list) else m
            return int(m["port"]) == r.server.port and m["flags"] == "master"

        proc = restart_same_way(c, lambda: wait_for(failed_over, "the Sentinel to promote the replica", timeout=30))
        after = up(c, proc)
        # the truth, from the real Sentinel: the old master comes back as a replica
        def demoted() -> bool:
            try:
                return after.info("replication")["role"] == "slave"
            except redis_py.exceptions.ConnectionError:  # the Sentinel drops the clients as it reconfigures it
                return False

        wait_for(demoted, "the Sentinel to demote the old master",
                 timeout=30)
    finally:
        s.stop()


@pytest.mark.skipif(not shutil.which("redis-sentinel"), reason="redis-sentinel is not installed")
def test_sentinels_with_a_long_down_after_do_not_block(make, tmp_path) -> None:
    c = running(make, name="m")
    s = _sentinel(tmp_path, "s1", c.server.port, 60000)
    try:
        wait_for(lambda: c.server.client().execute_command("PUBSUB", "NUMSUB", "__sentinel__:hello")[1] >= 1,
                 "the Sentinel to subscribe to the master")
        judge(c, dangerous=False)
    finally:
        s.stop()


def _cluster_node(make, extra: str = "", old_files: bool = False) -> Case:
    conf = f"save 3600 1\ncluster-enabled yes\ncluster-config-file nodes.conf\n{extra}"
    c = make(conf=conf)
    while c.server.port > 55535:  # its cluster bus listens 10,000 ports higher
        c.server.port = free_port()
        c.server.write_conf(conf)
    if old_files:
        os.utime(c.server.conf, (time.time() - 60, time.time() - 60))
    c.server.start()
    r = c.server.client()
    r.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
    wait_for(lambda: r.execute_command("CLUSTER", "INFO").find("cluster_state:ok") >= 0, "the cluster to be ok")
    pipe = r.pipeline(transaction=False)
    for i in range(500):
        pipe.set(f"k{i}", i)
    pipe.execute()
    return c


def test_a_cluster_node(make) -> None:
    c = _cluster_node(make)
    myid = c.server.client().execute_command("CLUSTER", "MYID")
    passed, facts, found = verdict(c)
    assert passed, (found, facts["restart_preview"].get("unproven"))
    if c.ssh is not None:
        assert verdict(c, over_ssh=True)[0]
    proc = restart_same_way(c)
    after = up(c, proc)
    wait_for(lambda: "cluster_state:ok" in after.execute_command("CLUSTER", "INFO"), "the cluster to be ok again")
    assert after.execute_command("CLUSTER", "MYID") == myid and after.dbsize() == 500


def test_a_cluster_node_whose_file_points_at_another_nodes_file(make) -> None:
    c = _cluster_node(make)
    myid = c.server.client().execute_command("CLUSTER", "MYID")
    append(c, "cluster-config-file other-nodes.conf\n")
    passed, facts, found = verdict(c)
    assert not passed and "redis.restart.cluster_forgets" in found, found
    proc = restart_same_way(c)
    after = up(c, proc)
    # the truth: a new node, which claims only the slots of the keys it loaded, and no cluster
    assert after.execute_command("CLUSTER", "MYID") != myid
    assert "cluster_slots_assigned:16384" not in after.execute_command("CLUSTER", "INFO")


# ------------------------------------------------------------------ 3. never blocked for the simulation's own reasons
def test_aof_with_timestamps(make) -> None:
    c = make(conf="aof-timestamp-enabled yes\n")
    c.server.conf.write_text(c.server.conf.read_text().replace("appendonly no", "appendonly yes"))
    c.server.start()
    fill(c)
    time.sleep(1.2)
    judge(c, dangerous=False)


def test_aof_manifest_whose_history_files_were_removed(make) -> None:
    c = make(conf="")
    c.server.conf.write_text(c.server.conf.read_text().replace("appendonly no", "appendonly yes"))
    c.server.start()
    fill(c)
    r = c.server.client()
    r.bgrewriteaof()
    wait_for(lambda: not r.info("persistence")["aof_rewrite_in_progress"], "the AOF rewrite")
    time.sleep(1.2)
    manifest = c.server.base / "appendonlydir" / "appendonly.aof.manifest"
    assert "seq 2 type b" in manifest.read_text()
    # what a rewrite leaves until its cleanup runs: the previous base named as history, its file gone
    manifest.write_text("file appendonly.aof.1.base.rdb seq 1 type h\n" + manifest.read_text())
    judge(c, dangerous=False)


def test_fresh_rdb_with_config_renamed_away(make) -> None:
    c = make(conf='save 3600 1\nrename-command CONFIG ""\n')
    c.server.start()
    fill(c)
    c.server.client().save()
    judge(c, dangerous=False)


def test_fresh_rdb_with_config_renamed_away_then_written(make) -> None:
    c = make(conf='rename-command CONFIG ""\n')  # no save points
    c.server.start()
    fill(c)
    c.server.client().save()
    fill(c, 10, "after")
    judge(c, dangerous=True)


PROBE = probe_acl("probe", "probe-pw").removeprefix("probe ")


def test_read_only_user_from_an_aclfile(make) -> None:
    c = make(conf="save 3600 1\n")
    (c.server.base / "users.acl").write_text(f"user default on nopass ~* &* +@all\nuser probe {PROBE}\n")
    append(c, f"aclfile {c.server.base}/users.acl\n")
    c.server.start()
    fill(c)
    c.url = f"redis://probe:probe-pw@127.0.0.1:{c.server.port}"
    judge(c, dangerous=False)


def test_read_only_user_beside_a_requirepass(make) -> None:
    c = make(conf=f"save 3600 1\nuser probe {PROBE}\n", password="admin-secret")
    c.server.start()
    fill(c)
    c.url = f"redis://probe:probe-pw@127.0.0.1:{c.server.port}"
    c.admin_password = "admin-secret"
    judge(c, dangerous=False)


# ------------------------------------------------------------------ 4. a cache is not an incident
def _cache(make, policy: str = "allkeys-lru", **kw) -> Case:
    c = make(conf=f"maxmemory 64mb\nmaxmemory-policy {policy}\n", **kw)  # save "" and appendonly no
    c.server.start()
    fill(c, 3000)
    return c


def test_a_cache_is_information_in_a_check_and_acknowledged_before_a_restart(make) -> None:
    from conftest import runbook

    c = _cache(make)
    r = runbook("redis", "check", c.server.url)
    assert r.returncode in (0, 1) and "CRITICAL" not in r.stdout, r.stdout  # (1: this host's own warnings)
    assert "INFO     redis.restart.empties_cache: A restart empties this cache: 3,000 keys" in r.stdout
    assert "redis.restart.data_loss:" not in r.stdout
    passed, ev, reason = guards.restart_is_safe(asyncio.run(read_instance(c.server.url, 5.0)), {})
    assert passed and "a restart empties this cache" in ev["empties_cache"], (ev, reason)
    # the truth: it comes back empty, as the evidence the confirmation is bound to says
    after = up(c, restart_same_way(c))
    assert after.dbsize() == 0


@pytest.mark.parametrize("why", ["noeviction", "replica", "inventory"])
def test_what_says_the_data_matters(make, tmp_path, why) -> None:
    c = _cache(make, policy="noeviction" if why == "noeviction" else "allkeys-lru")
    if why == "replica":
        rep = make(conf=f"replicaof 127.0.0.1 {c.server.port}\n", name="rep")
        rep.server.start()
        wait_for(lambda: c.server.client().info("replication")["connected_slaves"] == 1, "the replica")
    data = "store" if why == "inventory" else ""
    facts = asyncio.run(read_instance(c.server.url, 5.0, data=data))
    passed, ev, reason = guards.restart_is_safe(facts, {})
    found = [f.id for f in assess(facts)]
    assert not passed and "redis.restart.data_loss" in found and "redis.restart.empties_cache" not in found


# the read-only user of knowledge/redis.md, made before the restart simulation needed COMMAND INFO,
# PUBSUB NUMSUB and CLUSTER MYID: what it cannot ask is proven another way where that is possible
OLDER_PROBE = ("on >probe-pw resetkeys resetchannels -@all +ping +info +role +dbsize +lastsave +time +config|get "
               "+client|list +client|info +slowlog|get +latency|latest +memory|stats +acl|whoami")


@pytest.mark.parametrize("kind", ["plain", "cluster"])
def test_an_older_read_only_user_still_passes_a_safe_restart(make, kind) -> None:
    if kind == "cluster":
        c = _cluster_node(make, extra=f"user probe {OLDER_PROBE}\n", old_files=True)
    else:
        c = make(conf=f"save 3600 1\nuser probe {OLDER_PROBE}\n")
        os.utime(c.server.conf, (time.time() - 60, time.time() - 60))  # written well before the start
        c.server.start()
        fill(c)
    c.url = f"redis://probe:probe-pw@127.0.0.1:{c.server.port}"
    passed, facts, found = verdict(c)
    assert passed, (found, facts["restart_preview"].get("unproven"))


def test_an_older_read_only_user_and_a_file_changed_since_start(make) -> None:
    c = make(conf=f"save 3600 1\nuser probe {OLDER_PROBE}\n")
    c.server.start()
    fill(c)
    c.url = f"redis://probe:probe-pw@127.0.0.1:{c.server.port}"
    append(c, 'rename-command SET ""\n')
    passed, facts, found = verdict(c)
    assert not passed and "+command|info" in str(facts["restart_preview"]["unproven"]), found


# ------------------------------------------------------------------ the copy reads with the restart's rights
USER = "rb-test-redis"


def _user() -> tuple[int, int]:
    import pwd

    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                       check=True, capture_output=True)
        pw = pwd.getpwnam(USER)
    return pw.pw_uid, pw.pw_gid


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("useradd"),
                    reason="needs root, setpriv and useradd")
@pytest.mark.parametrize("what", ["include", "tls-key", "readable"])
def test_what_the_restarts_user_cannot_read(make, what) -> None:
    """The server runs as another user than runbook (root): the copy runs as that user, so a file only
    root may read fails the copy as it fails the real restart."""
    uid, gid = _user()
    c = make(conf="save 3600 1\n")
    base = c.server.base
    secret = base / "secret"
    secret.mkdir()
    if what == "include":
        (secret / "extra.conf").write_text("hz 10\n")
        append(c, f"include {secret}/extra.conf\n")
    else:
        _certs(secret / "tls")
        append(c, f"tls-port {free_port()}\ntls-cert-file {secret}/tls/cert.pem\ntls-key-file {secret}/tls/key.pem\n"
                  f"tls-ca-cert-file {secret}/tls/cert.pem\ntls-auth-clients no\n")
    for p in [base, *base.rglob("*")]:
        os.chown(p, uid, gid)
    for up_dir in base.parents:  # the user may pass through pytest's own (root-only) temp dirs, no more
        if str(up_dir) in ("/", "/tmp"):
            break
        os.chmod(up_dir, os.stat(up_dir).st_mode | 0o011)
    argv = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "redis-server", str(c.server.conf)]
    c.server.proc = subprocess.Popen(argv, cwd=base, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
    c.server.wait_ready()
    fill(c)
    if what != "readable":  # now only root may read it: the running server read it at its start
        os.chown(secret, 0, 0)
        os.chmod(secret, 0o700)
    passed, facts, found = verdict(c)
    assert facts["restart_preview"]["runs_as"][0] == str(uid)
    if c.ssh is not None:  # the copy started by the host's shell, through setpriv
        passed_ssh, _, found_ssh = verdict(c, over_ssh=True)
        assert (passed_ssh, set(found_ssh)) == (passed, set(found))
    proc = restart_same_way_as(c, argv)
    came_up = wait_up_or_exit(c, proc)
    assert passed is came_up, (found, facts["restart_preview"].get("unproven"), came_up)
    if what != "readable":
        assert "redis.restart.would_fail" in found


def restart_same_way_as(case: Case, argv: list[str]) -> subprocess.Popen:
    s = case.server
    try:
        s.client().execute_command("SHUTDOWN")
    except redis_py.exceptions.ConnectionError:
        pass
    s.proc.wait(15)
    proc = subprocess.Popen(argv, cwd=s.base, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    case.started.append(proc)
    return proc


def wait_up_or_exit(case: Case, proc: subprocess.Popen) -> bool:
    c = case.server.client()

    def state():
        if proc.poll() is not None:
            return "exited"
        try:
            return "up" if c.ping() else None
        except (redis_py.exceptions.ConnectionError, redis_py.exceptions.BusyLoadingError):
            return None
    return wait_for(state, "the restarted server to answer or exit") == "up"


# ------------------------------------------------------------------ nothing outlives runbook
@pytest.mark.skipif(not shutil.which("setpriv"), reason="setpriv is not installed")
def test_the_copy_dies_with_a_killed_check(make) -> None:
    """runbook killed by SIGKILL while its copy loads the data: the kernel ends the copy too."""
    import signal
    import sys

    import psutil

    c = make(conf="")  # no save points: the copy loads the RDB as it is
    c.server.start()
    c.server.fill(200_000, value="x" * 200)  # enough to load for a while
    c.server.client().save()
    check = subprocess.Popen([sys.executable, "-m", "runbook.cli", "redis", "check", "--restart", c.server.url],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def copies() -> list[psutil.Process]:
        # the check's own children, not every process of a machine that runs other suites: a poll that
        # walks them all is slow under load, and a copy that loads quickly is gone before it is seen
        try:
            children = psutil.Process(check.pid).children()
        except psutil.Error:
            return []
        out = []
        for p in children:
            try:
                if p.name() == "redis-server":
                    out.append(p)
            except psutil.Error:
                continue
        return out

    def copy_started() -> list[psutil.Process]:
        found = copies()
        assert found or check.poll() is None, f"the check ended ({check.returncode}) before its copy was seen"
        return found
    try:
        copy = wait_for(copy_started, "the check's copy to start", timeout=120, every=0.01)[0]
        left = Path(wait_for(lambda: copy.cwd() if copy.cwd().startswith("/tmp/rb-sim-") else None,
                             "the copy to move into its temp dir")).parent
        os.kill(check.pid, signal.SIGKILL)
        check.wait(5)
        wait_for(lambda: not copy.is_running() or copy.status() == psutil.STATUS_ZOMBIE,
                 "the copy to die with the check", timeout=5)
        assert left.is_dir()  # the killed check could not remove it: the next one does
        again = subprocess.run([sys.executable, "-m", "runbook.cli", "redis", "check", "--restart", c.server.url],
                               capture_output=True, text=True, timeout=120)
        assert "internal error" not in again.stderr, again.stderr
        assert not left.exists(), "the next check reaps a killed check's temp dir"
    finally:
        if check.poll() is None:
            check.kill()
        for p in copies():  # a copy left behind would fail the run: it must not be (only this check's)
            try:
                p.kill()
            except psutil.Error:
                continue


@pytest.mark.skipif(not shutil.which("redis-sentinel"), reason="redis-sentinel is not installed")
def test_a_replica_sentinels_watch_is_not_failed_over(make, tmp_path) -> None:
    m = running(make, name="m")
    c = make(conf=f"save 3600 1\nreplicaof 127.0.0.1 {m.server.port}\n", name="rep")
    c.server.start()
    wait_for(lambda: c.server.client().info("replication")["master_link_status"] == "up", "the replica's link")
    s = _sentinel(tmp_path, "s1", m.server.port, 100)
    try:
        wait_for(lambda: c.server.client().execute_command("PUBSUB", "NUMSUB", "__sentinel__:hello")[1] >= 1,
                 "the Sentinel to find the replica", timeout=30)
        passed, facts, found = verdict(c)
        assert passed, (found, facts["restart_preview"].get("unproven"))
        after = up(c, restart_same_way(c))
        wait_for(lambda: after.info("replication")["master_link_status"] == "up", "the link after the restart")
        assert m.server.client().info("replication")["role"] == "master"  # no failover
    finally:
        s.stop()
