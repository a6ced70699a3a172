"""Reliability figures: guards under faults, SIGKILLs at random moments, fuzzing, and a scan for secrets.

    .venv/bin/python benchmarks/reliability.py [--kills 100] [--examples 2000] [--seed 1]

1. guards x faults: every Redis guard, on a real server, under each fault (probe error, timeout, a
   SIGSTOPped host, the server gone, the evidence changed between the confirmation and the run).
   An unsafe pass is a guard that passes, or an action that runs, while the fault stands.
2. SIGKILL at a random moment of a headless session, 100 times: events lost (a line the run printed,
   which is written after its event is fsynced, missing from the journal), journals `show` cannot read,
   resumes that do not complete, and actions that did not run exactly once (counted by what they wrote).
   Then SIGTERM, SIGINT, SIGHUP or SIGKILL inside a real Redis restart, 20 times: the master down or short
   of keys at the end, restarts started more or less than once, resumes that do not complete.
3. Hypothesis fuzzing of the playbook loader, expressions, the config reader, the RDB header reader, the
   AOF readers and the GC reader: crashes (an exception that is not the reader's own error), with the
   number of inputs tried.
4. tests/test_secrets_everywhere.py's eight secret sources in its eight outputs, and the TUI's tabs in
   tmux: leaks.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from redis_server import RedisServer, free_port  # noqa: E402

CLI = [sys.executable, "-m", "runbook.cli"]


def rb(*args: str, env: dict[str, str], input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], input=input, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=ROOT, stdin=None if input is not None else subprocess.DEVNULL)


# ------------------------------------------------------------------ 1. guards x faults
def guards_x_faults(tmp: Path) -> tuple[int, int]:
    from runbook import registry
    from runbook.engine.facts import LiveFacts, ProbeError
    from runbook.targets import Target

    s = RedisServer(tmp, "g", conf="save 3600 1\n").start()
    s.fill(100)
    url = s.url
    tried = unsafe = 0

    def judge(target: Target, name: str) -> bool:
        spec = registry.GUARDS[name]
        try:
            facts = LiveFacts(0.5).read(spec.probe, target, {"interval": 0.2})
        except ProbeError:
            return False
        return spec.verdict(facts, {})[0]  # as a session judges it (unknown blocks)

    redis_guards = [g for g in registry.GUARDS if g.startswith("redis.")]
    faults = {
        "probe error (nothing listens)": lambda: (Target("m", f"redis://127.0.0.1:{free_port()}", "redis"), None),
        "bad address": lambda: (Target("m", "redis://no-such-host.invalid:6379", "redis"), None),
        "timeout (SIGSTOPped server)": lambda: (Target("m", url, "redis"), "stop"),
    }
    try:
        for fault, make in faults.items():
            for g in redis_guards:
                target, how = make()
                if how == "stop":
                    os.kill(s.pid, signal.SIGSTOP)
                try:
                    tried += 1
                    if judge(target, g):
                        unsafe += 1
                        print(f"   UNSAFE: {g} passed under {fault}")
                finally:
                    if how == "stop":
                        os.kill(s.pid, signal.SIGCONT)
        s.stop()  # the server gone
        for g in redis_guards:
            tried += 1
            if judge(Target("m", url, "redis"), g):
                unsafe += 1
                print(f"   UNSAFE: {g} passed with the server gone")
    finally:
        s.stop()
    # evidence changed between the confirmation and the run: the master becomes a replica while the
    # engineer types; the guard is read again before the action and the confirmation is void
    t2, u2 = evidence_changed(tmp)
    return tried + t2, unsafe + u2


def evidence_changed(tmp: Path) -> tuple[int, int]:
    from runbook.engine.facts import LiveFacts
    from runbook.engine.operators import Answer
    from runbook.engine.session import Session
    from runbook.journal import store
    from runbook.playbook import loader
    from runbook.targets import Target

    tried = unsafe = 0
    for i in range(5):
        m = RedisServer(tmp, f"ev{i}", conf="save 3600 1\n").start()
        other = RedisServer(tmp, f"ev{i}-other").start()
        try:
            pb2, _ = loader.loads(f"""
