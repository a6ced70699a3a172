"""Exit codes and messages as the README states them."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import PLAYBOOKS, ROOT, runbook
from redis_server import refused_port

WAITING = """
name: waits
targets: {host: {kind: host}}
steps:
  - id: look
    kind: instruction
    text: wait here
"""


def test_a_missing_playbook_is_a_usage_error(tmp_path) -> None:
    r = runbook("run", str(tmp_path / "nonexistent.yaml"), "--target", "host=local", "--headless")
    assert r.returncode == 2 and "no such playbook file" in r.stderr and "Traceback" not in r.stderr


def test_gc_analyze_tui_of_a_missing_file_exits_3_without_a_screen(tmp_path) -> None:
    r = runbook("gc", "analyze", str(tmp_path / "nonexistent.log"), "--tui", timeout=30)
    assert r.returncode == 3 and "cannot read" in r.stderr


def test_sigterm_exits_143(tmp_path, state_dir) -> None:
    pb = tmp_path / "waits.yaml"
    pb.write_text(WAITING)
    p = subprocess.Popen([sys.executable, "-m", "runbook.cli", "run", str(pb), "--target", "host=local", "--headless"],
                         cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not list((state_dir / "sessions").glob("*.jsonl")) if (state_dir / "sessions").exists() else True:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        p.wait(20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 143, p.stderr.read()


def test_headless_against_an_unreachable_server_says_so(tmp_path) -> None:
    r = runbook("run", str(PLAYBOOKS / "redis-master-restart.yaml"), "--target",
                f"master=redis://127.0.0.1:{refused_port()}", "--headless", "--timeout", "0.5", timeout=60)
    assert "facts redis.replication on master: UNREACHABLE" in r.stdout
    assert ": read\n" not in r.stdout


def test_validate_walks_only_playbooks(tmp_path) -> None:
    (tmp_path / "ok.yaml").write_text((PLAYBOOKS / "disk-pressure.yaml").read_text())
    venv = tmp_path / "venv" / "lib" / "site-packages" / "pkg"
    venv.mkdir(parents=True)
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (venv / "bad.yaml").write_text("steps: [1, 2\n")
    hidden = tmp_path / ".git"
    hidden.mkdir()
    (hidden / "x.yaml").write_text("steps: {\n")
    (tmp_path / "compose.yaml").write_text("services:\n  web: {image: nginx}\n")  # YAML, not a playbook
    r = runbook("validate", str(tmp_path))
    assert r.returncode == 0 and "1 of 1 playbook(s) valid" in r.stderr, r.stdout + r.stderr


@pytest.mark.skipif(not shutil.which("tmux") or not shutil.which("redis-server"), reason="needs tmux and redis")
def test_a_rehearsal_left_before_its_end_exits_1(state_dir) -> None:
    from test_tui_tmux import Tmux

    tmux = Tmux(f"rbexit{os.getpid()}")
    out = state_dir / "exit-code"
    try:
        tmux.start_shell(f"{sys.executable} -m runbook.cli rehearse redis-dir-deleted; echo $? > {out}",
                         {"RUNBOOK_STATE_DIR": str(state_dir), "TERM": "xterm-256color", "TEXTUAL_ANIMATIONS": "none"})
        tmux.wait_for("Done", 90)
        tmux.send("Escape")
        tmux.wait_for("Leave this session?")
        tmux.send("Tab", "Enter")
        time.sleep(0.5)
        tmux.send("C-q")
        deadline = time.monotonic() + 30
        while not out.exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        tmux.kill()
    assert out.read_text().strip() == "1"


def test_a_big_log_read_in_parallel_ends_without_noise_from_its_workers(tmp_path) -> None:
    """The pool stops its workers with SIGTERM; they must not answer with the command line's own handler."""
    one = (ROOT / "tests" / "data" / "parallel-jdk17.log").read_bytes()
    big = tmp_path / "big.log"
    big.write_bytes(one * (25 * 1024 * 1024 // len(one) + 1))
    r = runbook("gc", "analyze", "--json", str(big), timeout=120)  # the dispositions themselves: the test below
    assert r.returncode in (0, 1, 2) and r.stderr == "", r.stderr[-2000:]


def _dispositions(_: int) -> tuple:
    return signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)


def test_gc_workers_end_quietly_whatever_handler_the_command_line_installed() -> None:
    from runbook.jvm.gclog.read import worker_pool

    def loud(signum, frame):  # what the command line installs
        raise RuntimeError(signum)

    old = signal.signal(signal.SIGTERM, loud)
    try:
        with worker_pool(2) as pool:
            seen = set(pool.map(_dispositions, range(4)))
    finally:
        signal.signal(signal.SIGTERM, old)
    assert seen == {(signal.SIG_DFL, signal.SIG_IGN)}


@pytest.mark.parametrize("content", [b"root:x:0:0:root:/root:/bin/bash\n", b"", b"\x7fELF\x00\x00binary"],
                         ids=["text", "empty", "binary"])
def test_gc_analyze_tui_of_what_is_not_a_gc_log_exits_3_without_a_screen(tmp_path, content) -> None:
    f = tmp_path / "not-gc.log"
    f.write_bytes(content)
    r = runbook("gc", "analyze", str(f), "--tui", timeout=20)  # a screen would wait for a key: the timeout
    assert r.returncode == 3 and str(f) in r.stderr and "\x1b[" not in r.stdout, r.stderr


def test_the_home_needs_no_subcommand_parser_and_help_still_lists_every_command() -> None:
    from runbook.cli import _home_only

    assert _home_only([]) and _home_only(["--playbooks", "x"]) and _home_only(["--playbooks=x", "--playbooks", "y"])
    assert not _home_only(["--help"]) and not _home_only(["gc", "analyze", "f"]) and not _home_only(["--version"])
    out = runbook("--help").stdout
    for command in ("run", "rehearse", "gc", "redis", "jvm", "journal"):
        assert command in out, command
