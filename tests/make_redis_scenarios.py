"""Record the redis-master-restart scenarios from real servers (run by hand when the facts change shape):

    .venv/bin/python tests/make_redis_scenarios.py

Each scenario is built on a real redis-server in a temporary directory and recorded with
scenario.record; the temporary directory, port, pids and run ids are then rewritten to stable values
(/var/lib/redis, 6379, ...) so that transcripts do not change from one recording to the next.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from redis_server import RedisServer  # noqa: E402
from runbook import scenario  # noqa: E402
from runbook.targets import Target  # noqa: E402

OUT = ROOT / "playbooks" / "scenarios" / "redis-master-restart"
ANSWERS = {"storm": "done", "aof-trap": "done", "preview": "done", "restart": {"confirm": "master"},
           "investigate": "done"}


def stable(text: str, s: RedisServer, pid: int, run_id: str) -> str:
    text = text.replace(str(s.base), "/var/lib/redis")
    text = re.sub(rf"\b{s.port}\b", "6379", text)
    text = re.sub(rf"\b{pid}\b", "2419", text)
    text = text.replace(run_id, "a" * 40)
    text = re.sub(r"/tmp/rb-sim-[A-Za-z0-9_]+", "/tmp/rb-sim", text)
    return text


def make(name: str, description: str, conf: str, after: str = "", appendonly_in_file: bool = False) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rb-scen-"))
    s = RedisServer(tmp, "redis", conf=conf).start()
    try:
        s.fill(1000)
        s.client().save()
        text = s.conf.read_text()
        if appendonly_in_file:
            text = text.replace("appendonly no", "appendonly yes")
        s.conf.write_text(text + after.format(port=s.port))
        info = s.client().info("server")
        t = Target("master", s.url, "redis", restart_command=("redis-server", str(s.conf)))
        data = scenario.record({"master": t})
        data = {"playbook": "redis-master-restart", "description": description, **data, "answers": ANSWERS}
        out = OUT / f"{name}.yaml"
        scenario.save(data, out)
        out.write_text(stable(out.read_text(), s, info["process_id"], info["run_id"]))
        print(f"wrote {out}")
    finally:
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def make_twilio() -> None:
    """The twilio-2013 rehearsal's sandbox (a storm under a writer, and the trap in the file), recorded."""
    from runbook.sandbox.procs import Sandbox
    from runbook.sandbox.scenarios import SCENARIOS

    with Sandbox("twilio-2013", say=lambda s: None) as sb:
        built = SCENARIOS["twilio-2013"].build(sb)
        t = built.targets["master"]
        data = scenario.record({"master": t}, params={"interval": 3, "outage_s": 60})
    text = scenario.yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    port = t.url.rsplit(":", 1)[1]
    text = text.replace(str(sb.dir / "master"), "/var/lib/redis").replace(str(sb.dir), "/srv/sandbox")
    text = re.sub(rf"\b{port}\b", "6379", text)
    text = re.sub(r"/tmp/rb-sim-[A-Za-z0-9_]+", "/tmp/rb-sim", text)
    out = OUT / "twilio.yaml"
    head = ("playbook: redis-master-restart\ndescription: 'Twilio 2013, recorded from the twilio-2013 rehearsal: "
            "replicas in a full-sync storm, and a restart that would start empty as a replica of itself'\n")
    out.write_text(head + text.replace("answers: {}", "answers: " + json.dumps(ANSWERS)))
    print(f"wrote {out}")


def main() -> None:
    make_twilio()
    make("healthy", "a healthy master whose stop saves what its start loads: the restart may go ahead",
         "save 3600 1\n")
    make("aof-trap", "the file a restart reads has appendonly yes with only an RDB on disk, and replicaof "
                     "pointing at itself", "", after="replicaof 127.0.0.1 {port}\n", appendonly_in_file=True)


if __name__ == "__main__":
    main()
