"""Real Prometheus (Debian's `prometheus`) and redis_exporter (`prometheus-redis-exporter`) on loopback for
tests: each with its own temp dir and free port, waited for by a condition (never a fixed sleep), stopped by
its pid. Prometheus scrapes and evaluates every second and sends its alerts to a test Alertmanager."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

from redis_server import free_port

PROMETHEUS = shutil.which("prometheus")
REDIS_EXPORTER = shutil.which("prometheus-redis-exporter") or shutil.which("redis_exporter")
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")


def wait_for(cond: Callable[[], Any], what: str, timeout: float = 30.0, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = cond()
        except OSError:
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=3) as r:
        return json.loads(r.read())


class Process:
    def __init__(self, tmp: Path, name: str) -> None:
        self.dir = tmp / name
        self.dir.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def _start(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "log", "wb"), start_new_session=True)

    def log(self) -> str:
        return (self.dir / "log").read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class RedisExporter(Process):
    """redis_exporter in its multi-target mode (/scrape?target=redis://...), the way one exporter serves many
    servers: Prometheus' relabelling gives each series the server's URL as `instance`."""

    def start(self, addr: str = "") -> "RedisExporter":
        """addr: the one server it serves at /metrics (its own address is then the series' instance)."""
        self._start([REDIS_EXPORTER, f"-web.listen-address=127.0.0.1:{self.port}", f"-redis.addr={addr}"])
        wait_for(lambda: urllib.request.urlopen(f"{self.url}/metrics", timeout=2).status == 200,
                 f"redis_exporter on {self.url} ({self.log()})")
        return self


class NodeExporter(Process):
    """node_exporter with only the collectors the host rules read (filesystems, memory, vmstat)."""

    def start(self) -> "NodeExporter":
        self._start([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{self.port}", "--collector.disable-defaults",
                     "--collector.filesystem", "--collector.meminfo", "--collector.vmstat"])
        wait_for(lambda: urllib.request.urlopen(f"{self.url}/metrics", timeout=2).status == 200,
                 f"node_exporter on {self.url} ({self.log()})")
        return self

    @property
    def address(self) -> str:
        return self.url.split("://", 1)[1]


def redis_job(exporter: RedisExporter, redis_urls: list[str], name: str = "redis") -> dict[str, Any]:
    """A scrape job through redis_exporter's multi-target endpoint, each series named after its server."""
    return {
        "job_name": name, "metrics_path": "/scrape", "scrape_interval": "1s",
        "static_configs": [{"targets": redis_urls}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": exporter.url.split("://", 1)[1]},
        ],
    }


class Prometheus(Process):
    def start(self, rules: Path, alertmanager: str, exporter: RedisExporter, redis_urls: list[str],
              node: NodeExporter | None = None) -> "Prometheus":
        jobs = [redis_job(exporter, redis_urls)] + (
            [{"job_name": "node", "scrape_interval": "1s", "static_configs": [{"targets": [node.address]}]}]
            if node else [])
        return self.start_jobs(jobs, {
            "rule_files": [str(rules)],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager.split("://", 1)[1]]}]}]}})

    def start_jobs(self, jobs: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> "Prometheus":
        """Prometheus scraping these jobs every second (evaluating every second)."""
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, **(extra or {}),
                  "scrape_configs": jobs}
        (self.dir / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        self._start([PROMETHEUS, f"--config.file={self.dir / 'prometheus.yml'}",
                     f"--storage.tsdb.path={self.dir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"])
        wait_for(lambda: urllib.request.urlopen(f"{self.url}/-/ready", timeout=2).status == 200,
                 f"Prometheus ready on {self.url} ({self.log()})")
        return self

    def query(self, expr: str) -> list[dict[str, Any]]:
        return _get(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))["data"]["result"]

    def firing(self, name: str) -> list[dict[str, Any]]:
        return [a for a in _get(f"{self.url}/api/v1/alerts")["data"]["alerts"]
                if a["labels"].get("alertname") == name and a["state"] == "firing"]


def rules_without_waits(src: Path, dest: Path) -> Path:
    """The example rule file with every `for:` made 1s (a test cannot wait the minutes a real page waits);
    the expressions, names, labels and annotations are the file's own."""
    import re

    dest.write_text(re.sub(r"(?m)^(\s*)for: \S+$", r"\1for: 1s", src.read_text()))
    return dest
