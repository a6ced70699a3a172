"""Bounded under hostile input: a server that never stops answering, YAML bombs in an inventory, facts
made into code, passwords with commas, and guards on what could not be read."""

from __future__ import annotations

import json
import resource
import shutil
import socket
import threading
import time
from pathlib import Path

import psutil
import pytest

from conftest import ROOT, runbook
from redis_server import RedisServer, refused_port

needs_redis = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


class EndlessServer:
    """Answers anything with a header of 2^31-1 (an array's elements, or a string's bytes), then elements
    or bytes for as long as it is read."""

    def __init__(self, header: bytes = b"*2147483647\r\n", chunk: bytes = b"$1\r\nx\r\n" * 8192) -> None:
        self.header, self.chunk = header, chunk
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._flood, args=(conn,), daemon=True).start()

    def _flood(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            conn.sendall(self.header)
            while not self.stop.is_set():
                conn.sendall(self.chunk)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("header,chunk,said", [
    (b"*2147483647\r\n", b"$1\r\nx\r\n" * 8192, "announces 2,147,483,647 elements"),  # refused at its header
    (b"$2147483647\r\n", b"x" * 65536, "larger than 16 MB"),  # read up to the byte limit
], ids=["array", "string"])
def test_a_server_that_never_stops_answering_is_cut_off_small_and_in_time(header, chunk, said) -> None:
    import subprocess
    import sys

    srv = EndlessServer(header, chunk)
    try:
        t = time.monotonic()
        p = subprocess.Popen([sys.executable, "-m", "runbook.cli", "redis", "check", f"redis://127.0.0.1:{srv.port}",
                              "--json", "--timeout", "10"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        peak = 0
        proc = psutil.Process(p.pid)
        while p.poll() is None:
            try:
                peak = max(peak, proc.memory_info().rss)
            except psutil.Error:
                break
            time.sleep(0.02)
            assert time.monotonic() - t < 30, "still reading after 30 s"
        out, err = p.communicate()
        report = json.loads(out)[0]
        assert not report["reachable"] and said in report["error"], report
        assert peak < 300 * 1024 * 1024, f"peak RSS {peak / 1e6:.0f} MB"
        assert "Traceback" not in err
    finally:
        srv.close()


def test_an_inventory_that_is_a_yaml_bomb_or_nested_too_deep_is_refused_at_once(tmp_path) -> None:
    bomb = tmp_path / "bomb.yaml"
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\ntargets: {master: {url: 'redis://127.0.0.1:1'}}\n")
    deep = tmp_path / "deep.yaml"
    deep.write_text("targets: " + "[" * 20000 + "]" * 20000 + "\n")
    plain = tmp_path / "plain.yaml"
    plain.write_text("targets: [1]\n")
    for inv in (plain, bomb, deep):  # the plain one first: the command's own cost
        # its CPU, not its wall time: under another suite's load the plain one alone once took 30 s of wall
        # time; expanding the bomb (387 million strings) would take minutes of CPU and gigabytes
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = runbook("run", str(ROOT / "playbooks" / "redis-memory-limit.yaml"), "-i", str(inv), "--headless", timeout=180)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        if inv == plain:
            alone = cpu
        assert cpu - alone < 2, (inv.name, cpu, alone)  # refused at once, not after expanding it
        assert r.returncode == 2 and "Traceback" not in r.stderr and str(inv) in r.stderr, r.stderr
        assert inv == plain or "not a valid inventory" in r.stderr, r.stderr
        assert "internal error" not in r.stderr


def test_validate_refuses_a_fact_inside_code_and_accepts_it_as_an_argument(tmp_path) -> None:
    def playbook(command: list[str]) -> Path:
        p = tmp_path / "pb.yaml"
        p.write_text(json.dumps({"name": "code", "targets": {"host": {"kind": "host"}}, "steps": [
            {"id": "act", "kind": "action", "target": "host", "action": "host.command", "params": {"command": command}}]}))
        return p

    for bad in (["sh", "-c", "echo ${facts.host.hostname}"], ["/bin/bash", "-ec", "rm -rf ${params.x}"],
                ["env", "python3", "-c", "print('${facts.host.hostname}')"]):
        r = runbook("validate", str(playbook(bad)))
        assert r.returncode == 1 and "would become code" in r.stdout + r.stderr, (bad, r.stdout, r.stderr)
    ok = runbook("validate", str(playbook(["sh", "-c", 'echo "$1"', "sh", "${facts.host.hostname}"])))
    assert ok.returncode == 0, ok.stdout + ok.stderr


CHECK_PLAYBOOK = {"name": "look", "targets": {"master": {"kind": "redis"}},
                  "steps": [{"id": "look", "kind": "check", "target": "master", "probes": ["redis.check"]}]}


@needs_redis
def test_a_password_with_commas_binds_one_target_and_never_shows(tmp_path, state_dir) -> None:
    pw = "pa,ss,x:y"
    s = RedisServer(tmp_path, "m", password=pw).start()
    try:
        pb = tmp_path / "look.yaml"
        pb.write_text(json.dumps(CHECK_PLAYBOOK))
        r = runbook("run", str(pb), "--target", f"master=redis://:{pw}@127.0.0.1:{s.port}", "--headless")
        assert "UNREACHABLE" not in r.stdout and r.returncode == 0, r.stdout + r.stderr
        journal = next((state_dir / "sessions").glob("*.jsonl")).read_text()
        for out in (r.stdout, r.stderr, journal):
            assert "pa,ss" not in out
    finally:
        s.stop()


def test_a_guard_on_an_unreachable_server_is_unknown_never_pass(tmp_path, state_dir) -> None:
    pb = tmp_path / "failover.yaml"
    pb.write_text(json.dumps({"name": "failover", "targets": {"replica": {"kind": "redis"}}, "steps": [
        {"id": "promote", "kind": "action", "target": "replica", "action": "redis.cluster_failover"}]}))
    port = refused_port()
    r = runbook("run", str(pb), "--target", f"replica=redis://127.0.0.1:{port}", "--headless", "--dry-run")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "guard UNKNOWN redis.cluster_failover_not_forced" in r.stdout, r.stdout
    assert "guard PASS" not in r.stdout
