"""The playbook format's features on real parts: inputs, values from facts in params and text, wait, call,
list targets with for_each and a member chosen by the facts, on_failure, per-step timeouts."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import runbook
from runbook.engine.facts import LiveFacts
from runbook.engine.operators import AnswersOperator
from runbook.engine.session import Session, SessionError
from runbook.journal import store
from runbook.playbook import loader
from runbook.targets import Target

HOST = {"host": Target("host", "local", "host")}


def load(text: str, path: Path) -> Any:
    path.write_text(text)
    pb, problems = loader.load(path)
    assert not problems, problems
    return pb


def run(pb: Any, targets: dict, answers: dict, params: dict | None = None, mode: str = "live") -> tuple[str, list[Any]]:
    path = store.sessions_dir() / f"{store.new_session_id()}.jsonl"
    j = store.Journal(path)
    try:
        s = Session(pb, targets, mode=mode, journal=j, operator=AnswersOperator(answers), facts=LiveFacts(2.0),
                    params=params)
        outcome = s.start()
    finally:
        j.close()
    return outcome, store.read(path).events


def test_inputs_and_facts_fill_the_command_as_arguments_never_a_shell(tmp_path) -> None:
    flag = tmp_path / "flag"
    flag.write_text("x; touch pwned")  # text from a live system: it must stay one argument
    pb = load(f"""