name: ev
targets: {{m: {{kind: redis}}}}
steps:
  - id: act
    kind: action
    target: m
    action: redis.bgsave
    guards:
      - probe: redis.check
        params: {{load_limit_mb: 0}}
        expr: facts.m.role == 'master'
""", "ev.yaml")

            class Op:
                n = 0

                def acknowledge(self, step: Any) -> bool:
                    return True

                def confirm(self, req: Any) -> Answer:
                    self.n += 1
                    if self.n == 1:  # the world changes after the engineer confirmed
                        m.client().execute_command("REPLICAOF", "127.0.0.1", str(other.port))
                    return Answer("confirm", typed="m", digest=req.digest, by="bench")

            path = store.sessions_dir() / f"{store.new_session_id()}.jsonl"
            j = store.Journal(path)
            before = m.client().info("persistence")["rdb_saves"]
            Session(pb2, {"m": Target("m", m.url, "redis")}, mode="live", journal=j, operator=Op(),
                    facts=LiveFacts(2.0)).start()
            j.close()
            tried += 1
            kinds = [e.kind for e in store.read(path).events]
            ran = "action_intent" in kinds or m.client().info("persistence")["rdb_saves"] != before
            if ran or "confirmation_void" not in kinds:
                unsafe += 1
                print("   UNSAFE: the action ran on evidence that changed after the confirmation")
        finally:
            m.stop()
            other.stop()
    return tried, unsafe


# ------------------------------------------------------------------ 2. SIGKILLs
PLAYBOOK = """
name: kill-me
targets: {{host: {{kind: host}}}}
steps:
  - id: look
    kind: check
    target: host
    probes: [host.basic, host.disk]
  - id: first
    kind: instruction
    text: first
  - id: act
    kind: action
    target: host
    action: host.command
    params: {{command: [sh, -c, 'sleep 1.5; echo ran >> "$0"', "{marker}"]}}
  - id: second
    kind: instruction
    text: second
  - id: verify
    kind: check
    target: host
    probes: [host.file]
    params: {{path: "{marker}"}}
