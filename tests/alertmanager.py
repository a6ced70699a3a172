"""A real Alertmanager (Debian's prometheus-alertmanager) on loopback for tests: its own temp dir and free
port, no cluster, stopped by its pid. Alerts are posted to it through its API v2, as Prometheus does."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from redis_server import free_port

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

CONFIG = """route:
  receiver: nobody
  group_wait: 1h
receivers:
  - name: nobody
"""


class Alertmanager:
    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "alertmanager"
        self.dir.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "Alertmanager":
        (self.dir / "alertmanager.yml").write_text(CONFIG)
        self.proc = subprocess.Popen([BINARY, f"--config.file={self.dir / 'alertmanager.yml'}",
                                      f"--storage.path={self.dir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                                      "--cluster.listen-address="],
                                     stdout=subprocess.DEVNULL, stderr=open(self.dir / "log", "wb"))
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"alertmanager did not become ready: {(self.dir / 'log').read_text()[-500:]}")
            time.sleep(0.1)

    def fire(self, name: str, labels: dict[str, str], annotations: dict[str, str] | None = None) -> str:
        """Posts a firing alert; returns its fingerprint once the Alertmanager lists it."""
        alert = {"labels": {"alertname": name, **labels}, "annotations": annotations or {},
                 "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        req = urllib.request.Request(f"{self.url}/api/v2/alerts", data=json.dumps([alert]).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=5):
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for a in self.alerts():
                if a["labels"] == alert["labels"]:
                    return a["fingerprint"]
            time.sleep(0.05)
        raise AssertionError(f"the Alertmanager never listed {name}")

    def alerts(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