name: fill
inputs:
  suffix: {{type: str, description: what to add to the marker's name}}
  copies: {{type: int, default: 1}}
targets: {{host: {{kind: host}}}}
steps:
  - id: read
    kind: check
    target: host
    probes: [host.file]
    params: {{path: "{flag}"}}
  - id: tell
    kind: instruction
    text: "The flag says ${{facts.host.file_content}}; ${{params.copies}} copy."
  - id: act
    kind: action
    target: host
    action: host.command
    params: {{command: [touch, "{tmp_path}/marker-${{params.suffix}}-${{facts.host.file_content}}"]}}
""", tmp_path / "fill.yaml")
    with pytest.raises(SessionError, match="needs --param suffix"):
        run(pb, HOST, {})
    outcome, events = run(pb, HOST, {"tell": "done", "act": {"confirm": "host"}}, params={"suffix": "a b"})
    assert outcome == "completed"
    assert (tmp_path / "marker-a b-x; touch pwned").exists() and not (tmp_path / "pwned").exists()
    told = [e for e in events if e.kind == "step_entered" and e.step == "tell"][0]
    assert told.data["text"] == "The flag says x; touch pwned; 1 copy."
    started = [e for e in events if e.kind == "session_started"][0]
    assert started.data["params"] == {"suffix": "a b", "copies": 1}
    # on the command line: typed by the input's type, and an unknown input is refused
    r = runbook("run", str(tmp_path / "fill.yaml"), "-t", "host=local", "--headless", "--dry-run", "--param", "suffix=z",
                "--param", "copies=two")
    assert r.returncode == 2 and "expected a whole number" in r.stderr
    r = runbook("run", str(tmp_path / "fill.yaml"), "-t", "host=local", "--headless", "--dry-run", "--param", "nope=1")
    assert r.returncode == 2 and "unknown --param nope" in r.stderr


def test_a_template_that_reads_a_missing_fact_blocks_the_action(tmp_path) -> None:
    pb = load("""
name: missing
targets: {host: {kind: host}}
steps:
  - id: act
    kind: action
    target: host
    action: host.command
    params: {command: [echo, "${facts.host.file_content}"]}
""", tmp_path / "m.yaml")
    outcome, events = run(pb, HOST, {"act": {"confirm": "host"}})
    assert outcome == "blocked"
    assert "cannot fill in the step from the facts" in [e for e in events if e.kind == "blocked"][0].data["reason"]
    assert not [e for e in events if e.kind == "action_intent"]


def test_wait_reads_again_until_the_expression_holds_or_times_out(tmp_path) -> None:
    flag = tmp_path / "flag"
    flag.write_text("syncing")
    pb = load(f"""
name: waits
targets: {{host: {{kind: host}}}}
steps:
  - id: until-ready
    kind: wait
    target: host
    probes: [host.file]
    params: {{path: "{flag}"}}
    until: facts.host.file_content == 'ready'
    interval_s: 1
    timeout_s: 10
    on_timeout: gave-up
  - id: done
    kind: instruction
    text: ready
    next: end
  - id: gave-up
    kind: instruction
    text: it never became ready
""", tmp_path / "w.yaml")
    threading.Timer(1.5, lambda: flag.write_text("ready")).start()
    outcome, events = run(pb, HOST, {"done": "done", "gave-up": "done"})
    waits = [e.data for e in events if e.kind == "waiting"]
    assert outcome == "completed" and len(waits) >= 2 and not waits[0]["held"] and waits[-1]["held"]
    assert waits[0]["evidence"] == {"facts.host.file_content": "syncing"}
    assert [e.step for e in events if e.kind == "step_entered"] == ["until-ready", "done"]
    flag.write_text("stuck")
    t0 = time.monotonic()
    pb2 = load((tmp_path / "w.yaml").read_text().replace("timeout_s: 10", "timeout_s: 2"), tmp_path / "w2.yaml")
    outcome, events = run(pb2, HOST, {"done": "done", "gave-up": "done"})
    assert outcome == "completed" and time.monotonic() - t0 < 6
    assert [e.step for e in events if e.kind == "step_entered"] == ["until-ready", "gave-up"]


def test_call_runs_another_playbook_with_our_targets(tmp_path) -> None:
    (tmp_path / "inner.yaml").write_text("""
name: inner
targets: {machine: {kind: host}}
steps:
  - id: look
    kind: check
    target: machine
    probes: [host.basic]
  - id: say
    kind: instruction
    text: inner step on ${facts.machine.hostname}
""")
    pb = load("""
name: outer
targets: {host: {kind: host}}
steps:
  - id: hand-over
    kind: call
    playbook: inner
    targets: {machine: host}
  - id: after
    kind: instruction
    text: back
""", tmp_path / "outer.yaml")
    outcome, events = run(pb, HOST, {"say": "done", "after": "done"})
    assert outcome == "completed"
    assert [e.step for e in events if e.kind == "step_entered"] == ["hand-over", "hand-over/look", "hand-over/say", "after"]
    assert [e.kind for e in events].count("session_ended") == 1
    (tmp_path / "loop.yaml").write_text("""
name: loop
targets: {host: {kind: host}}
steps:
  - id: again
    kind: call
    playbook: loop
""")
    _, problems = loader.load(tmp_path / "loop.yaml")
    assert problems and "a loop" in problems[0].message
    _, problems = loader.loads("""
name: bad
targets: {host: {kind: host}}
steps:
  - id: c
    kind: call
    playbook: inner
    targets: {nobody: host}
""", str(tmp_path / "bad.yaml"))
    assert any("has no target 'nobody'" in p.message for p in problems)


def test_on_failure_and_a_step_timeout(tmp_path) -> None:
    pb = load("""
name: fails
targets: {host: {kind: host}}
steps:
  - id: read
    kind: check
    target: host
    probes: [host.memory]
    params: {interval_s: 5}
    timeout_s: 1
  - id: act
    kind: action
    target: host
    action: host.command
    params: {command: ["false"]}
    on_failure: cleanup
  - id: fine
    kind: instruction
    text: it worked
    next: end
  - id: cleanup
    kind: instruction
    text: it failed; clean up
""", tmp_path / "f.yaml")
    t0 = time.monotonic()
    outcome, events = run(pb, HOST, {"act": {"confirm": "host"}, "cleanup": "done", "fine": "done"})
    assert outcome == "completed" and time.monotonic() - t0 < 4.5
    facts = [e.data for e in events if e.kind == "facts"][0]
    assert "timed out after 1 s" in facts["error"]
    assert [e.step for e in events if e.kind == "step_entered"] == ["read", "act", "cleanup"]


@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
def test_for_each_reads_every_member_and_the_facts_choose_which_one_acts(tmp_path) -> None:
    from redis_server import RedisServer

    a = RedisServer(tmp_path, "a").start()
    b = RedisServer(tmp_path, "b").start()
    try:
        a.fill(10)
        b.fill(30)
        pb = load("""
name: members
targets: {nodes: {kind: redis, list: true}}
steps:
  - id: read-all
    kind: check
    for_each: nodes
    probes: [redis.check]
  - id: biggest
    kind: action
    target: "${max_by(facts.nodes, 'keys_live').target}"
    action: redis.config_set
    params: {name: maxmemory-samples, value: "${len(facts.nodes) + 5}"}
""", tmp_path / "members.yaml")
        targets = {"nodes-1": Target("nodes-1", a.url, "redis"), "nodes-2": Target("nodes-2", b.url, "redis")}
        outcome, events = run(pb, targets, {"biggest": {"confirm": "nodes-2"}})
        assert outcome == "completed", [e.data for e in events if e.kind in ("blocked", "action_result")]
        assert {e.data["target"] for e in events if e.kind == "facts"} == {"nodes-1", "nodes-2"}
        ran = [e.data for e in events if e.kind == "action_intent"][0]
        assert ran["target"] == "nodes-2" and "CONFIG SET maxmemory-samples 7;" in ran["command"] and str(b.port) in ran["command"]
        assert b.client().config_get("maxmemory-samples")["maxmemory-samples"] == "7"
        assert a.client().config_get("maxmemory-samples")["maxmemory-samples"] == "5"
        # one at a time on every member
        pb = load((tmp_path / "members.yaml").read_text().replace(
            "target: \"${max_by(facts.nodes, 'keys_live').target}\"", "for_each: nodes"), tmp_path / "each.yaml")
        outcome, events = run(pb, targets, {"biggest": {"confirm": "nodes-1"}})
        assert outcome == "blocked"  # the second member's confirmation must name the second member
        assert [e.data["target"] for e in events if e.kind == "action_intent"] == ["nodes-1"]
    finally:
        a.stop()
        b.stop()


def test_a_decision_may_read_only_declared_inputs_and_resume_inside_a_call_restarts_the_call(tmp_path) -> None:
    _, problems = loader.loads("""
name: typo
inputs: {max_mb: {type: int, default: 1}}
targets: {host: {kind: host}}
steps:
  - id: d
    kind: decision
    branches:
      - when: params.max_bm > 0
        goto: end
""", "typo.yaml")
    assert any("params.max_bm is not an input" in p.message and "max_mb" in p.message for p in problems)
    (tmp_path / "inner.yaml").write_text("""
name: inner
targets: {host: {kind: host}}
steps:
  - id: say
    kind: instruction
    text: inner
""")
    pb = load("""
name: outer
targets: {host: {kind: host}}
steps:
  - id: hand-over
    kind: call
    playbook: inner
""", tmp_path / "outer.yaml")
    outcome, events = run(pb, HOST, {})  # no answer: stops inside the call
    assert outcome == "aborted"
    path = store.sessions_dir() / f"{store.new_session_id()}.jsonl"
    j = store.Journal(path)
    try:
        # a crash after entering the called step: the journal ends there
        partial = [e for e in events if e.kind != "session_ended" and e.kind != "call_ended"]
        s = Session(pb, HOST, mode="live", journal=j, operator=AnswersOperator({"say": "done"}), facts=LiveFacts(2.0))
        assert s.resume(partial) == "completed"
    finally:
        j.close()
    resumed = [e.step for e in store.read(path).events if e.kind == "step_entered"]
    assert resumed == ["hand-over", "hand-over/say"]


def test_one_formatter_for_evidence_names_sizes_durations_rates_and_counts() -> None:
    from runbook.text import human_field as h

    assert h("port", 57139) == "57139" and h("master_port", 6379) == "6379" and h("pid", 123456) == "123456"
    assert h("master_repl_offset", 111803) == "111803" and h("run_id", "abc") == "abc"
    assert h("maxmemory", 4194304) == "4.0 MiB" and h("used_memory", 1224952) == "1.2 MiB"
    assert h("disk_free_bytes", 512) == "512 B"
    assert h("rdb_changes_since_last_save", 4479312) == "4,479,312" and h("keys_live", 1) == "1"
    assert h("window_s", 3.07) == "3.1 s" and h("pause_ms", 14.866) == "14.9 ms" and h("since_s", 125) == "2 min 5 s"
    assert h("instantaneous_ops_per_sec", 81932) == "81,932/s"
    assert h("facts.host.disk_used_pct", 96.5) == "96.5" and h("ok", True) == "true"
    assert h("vm.overcommit_memory", 0) == "0"  # a mode, not a size


def test_a_finding_id_breaks_only_after_its_dots() -> None:
    from runbook import catalog
    from runbook.tui.run import wrap_id

    for fid in catalog.RULES:
        for width in (20, 32, 60):
            lines = wrap_id(fid, width)
            assert "".join(lines) == fid and all(len(x) <= width for x in lines)
            if max(len(p) for p in fid.split(".")) < width:
                assert all(x.endswith(".") for x in lines[:-1]), lines  # never mid-word


def test_a_step_text_shows_facts_for_people_and_params_keep_the_value_itself() -> None:
    from runbook.playbook.template import render

    env = {"facts": {"redis": {"used_memory": 1224952, "maxmemory": 4194304, "connected_clients": 10500,
                               "replicas": [{"port": 57139}]}},
           "params": {"recent_s": 300, "mb": 4}}
    text = ("Redis uses ${facts.redis.used_memory} of ${facts.redis.maxmemory}; ${facts.redis.connected_clients} "
            "clients; replica port ${facts.redis.replicas[0].port}; last ${params.recent_s}")
    shown = render(text, env, lambda v: v)
    assert shown == "Redis uses 1.2 MiB of 4.0 MiB; 10,500 clients; replica port 57139; last 5 min 0 s"
    # a param is the value itself, a number stays a number and is never formatted
    assert render("${params.mb * 1048576}", env) == 4194304
    assert render("--size=${params.mb * 1048576}", env) == "--size=4194304"


def test_a_size_setting_is_shown_for_people_beside_the_value_redis_takes() -> None:
    from runbook.redis.actions import ConfigSet
    from runbook.targets import parse_binding

    t = parse_binding("cache=redis://127.0.0.1:6379")
    assert "CONFIG SET maxmemory 4194304 (4.0 MiB); CONFIG REWRITE" in ConfigSet.describe(
        t, {"name": "maxmemory", "value": 4194304})
    assert "CONFIG SET maxmemory-samples 7;" in ConfigSet.describe(t, {"name": "maxmemory-samples", "value": 7})


def test_the_gc_report_says_when_a_short_stretch_happened_not_1_1() -> None:
    from runbook.tui.gc_report import _when

    assert _when({"first_s": 1.2, "last_s": 1.4}) == "1.2–1.4"
    assert _when({"first_s": 1.04, "last_s": 1.02}) == "1.0"
    assert _when({"first_s": 100.4, "last_s": 2500}) == "100–2,500"
    assert _when({"since_s": 3600}) == "from 3,600"
