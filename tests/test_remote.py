"""Remote hosts over the engineer's own ssh, against a real sshd on loopback: the same answers as this
machine gives for the same files, ssh's own refusal of a changed host key, a dropped connection that is
unknown within the timeout, one connection reused, and the host probes and a host playbook over ssh."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import sshd
from conftest import runbook
from redis_server import no_retry
from runbook.access import LOCAL, AccessError, Ssh, parse_listen_tables
from runbook.sandbox import java

pytestmark = pytest.mark.skipif(not sshd.available(), reason="needs root, ssh and openssh-server (sshd)")


@pytest.fixture
def server(tmp_path):
    s = sshd.Sshd(tmp_path).start()
    yield s
    s.stop()


def test_reads_over_ssh_match_this_machine_word_for_word(server, tmp_path) -> None:
    odd = tmp_path / "a file; with $(spaces) and 'quotes'"
    odd.write_bytes(b"line one\n\x00binary\xff\nlast line\n")
    remote = Ssh(server.dest, server.options)
    try:
        assert remote.read(str(odd)) == LOCAL.read(str(odd)) == odd.read_bytes()
        assert remote.tail(str(odd), 10) == odd.read_bytes()[-10:]
        assert remote.stat(str(odd))["size"] == odd.stat().st_size
        assert remote.stat(str(tmp_path / "nope")) is None
        assert remote.listdir(str(tmp_path)) == LOCAL.listdir(str(tmp_path))
        r = remote.run(["printf", "%s|", "a b", "$HOME", "`id`", ";", "*"])
        assert r.rc == 0 and r.text == "a b|$HOME|`id`|;|*|"  # every word arrives as it was given
        with pytest.raises(AccessError) as e:
            remote.read(str(tmp_path / "missing"))
        assert e.value.missing and "No such file" in str(e.value)
        me = remote.proc(server.proc.pid)
        assert "sshd" in me["cmdline"][0] and ("127.0.0.1", server.port) in [tuple(x) for x in me["listening"]]
        assert remote.proc(999999999) is None
        # the listening sockets from ss (netlink) are the kernel's /proc tables, socket for socket
        # (read between two reads of the tables that agree: other tests' servers come and go meanwhile)
        def tables():
            t = LOCAL.read_many(["/proc/net/tcp", "/proc/net/tcp6"])
            return parse_listen_tables(t["/proc/net/tcp"], t["/proc/net/tcp6"])

        for _ in range(20):
            before, over_ssh, after = tables(), remote.listen_table(), tables()
            if before == after:
                assert over_ssh == before
                break
        else:
            pytest.fail("the listening sockets changed during each of 20 reads")
    finally:
        remote.close()


def test_one_connection_is_reused(server) -> None:
    import psutil

    remote = Ssh(server.dest, server.options)
    try:
        for _ in range(10):
            assert remote.run(["true"]).rc == 0
        sessions = [c for c in psutil.Process(server.proc.pid).children() if c.is_running()]
        assert len(sessions) == 1  # one connection from the master, ten sessions over it
    finally:
        remote.close()


def test_a_changed_host_key_is_refused_with_ssh_s_own_words(server, tmp_path) -> None:
    other = tmp_path / "other_key"
    sshd.keygen(other)
    pub = (tmp_path / "other_key.pub").read_text().split()
    (server.dir / "known_hosts").write_text(f"[127.0.0.1]:{server.port} {pub[0]} {pub[1]}\n")
    remote = Ssh(server.dest, server.options)
    with pytest.raises(AccessError) as e:
        remote.run(["true"])
    assert "HOST IDENTIFICATION HAS CHANGED" in str(e.value) or "Host key verification failed" in str(e.value)
    remote.close()


def test_a_dropped_connection_is_unknown_within_the_timeout(server) -> None:
    remote = Ssh(server.dest, server.options)
    try:
        assert remote.run(["true"]).rc == 0
        threading.Timer(1.0, server.drop_connections).start()
        t0 = time.monotonic()
        with pytest.raises(AccessError):
            remote.run(["sleep", "30"], timeout=8)
        assert time.monotonic() - t0 < 8
        with pytest.raises(AccessError):
            remote.run(["sleep", "30"], timeout=2)  # a host that answers nothing: the timeout, not a hang
    finally:
        remote.close()


def test_host_probes_and_a_host_playbook_over_ssh(server, tmp_path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text("targets:\n  host:\n    url: ssh://" + server.dest + "\n    ssh_options:\n"
                   + "".join(f"      - \"{o}\"\n" for o in server.options))
    r = runbook("run", "playbooks/host-memory.yaml", "-i", str(inv), "--headless", "--dry-run",
                "--answers", str(_answers(tmp_path)), timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "facts host.memory on host: read" in r.stdout and "facts host.basic on host: read" in r.stdout
    from runbook.host.probes import disk, memory
    from runbook.targets import load_inventory

    target = load_inventory(inv)["host"]
    d = disk(target, {"path": "/"}, 10)
    assert d["via"] == f"ssh {server.dest}" and d["disk_total_bytes"] > 0
    m = memory(target, {"interval_s": 0.2}, 10)
    assert m["mem_total_bytes"] > 0 and m["top_rss"]
    # without ssh, a host named elsewhere is refused: nothing is read here in its place
    r = runbook("run", "playbooks/host-memory.yaml", "-t", "host=host:db-9.example", "--headless", "--dry-run",
                "--answers", str(_answers(tmp_path)), timeout=60)
    assert "not this machine" in r.stdout and "ssh://" in r.stdout


def _answers(tmp_path: Path) -> Path:
    p = tmp_path / "answers.yaml"
    p.write_text("fine: done\nlow: done\nswapping: done\n")
    return p


def hidden(directory: Path, *argv: str) -> list[str]:
    """The command run where `directory` is hidden (a tmpfs over it, in its own mount namespace) and the
    processes of this machine are not visible (its own PID namespace): what runbook sees from a laptop."""
    import sys

    return ["unshare", "--pid", "--fork", "--mount-proc", "--mount", "sh", "-c", 'mount -t tmpfs none "$1" && shift && exec "$@"',
            "sh", str(directory), sys.executable, "-m", "runbook.cli", *argv]


@pytest.mark.skipif(not __import__("shutil").which("redis-server") or not __import__("shutil").which("unshare"),
                    reason="needs redis-server and unshare")
def test_redis_over_ssh_names_the_aof_trap_where_runbook_cannot_see_the_files(server, tmp_path) -> None:
    import json
    import subprocess

    from conftest import ROOT
    from redis_server import RedisServer

    s = RedisServer(tmp_path, "redis", conf="save 900 1\n").start()
    try:
        s.fill(100)
        s.client().save()
        s.conf.write_text(s.conf.read_text().replace("appendonly no", "appendonly yes"))  # the trap, in the file
        entry = (f"targets:\n  master:\n    url: {s.url}\n    restart: {{command: [redis-server, {s.conf}]}}\n")
        ssh = f"    ssh: {server.dest}\n    ssh_options:\n" + "".join(f"      - \"{o}\"\n" for o in server.options)
        (tmp_path / "with-ssh.yaml").write_text(entry + ssh)
        (tmp_path / "without-ssh.yaml").write_text(entry)
        # runbook's own view: the server's directory is an empty tmpfs, its process is not visible
        r = subprocess.run(hidden(s.base, "redis", "check", "--restart", "-i", str(tmp_path / "with-ssh.yaml"), "--json"),
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
        report = json.loads(r.stdout)[0]
        ids = {f["id"] for f in report["findings"]}
        assert r.returncode == 2 and "redis.restart.aof_missing" in ids and "redis.restart.data_loss" in ids, r.stdout + r.stderr
        pv = report["restart_preview"]
        assert pv["config_file"] == str(s.conf) and pv["loads"] == "nothing" and pv["read_over"].startswith("ssh ")
        # proven there, not guessed: redis-server on that host read the file and confirmed the data dir
        assert pv["reader"] == "redis-server" and "confirmed by redis-server" in pv["tiers"]["config"], pv
        assert pv["keys_after"] == 0 and not pv["unproven"]
        # the restart guard blocks, through a playbook run in the same blind spot
        answers = tmp_path / "answers.yaml"
        answers.write_text("storm: done\naof-trap: done\npreview: done\nrestart: {confirm: master}\n")
        r = subprocess.run(hidden(s.base, "run", "playbooks/redis-master-restart.yaml", "-i", str(tmp_path / "with-ssh.yaml"),
                                  "--headless", "--answers", str(answers)), capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert r.returncode == 1 and "guard BLOCK redis.restart_is_safe" in r.stdout, r.stdout + r.stderr
        assert "redis.restart.aof_missing" in r.stdout
        assert s.alive() and s.client().dbsize() == 100  # nothing was restarted
        # without ssh: the preview says what it could not read, and the guard blocks
        r = subprocess.run(hidden(s.base, "redis", "check", "-i", str(tmp_path / "without-ssh.yaml"), "--json"),
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
        report = json.loads(r.stdout)[0]
        unproven = " ".join(report["restart_preview"]["unproven"])
        assert "does not run on this machine" in unproven and "cannot be read from here" in unproven
        assert "redis.restart.aof_missing" not in {f["id"] for f in report["findings"]}  # not guessed
    finally:
        s.stop()


@pytest.mark.skipif(not __import__("shutil").which("redis-server") or not __import__("shutil").which("unshare"),
                    reason="needs redis-server and unshare")
def test_a_safe_restart_over_ssh_really_restarts_the_server(server, tmp_path) -> None:
    """From where runbook cannot see the server's files or process, the simulation on its host proves the
    restart safe, the guard passes, and the restart over ssh brings it back: a new run_id, every key."""
    import subprocess

    import redis

    from conftest import ROOT
    from redis_server import RedisServer

    s = RedisServer(tmp_path, "redis", conf="save 900 1\n").start()
    new_pid = None
    logs_before = set(Path("/tmp").glob("runbook-restart-master.*"))
    try:
        s.fill(250)
        before = s.client().info()
        inv = tmp_path / "inventory.yaml"
        inv.write_text(f"targets:\n  master:\n    url: {s.url}\n    restart: {{command: [redis-server, {s.conf}]}}\n"
                       f"    ssh: {server.dest}\n    ssh_options:\n" + "".join(f"      - \"{o}\"\n" for o in server.options))
        answers = tmp_path / "answers.yaml"
        answers.write_text("storm: done\naof-trap: done\npreview: done\nrestart: {confirm: master}\n")
        # (--timeout 10: on a loaded machine the copy over ssh may need more than the default to start)
        r = subprocess.run(hidden(s.base, "run", "playbooks/redis-master-restart.yaml", "-i", str(inv), "--headless",
                                  "--answers", str(answers), "--timeout", "10"),
                           capture_output=True, text=True, timeout=180, cwd=ROOT)
        after = redis.Redis(port=s.port, socket_timeout=5, retry=no_retry()).info()
        new_pid = after["process_id"]
        assert r.returncode == 0, r.stdout + r.stderr
        assert "guard PASS  redis.restart_is_safe" in r.stdout and "on " + server.dest + " over ssh" in r.stdout, r.stdout
        assert after["run_id"] != before["run_id"] and new_pid != s.pid
        assert sum(v["keys"] for k, v in after.items() if k.startswith("db")) == 250
        assert not s.alive()  # the old process is gone: it was stopped, not left beside the new one
    finally:
        if new_pid:
            __import__("os").kill(new_pid, 9)
        s.stop()
        for log in set(Path("/tmp").glob("runbook-restart-master.*")) - logs_before:  # the start's output, kept there
            log.unlink(missing_ok=True)  # (another suite on this machine may run this test too: only ours)


@pytest.mark.skipif(not __import__("shutil").which("jcmd"), reason="no JDK")
def test_a_jvm_over_ssh_is_read_with_its_own_jstat(server, tmp_path) -> None:
    import json
    import subprocess

    from conftest import ROOT

    p = subprocess.Popen(["java", "-Xmx64m", *java.program(ROOT / "runbook" / "sandbox" / "data" / "HotThread.java"), "60"], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        opts = [x for o in server.options for x in ("--ssh-option", o)]
        # --timeout 10: each read over ssh gets three times it (a new connection and its command on a machine
        # that runs a second suite beside this one took more than the default's 9 s)
        r = runbook("jvm", "check", str(p.pid), "--json", "--timeout", "10", "--ssh", server.dest, *opts, timeout=120)
        assert r.stdout, (r.returncode, r.stderr)
        (rep,) = json.loads(r.stdout)
        f = rep["facts"]
        assert f["reachable"] and f["via"] == f"ssh {server.dest}" and f["xmx_bytes"] == 64 * 1024 * 1024
        assert "O" in f["jstat"] and f["rss_bytes"] > 0
        r = runbook("jvm", "check", "--json", "--timeout", "10", "--ssh", server.dest, *opts, timeout=180)
        assert r.stdout, (r.returncode, r.stderr)
        assert p.pid in [x["target"] for x in json.loads(r.stdout)]  # the host's java processes, listed there
        # the memory, the hot thread and a heap dump, each read or done on the JVM's host with its own tools
        from runbook.jvm import memory, threads
        from runbook.jvm.live import HeapDump
        from runbook.targets import Target

        t = Target("app", f"pid:{p.pid}", "jvm", ssh=server.dest, ssh_options=server.options)
        m = memory.probe(t, {"interval_s": 0.2}, 30)
        assert m["via"] == f"ssh {server.dest}" and m["heap_max_bytes"] == 64 * 1024 * 1024 and m["rss_bytes"] > 0
        assert m["threads"] > 5 and "limit" in m["container"]
        th = threads.probe(t, {"interval_s": 1.0}, 30)
        hot = th["top"][0]
        # the spinning thread on top, named with its frames (its share of a core depends on the machine's load)
        assert hot["cpu_pct"] > 0 and hot["kind"] == "application", th["top"][:3]
        assert any("HotThread.recalculate" in fr for fr in hot["frames"]), th["top"][:3]
        dump = tmp_path / "over-ssh.hprof"
        assert str(dump) in HeapDump.describe(t, {"path": str(dump)}) and "over ssh" in HeapDump.describe(t, {"path": str(dump)})
        res = HeapDump.run(t, {"path": str(dump)}, 60)
        assert res["ok"] and dump.stat().st_size > 0, res
        saved = tmp_path / "dumps.txt"  # thread dumps taken there, the evidence kept here
        res = threads.SaveThreadDumps.run(t, {"path": str(saved), "count": 2, "interval_s": 0.2}, 30)
        assert res["ok"] and saved.read_text().count("Full thread dump") == 2, res
        # a GC log on that host: its files read there, analysed here, the same answer as reading it here
        from runbook.jvm.live import GC_LOG_OVER_SSH, probe_gc_log

        log = ROOT / "tests" / "data" / "parallel-jdk17.log"
        here = probe_gc_log(Target("app", f"pid:{p.pid}", "jvm"), {"gc_log": str(log)}, 30)
        there = probe_gc_log(t, {"gc_log": str(log)}, 30)
        assert there.pop("read_over") == f"ssh {server.dest}" and "partial" not in there
        assert log.stat().st_size < GC_LOG_OVER_SSH and there == here
    finally:
        p.kill()
        p.wait(10)


@pytest.mark.skipif(not __import__("shutil").which("redis-server"), reason="needs redis-server")
def test_a_killed_check_leaves_nothing_on_the_host_and_the_next_run_reaps_its_connection(server, tmp_path) -> None:
    """runbook SIGKILLed while its copy loads on the ssh host: the host ends the copy and removes its data
    (its watch channel reads to the end when runbook dies); the next run tells the dead run's ssh master
    to exit and removes its control dir."""
    import os
    import signal
    import subprocess
    import sys

    import psutil

    from conftest import ROOT
    from redis_server import RedisServer

    def wait_for(fn, what, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    before = set(Path("/tmp").glob("rb-sim-*"))

    def copies() -> list[tuple[psutil.Process, Path]]:
        """The copies started on the host since the test began (each writes its pid file in its dir)."""
        out = []
        for d in set(Path("/tmp").glob("rb-sim-*")) - before:
            try:
                if str(s.base) not in (d / "main.conf").read_text():
                    continue  # another test's copy (its config names its own server's dir)
                out.append((psutil.Process(int((d / "server.pid").read_text().split()[0])), d))
            except (OSError, ValueError, IndexError, psutil.Error):
                continue
        return out

    s = RedisServer(tmp_path, "redis", conf="").start()
    check = None
    try:
        s.fill(200_000, value="x" * 200)  # enough to load for a while
        s.client().save()
        inv = tmp_path / "inventory.yaml"
        inv.write_text(f"targets:\n  master:\n    url: {s.url}\n    restart: {{command: [redis-server, {s.conf}]}}\n"
                       f"    ssh: {server.dest}\n    ssh_options:\n" + "".join(f"      - \"{o}\"\n" for o in server.options))
        check = subprocess.Popen([sys.executable, "-m", "runbook.cli", "redis", "check", "--restart", "-i", str(inv)],
                                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        copy, data = wait_for(copies, "the copy to start on the host")[0]
        control = wait_for(lambda: [d for d in Path("/tmp").glob("runbook-ssh-*")
                                    if (d / "owner").exists() and (d / "owner").read_text().split()[0] == str(check.pid)],
                           "the check's ssh control dir")[0]
        os.kill(check.pid, signal.SIGKILL)
        check.wait(5)
        wait_for(lambda: not copy.is_running() or copy.status() == psutil.STATUS_ZOMBIE, "the copy to end", 60)
        wait_for(lambda: not data.exists(), "its data on the host to be removed", 15)
        # The killed run could not close its connection: the next runbook to open one does. In a parallel
        # suite that may be another test's run, before this one's: the dir is then already gone.
        masters = [p for p in psutil.process_iter(["cmdline"]) if str(control) in " ".join(p.info["cmdline"] or [])]
        again = subprocess.run([sys.executable, "-m", "runbook.cli", "redis", "check", "--no-preview", "-i", str(inv)],
                               cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert "internal error" not in again.stderr
        assert not control.exists()
        wait_for(lambda: all(not p.is_running() for p in masters), "the dead run's ssh master to exit", 10)
    finally:
        if check and check.poll() is None:
            check.kill()
        for p, _ in copies():
            p.kill()
        s.stop()


@pytest.mark.skipif(not __import__("shutil").which("redis-server"), reason="needs redis-server")
def test_a_secret_ssh_option_is_never_on_an_argv(server, tmp_path) -> None:
    """SetEnv=REDISCLI_AUTH=... goes to ssh in a private config file, not in a -o that ps shows."""
    import json
    import subprocess
    import sys
    import threading

    import psutil

    from conftest import ROOT
    from redis_server import RedisServer

    secret = "SshEnv-Secret-4u"
    s = RedisServer(tmp_path, "redis", conf="save 3600 1\n").start()
    seen: set[str] = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for p in psutil.process_iter(["cmdline"]):
                seen.add(" ".join(p.info["cmdline"] or []))
            time.sleep(0.005)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        inv = tmp_path / "inventory.yaml"
        inv.write_text(f"targets:\n  master:\n    url: {s.url}\n    ssh: {server.dest}\n    ssh_options:\n"
                       + "".join(f"      - \"{o}\"\n" for o in (*server.options, f"SetEnv=REDISCLI_AUTH={secret}")))
        r = subprocess.run([sys.executable, "-m", "runbook.cli", "redis", "check", "-i", str(inv), "--json", "--restart"],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
        report = json.loads(r.stdout)[0]
        assert report["restart_preview"]["read_over"].startswith("ssh "), report["restart_preview"]
        assert secret not in r.stdout + r.stderr
    finally:
        stop.set()
        t.join(5)
        s.stop()
    assert any(c.startswith("ssh ") for c in seen) and not [c for c in seen if secret in c]
