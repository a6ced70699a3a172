"""Every secret source, scanned in every output: a real redis-server behind a password and a unix socket,
a file a step shows with masterauth, ACL user lines (quoted and bare) and an unbalanced requirepass,
secret options in the declared restart command, an ssh SetEnv option; and the outputs: the headless
transcript of a dry run, the journal, `journal show`, `journal export`, `redis check` (text and JSON), a
recorded scenario, and the argv of every process runbook runs while it works."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import psutil
import pytest

from conftest import runbook
from redis_server import RedisServer

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")

SECRETS = {
    "url": "Url,Pw-7q",  # the password of the unix:// URL (a comma in it, too)
    "masterauth": "Mauth-3k",  # a masterauth line in a file a step shows
    "acl_quoted": "acl quoted 9z",  # user bob on ">acl quoted 9z"
    "acl_bare": "AclBare-4m",  # user carol on >AclBare-4m
    "unbalanced": "Unbal-8r",  # requirepass "Unbal-8r   (the quote never closes)
    "restart_requirepass": "RestartReq-2w",  # --requirepass in the restart command
    "restart_masterauth": "RestartMa-6t",  # --masterauth in the restart command
    "setenv": "SetEnv-5v",  # ssh_options: SetEnv=REDISCLI_AUTH=...
}

PLAYBOOK = {
    "name": "secrets",
    "targets": {"master": {"kind": "redis"}, "box": {"kind": "host"}},
    "steps": [
        {"id": "look", "kind": "check", "target": "master", "probes": ["redis.check"]},
        {"id": "show", "kind": "check", "target": "box", "probes": ["host.file"], "params": {"path": "PATH"}},
        {"id": "read-it", "kind": "instruction", "text": "The file says: ${facts.box.file_content}"},
        {"id": "restart", "kind": "action", "target": "master", "action": "redis.restart"},
    ],
}


class ArgvWatch:
    """Every command line of the machine's processes, sampled while runbook works."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            for p in psutil.process_iter(["cmdline"]):
                try:
                    self.seen.add(" ".join(p.info["cmdline"] or []))
                except psutil.Error:
                    continue
            time.sleep(0.005)

    def close(self) -> set[str]:
        self.stop.set()
        self.t.join(5)
        return self.seen


def scan(tmp_path: Path, state_dir: Path) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Run everything above; the outputs by name, and the leaks as (output, secret source)."""
    sock = tmp_path / "r.sock"
    s = RedisServer(tmp_path, "m", conf=f"save 3600 1\nunixsocket {sock}\nunixsocketperm 700\n",
                    password=SECRETS["url"]).start()
    shown = tmp_path / "shown.conf"
    shown.write_text(f"masterauth {SECRETS['masterauth']}\n"
                     f"user bob on \">{SECRETS['acl_quoted']}\" ~* +@all\n"
                     f"user carol on >{SECRETS['acl_bare']} ~* +@all\n"
                     f"requirepass \"{SECRETS['unbalanced']}\n")
    url = f"unix://{sock}?password={SECRETS['url']}"
    inv = tmp_path / "inventory.yaml"
    inv.write_text(json.dumps({"targets": {
        "master": {"url": url, "restart": {"command": ["redis-server", str(s.conf), "--requirepass",
                                                       SECRETS["restart_requirepass"], "--masterauth",
                                                       SECRETS["restart_masterauth"]]}},
        "box": {"url": "local", "ssh_options": [f"SetEnv=REDISCLI_AUTH={SECRETS['setenv']}"]}}}))
    pb = tmp_path / "secrets.yaml"
    pb.write_text(json.dumps(PLAYBOOK).replace("PATH", str(shown)))
    answers = tmp_path / "answers.yaml"
    answers.write_text(json.dumps({"read-it": "done", "restart": {"confirm": "master"}}))
    outputs: dict[str, str] = {}
    watch = ArgvWatch()
    try:
        s.client().set("k", "v")
        r = runbook("run", str(pb), "-i", str(inv), "--headless", "--dry-run", "--answers", str(answers), timeout=120)
        outputs["dry run (transcript)"] = r.stdout + r.stderr
        assert "restart" in r.stdout and "UNREACHABLE" not in r.stdout, r.stdout + r.stderr
        assert "The file says: masterauth" in r.stdout, r.stdout  # the file was shown, its secrets masked
        assert "file_content" in json.dumps([json.loads(x) for x in _journal(state_dir).read_text().splitlines()])
        session = _journal(state_dir).stem
        outputs["journal"] = _journal(state_dir).read_text()
        outputs["journal show"] = runbook("journal", "show", session).stdout
        outputs["journal export"] = runbook("journal", "export", session).stdout
        # the config file now holds a line that never closes its quote: the restart fails, and says why
        s.conf.write_text(s.conf.read_text() + f"requirepass \"{SECRETS['unbalanced']}\n")
        for args in (("redis", "check", url, "--restart"), ("redis", "check", url, "--restart", "--json")):
            r = runbook(*args, timeout=120)
            outputs[" ".join(args[:2]) + (" --json" if "--json" in args else "")] = r.stdout + r.stderr
        assert "RESTART FAILS" in outputs["redis check"], outputs["redis check"]
        scenario = tmp_path / "scenario.yaml"
        r = runbook("record", "-i", str(inv), "-o", str(scenario), timeout=120)
        outputs["record"] = r.stdout + r.stderr + (scenario.read_text() if scenario.exists() else "")
        assert scenario.exists(), r.stderr
    finally:
        # (the engineer's own `runbook redis check URL` holds the URL they typed: the README says so)
        outputs["argv of every process"] = "\n".join(c for c in watch.close() if "runbook.cli redis check" not in c)
        s.stop()
    leaks = [(where, name) for where, text in outputs.items() for name, secret in SECRETS.items() if secret in text]
    return outputs, leaks


def test_no_secret_source_reaches_any_output(tmp_path, state_dir) -> None:
    outputs, leaks = scan(tmp_path, state_dir)
    assert len(outputs) == 8 and not leaks, leaks


def _journal(state: Path) -> Path:
    return next((state / "sessions").glob("*.jsonl"))


async def test_the_tui_step_and_timeline_show_a_file_with_secrets_masked(tmp_path) -> None:
    """The same file shown by a step in the TUI: the Step pane and the Timeline tab get masked events."""
    from textual.widgets import Static

    from runbook.playbook import loader
    from runbook.targets import Target
    from runbook.tui.run import RunScreen
    from tui_helpers import run_app, wait_for

    shown = tmp_path / "shown.conf"
    shown.write_text(f"masterauth {SECRETS['masterauth']}\nuser bob on \">{SECRETS['acl_quoted']}\" ~* +@all\n"
                     f"user carol on >{SECRETS['acl_bare']} ~* +@all\n")
    pb, problems = loader.loads(json.dumps({"name": "show", "targets": {"box": {"kind": "host"}}, "steps": [
        {"id": "show", "kind": "check", "target": "box", "probes": ["host.file"], "params": {"path": str(shown)}},
        {"id": "read-it", "kind": "instruction", "text": "The file says: ${facts.box.file_content}"}]}), "show.yaml")
    assert not problems, problems
    app = run_app(pb, {"box": Target("box", "local", "host")})
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.pending_ack is not None)
        step = str(app.screen.query_one("#step-info", Static).render())
        timeline = "\n".join(app.screen.timeline)
    assert "The file says: masterauth" in step, step
    for text in (step, timeline):
        assert not [n for n, secret in SECRETS.items() if secret in text], text
