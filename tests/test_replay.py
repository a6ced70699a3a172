"""Record and replay: every shipped playbook is snapshot-tested against its scenarios."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import PLAYBOOKS, ROOT, runbook
from redis_server import RedisServer


def test_every_shipped_playbook_matches_its_transcripts() -> None:
    r = runbook("test", timeout=120)
    assert r.returncode == 0, r.stdout
    assert "0 failed" in r.stdout
    for name in ("redis-master-restart/aof-trap", "redis-master-restart/healthy", "disk-pressure/full-disk"):
        assert f"ok   {name}" in r.stdout


def test_a_changed_snapshot_fails_with_a_readable_diff(tmp_path) -> None:
    shutil.copytree(PLAYBOOKS, tmp_path / "playbooks")
    shutil.copytree(ROOT / "snapshots" / "transcripts", tmp_path / "transcripts")
    snap = tmp_path / "transcripts" / "disk-pressure" / "full-disk.txt"
    snap.write_text(snap.read_text().replace("would run: journalctl --vacuum-size=200M", "would run: rm -rf /var/log"))
    r = runbook("test", str(tmp_path / "playbooks"), "--snapshots", str(tmp_path / "transcripts"))
    assert r.returncode == 1
    assert "FAIL disk-pressure/full-disk" in r.stdout
    assert "-  would run: rm -rf /var/log" in r.stdout and "+  would run: journalctl --vacuum-size=200M" in r.stdout
    r = runbook("test", str(tmp_path / "playbooks"), "--snapshots", str(tmp_path / "transcripts"), "--update")
    assert r.returncode == 0 and "updated disk-pressure/full-disk" in r.stdout
    assert runbook("test", str(tmp_path / "playbooks"), "--snapshots", str(tmp_path / "transcripts")).returncode == 0


def test_a_missing_snapshot_fails() -> None:
    r = runbook("test", str(PLAYBOOKS), "--snapshots", "/nonexistent/transcripts")
    assert r.returncode == 1 and "no snapshot" in r.stdout


@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
def test_recorded_scenario_replays_to_the_live_transcript(tmp_path, state_dir) -> None:
    s = RedisServer(tmp_path, "m").start()
    try:
        s.fill(200)
        s.client().save()
        s.conf.write_text(s.conf.read_text().replace("appendonly no", "appendonly yes"))
        # live: a dry run against the real server
        inv = tmp_path / "inventory.yaml"
        inv.write_text(json.dumps({"targets": {"master": {"url": s.url, "restart": {"command": ["redis-server", str(s.conf)]}}}}))
        ans = {"aof-trap": "done", "preview": "done", "restart": {"confirm": "master"}}
        (tmp_path / "answers.yaml").write_text(json.dumps(ans))
        live = runbook("run", str(PLAYBOOKS / "redis-master-restart.yaml"), "-i", str(inv), "--headless", "--dry-run",
                       "--answers", str(tmp_path / "answers.yaml"), timeout=120)
        # recorded from the same server, replayed
        scen = tmp_path / "pb" / "scenarios" / "redis-master-restart" / "recorded.yaml"
        scen.parent.mkdir(parents=True)
        r = runbook("record", "-i", str(inv), "-o", str(scen), "--playbook", "redis-master-restart", timeout=60)
        assert r.returncode == 0, r.stderr
        import yaml

        data = yaml.safe_load(scen.read_text())
        data["answers"] = ans
        scen.write_text(yaml.safe_dump(data))
        shutil.copy(PLAYBOOKS / "redis-master-restart.yaml", tmp_path / "pb")
        r = runbook("test", str(tmp_path / "pb"), "--snapshots", str(tmp_path / "snap"), "--update")
        assert r.returncode == 0, r.stdout
        replayed = (tmp_path / "snap" / "redis-master-restart" / "recorded.txt").read_text()
    finally:
        s.stop()
    from runbook.playbook import loader

    pb, _ = loader.load(PLAYBOOKS / "redis-master-restart.yaml")
    texts = {"  " + st.text.strip() for st in pb.steps if st.text}  # the headless run also prints each step's text

    def strip(text: str) -> list[str]:
        return [x for x in text.splitlines() if not x.startswith("session ") and x not in texts]

    assert strip(replayed) == strip(live.stdout)
    assert "redis.restart.aof_missing" in replayed and "BLOCK redis.restart_is_safe" in replayed
    assert "secret" not in replayed


def test_every_shipped_playbook_has_a_scenario_and_one_without_fails(tmp_path) -> None:
    from runbook.playbook import loader

    for pb_path in loader.find_playbooks([str(PLAYBOOKS)]):
        pb, _ = loader.load(pb_path)
        assert list((PLAYBOOKS / "scenarios" / pb.name).glob("*.yaml")), f"{pb.name} has no scenario"
    shutil.copytree(PLAYBOOKS, tmp_path / "playbooks")
    shutil.rmtree(tmp_path / "playbooks" / "scenarios" / "host-memory")
    r = runbook("test", str(tmp_path / "playbooks"))
    assert r.returncode == 1 and "FAIL host-memory: no scenario" in r.stdout


def test_a_recording_is_the_playbook_run_dry_against_live_targets(tmp_path) -> None:
    """record_playbook reads what the playbook reads, on the path its answers take; replaying the
    recording gives the same transcript as the dry run, and a second read with other params is kept apart."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    from runbook import scenario
    from runbook.playbook import loader
    from runbook.sandbox.replay import replay
    from runbook.targets import Target

    s = RedisServer(tmp_path, "r", conf="maxclients 50\n").start()
    try:
        pb, _ = loader.load(PLAYBOOKS / "redis-clients.yaml")
        data = scenario.record_playbook(pb, {"redis": Target("redis", s.url, "redis")}, {"fine": "done"})
        assert data["recorded_outcome"] == "completed"
        assert set(data["facts"]["redis"]) == {"redis.check", "redis.clients"}
        text, _ = replay(pb, data)
        assert "[fine] instruction: No client problem" in text and "clients of 50 allowed" in text
    finally:
        s.stop()