"""


# lines the headless run prints for events (an instruction's own text is not an event)
EVENT_LINES = ("[", "session ", "  target ", "  facts ", "  decision", "  guard ", "  result:", "  running:", "  confirmed",
               "  BLOCKED", "  note:", "  acknowledged", "  CRITICAL", "  WARNING", "  INFO", "  expect ")


def kills(tmp: Path, n: int, seed: int) -> dict[str, int]:
    from runbook.journal import store
    from runbook.transcript import render

    rng = random.Random(seed)
    out = {"kills": 0, "events_lost": 0, "unreadable": 0, "resumed": 0, "resume_failed": 0, "ended_before_kill": 0,
           "not_once": 0}
    for i in range(n):
        state = tmp / f"state{i}"
        env = {**os.environ, "RUNBOOK_STATE_DIR": str(state)}
        marker = tmp / f"marker{i}"
        pb = tmp / f"kill{i}.yaml"
        pb.write_text(PLAYBOOK.format(marker=marker))
        p = subprocess.Popen([*CLI, "run", str(pb), "--target", "host=local", "--headless"], cwd=ROOT, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        p.stdin.write("done\nhost\ndone\n")
        p.stdin.flush()
        time.sleep(rng.uniform(0.1, 2.0))
        p.send_signal(signal.SIGKILL)
        printed, _ = p.communicate()
        out["kills"] += 1
        journals = list((state / "sessions").glob("*.jsonl")) if (state / "sessions").exists() else []
        if not journals:
            continue  # killed before the session started: nothing was shown either
        path = journals[0]
        try:
            read = store.read(path)
        except Exception:  # noqa: BLE001
            out["unreadable"] += 1
            continue
        shown = rb("journal", "show", path.stem, env=env)
        if shown.returncode != 0 or "Traceback" in shown.stderr:
            out["unreadable"] += 1
        journal_lines = {line for e in read.events for line in render(e)}
        printed_lines = [x for x in printed.splitlines() if x.startswith(EVENT_LINES)]
        lost = [x for x in printed_lines if x not in journal_lines and not x.startswith("  Type")]
        out["events_lost"] += len(lost)
        for x in lost[:3]:
            print(f"   lost after kill {i}: {x!r}")
        if read.ended is not None:
            out["ended_before_kill"] += 1
            continue
        answers = tmp / f"answers{i}.yaml"  # (an action reconciled on resume is not confirmed again)
        answers.write_text(json.dumps({"first": "done", "act": {"confirm": "host"}, "second": "done"}))
        r = rb("run", "--resume", path.stem, "--headless", "--answers", str(answers), env=env)
        ended = store.read(path).events[-1]
        runs = marker.read_text().count("ran") if marker.exists() else 0
        if runs != 1:
            out["not_once"] += 1
            print(f"   the action ran {runs} times after kill {i} and its resume")
        if r.returncode == 0 and ended.kind == "session_ended" and ended.data.get("outcome") == "completed":
            out["resumed"] += 1
        else:
            out["resume_failed"] += 1
            print(f"   resume failed after kill {i}: {r.stdout[-300:]} {r.stderr[-300:]}")
    return out


# ------------------------------------------------------------------ 2b. signals inside a Redis restart
def restart_kills(tmp: Path, n: int, seed: int) -> dict[str, int]:
    """A confirmed restart of a real master (100,000 keys) by the shipped playbook; SIGTERM, SIGINT, SIGHUP
    or SIGKILL at a random moment from its intent to a second later; then one --resume. Bad: the master
    down or short of keys at the end, a restart started more or less than once, a resume not completed."""
    import redis

    from runbook.journal import store

    rng = random.Random(seed)
    sigs = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL]
    out = {"tried": 0, "bad_world": 0, "not_once": 0, "resume_failed": 0, "ended_before": 0}
    for i in range(n):
        state = tmp / f"rstate{i}"
        env = {**os.environ, "RUNBOOK_STATE_DIR": str(state)}
        s = RedisServer(tmp, f"rk{i}", conf="save 3600 1\nenable-debug-command local\n").start()
        try:
            s.client().execute_command("DEBUG", "POPULATE", 100_000, "key", 64)
            s.client().save()
            starts = s.log.read_text().count("Ready to accept connections")
            inv = tmp / f"rk{i}.yaml"
            inv.write_text(json.dumps({"targets": {"master": {"url": s.url, "restart": {"command": ["redis-server", str(s.conf)]}}}}))
            ans = tmp / f"rk{i}-answers.yaml"
            ans.write_text(json.dumps({"storm": "done", "aof-trap": "done", "preview": "done", "investigate": "done",
                                       "restart": {"confirm": "master"}}))
            p = subprocess.Popen([*CLI, "run", str(ROOT / "playbooks" / "redis-master-restart.yaml"), "-i", str(inv),
                                  "--headless", "--answers", str(ans)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(
                    '"action_intent"' in j.read_text() for j in (state / "sessions").glob("*.jsonl")):
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.6))
            p.send_signal(rng.choice(sigs))
            p.wait(120)
            out["tried"] += 1
            while time.monotonic() < deadline and any("runbook.engine.runner" in " ".join(q.cmdline())
                                                      for q in __import__("psutil").process_iter() if _ours(q, state)):
                time.sleep(0.05)
            journal = next((state / "sessions").glob("*.jsonl"))
            if store.read(journal).ended is not None:
                out["ended_before"] += 1  # the signal came after the session's end: nothing to resume
            elif (r := rb("run", "--resume", journal.stem, "--headless", "--answers", str(ans), env=env)).returncode != 0 \
                    or store.read(journal).events[-1].data.get("outcome") != "completed":
                out["resume_failed"] += 1
                print(f"   resume failed after restart kill {i}: {r.stdout[-300:]} {r.stderr[-200:]}")
            try:
                keys = redis.Redis(port=s.port, socket_timeout=5).dbsize()
            except redis.RedisError:
                keys = -1
            if keys != 100_000:
                out["bad_world"] += 1
                print(f"   after restart kill {i}: {keys} keys")
            if s.log.read_text().count("Ready to accept connections") != starts + 1:
                out["not_once"] += 1
        finally:
            s.stop()
            try:  # the server the restart started (not the one s started): stopped by its pid
                os.kill(int(redis.Redis(port=s.port, socket_timeout=2).info("server")["process_id"]), signal.SIGKILL)
            except (redis.RedisError, OSError, KeyError, ValueError):
                pass
    return out


def _ours(q: Any, state: Path) -> bool:
    try:
        return str(state) in " ".join(q.cmdline())
    except Exception:  # noqa: BLE001 - gone
        return False


# ------------------------------------------------------------------ 3. fuzzing
def fuzz(examples: int, tmp: Path) -> dict[str, tuple[int, int]]:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from runbook.jvm.gclog.analyze import analyze
    from runbook.jvm.gclog.read import GcLogError, read_logs
    from runbook.playbook import loader
    from runbook.playbook.expr import ExprError, compile_expr
    from runbook.redis import aof, rdb
    from runbook.redis.config import flatten, split_args

    results: dict[str, tuple[int, int]] = {}
    cfg = settings(max_examples=examples, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck))

    def run(name: str, strategy: Any, fn: Any) -> None:
        seen = {"n": 0, "crash": 0}

        @cfg
        @given(strategy)
        def t(x: Any) -> None:
            seen["n"] += 1
            try:
                fn(x)
            except Exception as e:  # noqa: BLE001 - counted
                seen["crash"] += 1
                if seen["crash"] <= 3:
                    print(f"   crash in {name}: {type(e).__name__}: {str(e)[:200]}")

        t()
        results[name] = (seen["n"], seen["crash"])

    yaml_like = st.one_of(
        st.text(max_size=400),
        st.builds(lambda a, b, c: f"name: {a}\nsteps:\n  - id: {b}\n    kind: {c}\n", st.text(max_size=20),
                  st.text(max_size=20), st.sampled_from(["check", "action", "decision", "instruction", "x", "[", "{"])),
        st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    )
    run("playbook loader", yaml_like, lambda t: loader.loads(t, "fuzz.yaml"))

    def expr(s: str) -> None:
        try:
            e = compile_expr(s)
            e.evaluate({"facts": {"m": {"a": 1, "b": "x"}}, "findings": ["x"], "params": {}})
        except ExprError:
            pass

    run("expressions", st.one_of(st.text(max_size=120),
                                 st.from_regex(r"facts\.m\.[ab] *(==|<|>|\+|\*\*|/) *[0-9'x()]{0,8}", fullmatch=True)),
        expr)

    conf = tmp / "fuzz.conf"

    def config(t: str) -> None:
        split_args(t)
        conf.write_text(t, encoding="utf-8", errors="replace")
        flatten(str(conf), str(tmp), [])

    run("config reader", st.text(max_size=400), config)
    blob = tmp / "fuzz.bin"

    def rdb_header(b: bytes) -> None:
        blob.write_bytes(b)
        try:
            rdb.read_header(blob)
        except rdb.RdbError:
            pass

    def aof_files(b: bytes) -> None:
        blob.write_bytes(b)
        aof.scan_incr(str(blob), len(b))  # (the AOF readers say what is wrong in their result, never raise)
        aof.parse_manifest(str(blob))

    run("RDB header reader", st.one_of(st.binary(max_size=600), st.binary(max_size=400).map(lambda b: b"REDIS0010" + b)),
        rdb_header)
    run("AOF readers (incr file, manifest)", st.one_of(
        st.binary(max_size=600), st.binary(max_size=300).map(lambda b: b"*2\r\n$3\r\nSET\r\n" + b),
        st.text(max_size=300).map(lambda t: ("file appendonly.aof.1.base.rdb seq 1 type b\n" + t).encode())), aof_files)
    log = tmp / "fuzz.log"
    gc_lines = st.lists(st.one_of(
        st.text(max_size=120),
        st.from_regex(r"\[[0-9.]{1,8}s\]\[info\]\[gc *\] GC\([0-9]{1,3}\) Pause (Young|Full) \([A-Za-z ]{0,20}\) "
                      r"[0-9]{1,4}M->[0-9]{1,4}M\([0-9]{1,4}M\) [0-9.]{1,7}ms", fullmatch=True),
        st.from_regex(r"[0-9.]{1,8}: \[(GC|Full GC) \(?[A-Za-z ]{0,20}\)? *\[[A-Za-z]{0,12}: [0-9]{1,6}K->[0-9]{1,6}K"
                      r"\([0-9]{1,6}K\)\]? [0-9.]{1,8} secs\]", fullmatch=True),
    ), max_size=30)

    def gc(lines: list[str]) -> None:
        log.write_text("\n".join(lines), encoding="utf-8", errors="replace")
        try:
            analyze(read_logs([str(log)]))
        except GcLogError:
            pass

    run("GC reader", gc_lines, gc)
    return results


# ------------------------------------------------------------------ 4. secrets
def secrets_scan(tmp: Path) -> tuple[int, int, int, list[str]]:
    """tests/test_secrets_everywhere.py's scan (8 secret sources, 8 outputs), and the TUI's tabs in tmux
    of a session whose target has a password in its URL."""
    from test_secrets_everywhere import SECRETS, scan

    state = tmp / "secret-state"
    os.environ["RUNBOOK_STATE_DIR"] = str(state)
    outputs, leaks = scan(tmp / "secrets", state)
    found = [f"{where}: {name}" for where, name in leaks]
    pw = SECRETS["url"]
    s = RedisServer(tmp, "sec", password=pw).start()
    try:
        pb = tmp / "sec.yaml"
        pb.write_text("name: secrets\ntargets: {master: {kind: redis}}\nsteps:\n"
                      "  - {id: read, kind: check, target: master, probes: [redis.check]}\n")
        screen = tui_screen(pb, f"redis://:{pw}@127.0.0.1:{s.port}", {"RUNBOOK_STATE_DIR": str(state)})
    finally:
        s.stop()
    found += [f"TUI tabs: {name}" for name, secret in SECRETS.items() if secret in screen]
    return len(outputs) + 1, len(SECRETS), len(found), found


def tui_screen(pb: Path, url: str, env: dict[str, str]) -> str:
    """The run screen as the engineer sees it, in tmux, every tab."""
    if not shutil.which("tmux"):
        return ""
    name = f"rb-secrets-{os.getpid()}"
    cmd = " ".join([*CLI, "run", str(pb), "--target", f"'master={url}'"])
    subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "120", "-y", "40",
                    f"cd {ROOT} && RUNBOOK_STATE_DIR={env['RUNBOOK_STATE_DIR']} {cmd}"], check=True)
    screens = []
    try:
        time.sleep(4)
        for key in ("s", "f", "t", "l"):
            subprocess.run(["tmux", "send-keys", "-t", name, key])
            time.sleep(0.7)
            screens.append(subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True,
                                          text=True).stdout)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
    return "\n".join(screens)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--examples", type=int, default=2000)
    ap.add_argument("--restart-kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rb-reliability-"))
    os.environ.setdefault("RUNBOOK_STATE_DIR", str(tmp / "state"))
    try:
        t0 = time.monotonic()
        tried, unsafe = guards_x_faults(tmp)
        print(f"guards x faults: {tried} guard verdicts under faults, unsafe passes: {unsafe}  "
              f"({time.monotonic() - t0:.0f} s)", flush=True)
        t0 = time.monotonic()
        k = kills(tmp, args.kills, args.seed)
        print(f"SIGKILL at random moments: {k['kills']} kills, events lost: {k['events_lost']}, unreadable journals: "
              f"{k['unreadable']}, resumes completed: {k['resumed']}, resumes failed: {k['resume_failed']}, "
              f"actions not run exactly once: {k['not_once']} (ended before the kill: {k['ended_before_kill']})  "
              f"({time.monotonic() - t0:.0f} s)", flush=True)
        t0 = time.monotonic()
        rk = restart_kills(tmp, args.restart_kills, args.seed)
        print(f"signals inside a Redis restart: {rk['tried']} (SIGTERM, SIGINT, SIGHUP, SIGKILL at random moments "
              f"after the intent), master down or missing keys: {rk['bad_world']}, restarts not run exactly once: "
              f"{rk['not_once']}, resumes failed: {rk['resume_failed']} (ended before the signal: {rk['ended_before']})  "
              f"({time.monotonic() - t0:.0f} s)", flush=True)
        t0 = time.monotonic()
        for name, (n, crashes) in fuzz(args.examples, tmp).items():
            print(f"fuzzing {name}: {n} inputs, crashes: {crashes}", flush=True)
        print(f"  ({time.monotonic() - t0:.0f} s)")
        n, sources, leaks, which = secrets_scan(tmp)
        print(f"secrets: {n} outputs scanned for {sources} secret sources, leaks: {leaks}" + (f" {which}" if which else ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
