"""Each failure mode of knowledge/redis.md, reproduced on real redis-server processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pytest
import redis as redis_py

from conftest import runbook
from redis_server import RedisServer, refused_port

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


@pytest.fixture
def servers(tmp_path):
    started: list[RedisServer] = []

    def make(name: str = "r", **kw) -> RedisServer:
        s = RedisServer(tmp_path, name, **kw)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


def check(*urls: str, extra: tuple[str, ...] = ()) -> tuple[int, list[dict]]:
    r = runbook("redis", "check", *urls, "--json", *extra)
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, json.loads(r.stdout)


def ids(report: dict) -> dict[str, str]:
    return {f["id"]: f["severity"] for f in report["findings"]}


def finding(report: dict, fid: str) -> dict:
    return next(f for f in report["findings"] if f["id"] == fid)


def test_aof_trap_appendonly_yes_with_only_an_rdb(servers) -> None:
    s = servers().start()
    s.fill(500)
    s.client().save()
    s.conf.write_text(s.conf.read_text().replace("appendonly no", "appendonly yes"))
    code, [rep] = check(s.url)
    assert code == 2
    assert ids(rep)["redis.restart.aof_missing"] == "critical"
    pv = rep["restart_preview"]
    assert pv["loads"] == "nothing" and pv["keys_on_disk"] == 0 and pv["keys_live"] == 500
    assert pv["config_file"] == str(s.conf) and pv["writable"] is True
    ev = finding(rep, "redis.restart.aof_missing")["evidence"]
    assert ev["rdb_keys"] == 500 and ev["manifest_exists"] is False


def test_the_trap_is_real(servers) -> None:
    """What the finding predicts: the same file really starts empty (on a copy of the data dir)."""
    s = servers().start()
    s.fill(200)
    s.client().save()
    s.stop()
    s.conf.write_text(s.conf.read_text().replace("appendonly no", "appendonly yes"))
    s.start()
    assert s.client().dbsize() == 0


def test_healthy_rdb_master_loads_its_keys(servers) -> None:
    s = servers().start()
    s.fill(300)
    s.client().save()
    code, [rep] = check(s.url)
    pv = rep["restart_preview"]
    assert pv["loads"] == "rdb" and pv["keys_on_disk"] == 300 and pv["keys_live"] == 300
    assert not [f for f in rep["findings"] if f["severity"] == "critical"]
    assert code in (0, 1)


@pytest.mark.parametrize("damage, exits", [("delete_base", True), ("truncate_base", True), ("empty_manifest", True),
                                           ("truncate_incr", False), ("delete_manifest", None)])
def test_damaged_aof(servers, damage, exits) -> None:
    s = servers(conf="").start()
    s.conf.write_text(s.conf.read_text().replace("appendonly no", "appendonly yes"))
    s.stop()
    s.start()
    s.fill(400)
    c = s.client()
    c.bgrewriteaof()
    deadline = time.monotonic() + 10
    while c.info("persistence")["aof_rewrite_in_progress"] or c.info("persistence")["aof_rewrite_scheduled"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    s.fill(50, prefix="after")  # something in the incr file
    aofdir = s.base / "appendonlydir"
    base = next(aofdir.glob("*.base.rdb"))
    incr = sorted(aofdir.glob("*.incr.aof"))[-1]
    manifest = next(aofdir.glob("*.manifest"))
    if damage == "delete_base":
        base.unlink()
    elif damage == "truncate_base":
        base.write_bytes(base.read_bytes()[: base.stat().st_size // 2])
    elif damage == "empty_manifest":
        manifest.write_text("")
    elif damage == "truncate_incr":
        incr.write_bytes(incr.read_bytes()[:-7])
    elif damage == "delete_manifest":
        manifest.unlink()
    code, [rep] = check(s.url)
    found = ids(rep)
    assert code == 2
    if damage == "delete_manifest":
        assert found["redis.restart.aof_missing"] == "critical"
        return
    assert found["redis.restart.aof_damaged"] == "critical"
    ev = finding(rep, "redis.restart.aof_damaged")["evidence"]
    assert ev["exits_at_start"] is exits
    if exits:
        assert "redis.restart.would_fail" in found


def test_config_drift_including_through_an_include(servers) -> None:
    s = servers()
    (s.base / "extra.conf").write_text("repl-backlog-size 5mb\n")
    s.write_conf(f"include {s.base / 'extra.conf'}\nmaxmemory 100mb\n")
    s.start()
    c = s.client()
    c.config_set("maxmemory", "200mb")
    c.config_set("repl-backlog-size", "1mb")
    code, [rep] = check(s.url, extra=("--restart",))
    diff = finding(rep, "redis.restart.config_drift")["evidence"]["differences"]
    assert diff["maxmemory"] == {"running": str(200 * 1024 * 1024), "file": str(100 * 1024 * 1024)}
    assert diff["repl-backlog-size"] == {"running": str(1024 * 1024), "file": str(5 * 1024 * 1024)}
    assert rep["restart_preview"]["reader"] == "redis-server"
    assert code == 1
    # the throwaway reader left nothing behind in the server's own directory
    assert sorted(p.name for p in s.base.iterdir()) == ["extra.conf", "redis.conf", "redis.log"]


def test_no_config_file(servers) -> None:
    s = servers(with_file=False).start()
    s.fill(10)
    code, [rep] = check(s.url)
    found = ids(rep)
    assert found["redis.restart.no_config_file"] == "warning"
    assert rep["restart_preview"]["config_file"] == ""
    # redis-server with no file listens on 6379 and loads nothing from its working directory
    assert found["redis.restart.moves"] == "critical" and found["redis.restart.data_loss"] == "critical"
    assert code == 2


@pytest.mark.parametrize("how", ["127.0.0.1", "localhost", "other-bound-address"])
def test_replicaof_self_live_and_in_the_file(servers, how) -> None:
    s = servers()
    host = {"127.0.0.1": "127.0.0.1", "localhost": "localhost", "other-bound-address": "127.0.0.7"}[how]
    s.write_conf(f"bind 127.0.0.1 127.0.0.7\nreplicaof {host} {s.port}\n")
    s.start()
    code, [rep] = check(s.url)
    assert code == 2
    assert rep["role"] == "slave"
    assert ids(rep)["redis.restart.replicaof_self"] == "critical"
    wheres = {f["evidence"]["where"] for f in rep["findings"] if f["id"] == "redis.restart.replicaof_self"}
    assert wheres == {"running server", "config file"}
    with pytest.raises(redis_py.exceptions.ReadOnlyError):
        s.client().set("x", 1)


def test_replicaof_self_only_in_the_file(servers) -> None:
    s = servers().start()
    s.conf.write_text(s.conf.read_text() + f"replicaof localhost {s.port}\n")
    code, [rep] = check(s.url)
    assert rep["role"] == "master"
    f = finding(rep, "redis.restart.replicaof_self")
    assert f["evidence"]["where"] == "config file" and f["evidence"]["detected_by"] in ("run_id", "address")
    assert rep["restart_preview"]["writable"] is False


def test_failed_saves_after_the_dir_vanished(servers, tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    s = servers()
    s.write_conf(f"dir {data}\n")
    s.conf.write_text(s.conf.read_text().replace(f"dir {s.base}\n", ""))
    s.start()
    s.fill(100)
    shutil.rmtree(data)
    c = s.client()
    c.bgsave()
    deadline = time.monotonic() + 10
    while c.info("persistence")["rdb_last_bgsave_status"] != "err":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    code, [rep] = check(s.url)
    assert code == 2
    f = finding(rep, "redis.persistence.save_failing")
    assert f["severity"] == "critical" and f["evidence"]["rdb_last_bgsave_status"] == "err"
    assert "deleted" in f["evidence"].get("cwd", "") or "redis.restart.would_fail" in ids(rep)


def test_renamed_config(servers) -> None:
    s = servers()
    s.write_conf("rename-command CONFIG cfg-7f3a\nmaxmemory 10mb\n")
    s.start()
    s.client().execute_command("cfg-7f3a", "SET", "maxmemory", "20mb")
    code, [rep] = check(s.url, extra=("--restart",))
    found = ids(rep)
    assert found["redis.config.unreadable"] == "warning"
    assert rep["restart_preview"]["reader"] == "redis-server"  # the throwaway used the new name
    assert code == 1


def test_password_in_url_and_config_never_printed(servers) -> None:
    pw = "Sup3r-s3cret-pw"
    s = servers(password=pw)
    s.write_conf(f"masterauth {pw}-auth\n")
    s.start()
    for extra in ((), ("--json",)):
        r = runbook("redis", "check", s.url, *extra)
        assert pw not in r.stdout + r.stderr and "*****" in r.stdout
    # REDISCLI_AUTH works without a password in the URL
    r = runbook("redis", "check", f"redis://127.0.0.1:{s.port}", "--json", env={"REDISCLI_AUTH": pw})
    assert json.loads(r.stdout)[0]["reachable"] is True and pw not in r.stdout


def test_hung_and_refused_hosts_are_unknown_within_the_timeout(servers) -> None:
    s = servers().start()
    refused = f"redis://127.0.0.1:{refused_port()}"
    t = time.monotonic()
    check(refused, extra=("--timeout", "0.5"))  # the command's own cost on this machine now: its start
    alone = time.monotonic() - t
    os.kill(s.pid, signal.SIGSTOP)
    try:
        t = time.monotonic()
        code, reps = check(s.url, refused, extra=("--timeout", "0.5"))
        elapsed = time.monotonic() - t
    finally:
        os.kill(s.pid, signal.SIGCONT)
    assert code == 3
    assert [r["status"] for r in reps] == ["unknown", "unknown"]
    assert all(r["findings"][0]["id"] == "redis.unreachable" for r in reps)
    # the hung server costs its timeout (a connection made, a reply that never comes), not the default 10 s;
    # measured beside the command alone, so that a loaded machine's slow start is not counted against it
    assert elapsed - alone < 4, (elapsed, alone)


def test_wrong_url_is_a_clear_error() -> None:
    r = runbook("redis", "check", "redis://:pw@")
    assert r.returncode == 3 and "no host" in r.stderr and "pw" not in r.stderr and "Traceback" not in r.stderr
    r = runbook("redis", "check", "http://example.invalid")
    assert r.returncode == 3 and "use redis://" in r.stderr


def test_text_from_the_server_is_not_obeyed(servers) -> None:
    s = servers().start()
    s.client().config_set("maxmemory", "1mb")
    s.client().execute_command("CLIENT", "SETNAME", "x")
    r = runbook("redis", "check", s.url)
    assert "\x1b" not in r.stdout


def test_each_report_stands_alone(servers, tmp_path) -> None:
    """A server whose check breaks (a missing module in its file), a dead address and a healthy one:
    three reports, each with its own status, and the exit code of the worst."""
    bad = servers("bad", conf="save 3600 1\n").start()
    bad.fill(10)
    bad.conf.write_text(bad.conf.read_text() + f"loadmodule {tmp_path}/missing-module.so\n")
    good = servers("good", conf="save 3600 1\n").start()
    good.fill(10)
    dead = f"redis://127.0.0.1:{refused_port()}"
    code, reps = check(bad.url, dead, good.url, extra=("--no-discover", "--restart", "--timeout", "10"))
    by = {r["target"]: r for r in reps}
    assert len(reps) == 3 and code == 2
    assert by[good.url]["status"] == "ok" or by[good.url]["status"] == "warning"
    assert by[dead]["status"] == "unknown"
    fail = finding(by[bad.url], "redis.restart.would_fail")["evidence"]["reason"]
    assert "missing-module.so" in fail  # redis-server's own words


def test_a_look_without_the_preview_prints_and_says_so(servers) -> None:
    s = servers("np").start()
    s.fill(10)
    r = runbook("redis", "check", s.url, "--no-preview")
    assert r.returncode in (0, 1) and "internal error" not in r.stderr, r.stdout + r.stderr  # ok or warning
    assert "not previewed (--no-preview)" in r.stdout and "restart loads" not in r.stdout
    j = json.loads(runbook("redis", "check", s.url, "--no-preview", "--json").stdout)
    assert j[0]["restart_preview"]["read"] is False


def test_a_check_over_an_interval_says_what_it_waits_for_at_once(servers) -> None:
    import subprocess
    import sys

    from conftest import ROOT

    s = servers("iv").start()
    p = subprocess.Popen([sys.executable, "-m", "runbook.cli", "redis", "check", s.url, "--interval", "3", "--no-preview"],
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = p.stderr.readline()
    said = time.monotonic()
    out, _ = p.communicate(timeout=60)
    # said before the wait, not after it: the report comes at least most of the 3 s later (however long the
    # interpreter took to start on a loaded machine)
    assert "3 s apart" in first and time.monotonic() - said > 2.5, (first, time.monotonic() - said)
    assert s.url in out
