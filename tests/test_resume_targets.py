"""A resumed session binds exactly the targets it started with, each read back whole from its journal."""

from __future__ import annotations

import json

import pytest

from conftest import runbook
from runbook.cli import UsageError, _resumed_targets
from runbook.targets import Target

WHOLE = Target("master", "redis://:pw@db7:6379", "redis", restart_command=("redis-server", "/etc/redis/r.conf"),
               restart_cwd="/var/lib/redis", config="/etc/redis/r.conf", logs=("/var/log/redis/r.log",),
               ssh="ops@db7:2222", ssh_options=("Port=2222", "SetEnv=REDISCLI_AUTH=envpw"), data="store")


def test_every_field_survives_the_journal() -> None:
    journalled = WHOLE.to_dict()
    assert "pw" not in json.dumps(journalled) and "envpw" not in json.dumps(journalled)
    back = Target.from_dict(WHOLE.to_dict(masked=False))
    assert back == WHOLE
    # the password given again: the same target, whole, ssh and restart included
    given = {"master": Target("master", "redis://:pw@db7:6379", "redis")}
    with pytest.raises(UsageError, match="ssh_options"):  # the SetEnv secret must be given again too
        _resumed_targets([journalled], given)
    plain = Target.from_dict({**WHOLE.to_dict(masked=False), "ssh_options": ["Port=2222"]})
    t = _resumed_targets([plain.to_dict()], given)["master"]
    assert t.ssh == "ops@db7:2222" and t.restart_cwd == "/var/lib/redis" and t.config == "/etc/redis/r.conf"
    assert t.logs == ("/var/log/redis/r.log",) and t.url == "redis://:pw@db7:6379"


def test_a_resume_refuses_another_address_for_a_target() -> None:
    journalled = Target("master", "redis://db7:6379", "redis", ssh="db7").to_dict()
    with pytest.raises(UsageError, match="a resume binds the same targets"):
        _resumed_targets([journalled], {"master": Target("master", "redis://db8:6379", "redis")})


def test_a_resumed_host_over_ssh_is_not_read_here(tmp_path, state_dir) -> None:
    """The host target of an interrupted session was bound over ssh: after the resume it is still read
    over ssh (it failed to connect, as it did before), never on this machine in its place."""
    pb = tmp_path / "pb.yaml"
    pb.write_text(json.dumps({"name": "h", "targets": {"box": {"kind": "host"}}, "steps": [
        {"id": "wait", "kind": "instruction", "text": "wait"},
        {"id": "look", "kind": "check", "target": "box", "probes": ["host.basic"]}]}))
    inv = tmp_path / "inv.yaml"
    inv.write_text(json.dumps({"targets": {"box": {"url": "ssh://nobody@127.0.0.1:1", "ssh_options": ["ConnectTimeout=2"]}}}))
    r = runbook("run", str(pb), "-i", str(inv), "--headless", input="")  # no answer: stopped at the instruction
    journal = next((state_dir / "sessions").glob("*.jsonl"))
    lines = [json.loads(x) for x in journal.read_text().splitlines()]
    if lines[-1]["kind"] == "session_ended":  # a stop for want of an answer ends the session: make it an interruption
        journal.write_text("".join(json.dumps(x) + "\n" for x in lines[:-1]))
    r = runbook("run", "--resume", journal.stem, "--headless", input="done\n", timeout=60)
    facts = [json.loads(x) for x in journal.read_text().splitlines() if '"kind":"facts"' in x.replace(" ", "")]
    assert facts and all(f["data"].get("error") and "127.0.0.1" in f["data"]["error"] for f in facts), r.stdout + r.stderr
