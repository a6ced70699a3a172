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
from runbook.access import LOCAL, AccessError, Ssh

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
