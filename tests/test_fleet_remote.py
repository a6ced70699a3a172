"""The drill-in of `runbook fleet --live` follows the inventory: one redis_exporter beside the server (its
series' instance is the exporter's address, not the server's), the inventory's target on that host read
over ssh (a real sshd on loopback), as `redis check -i` reads it."""

from __future__ import annotations

import json
import shutil

import pytest

import sshd
from conftest import runbook
from prometheus import PROMETHEUS, REDIS_EXPORTER, Prometheus, RedisExporter, wait_for
from redis_server import RedisServer

pytestmark = pytest.mark.skipif(not (sshd.available() and PROMETHEUS and REDIS_EXPORTER and shutil.which("redis-server")),
                                reason="needs root, sshd, prometheus, prometheus-redis-exporter, redis-server")


def test_an_exporters_address_is_checked_live_as_the_inventory_says(tmp_path) -> None:
    started: list = []
    try:
        server = sshd.Sshd(tmp_path).start()
        started.append(server)
        s = RedisServer(tmp_path, "redis", conf="maxmemory 2mb\nmaxmemory-policy noeviction\n").start()
        started.append(s)
        c = s.client()
        for i in range(100_000):
            try:
                c.set(f"k{i}", "x" * 200)
            except Exception:  # noqa: BLE001 - OOM: the limit is reached
                break
        ex = RedisExporter(tmp_path, "ex").start(addr=s.url)
        started.append(ex)
        prom = Prometheus(tmp_path, "prometheus")
        started.append(prom)
        prom.start_jobs([{"job_name": "redis", "scrape_interval": "1s",
                          "static_configs": [{"targets": [ex.url.split("://", 1)[1]]}]}])
        wait_for(lambda: prom.query("redis_errors_total > 0"), "the refused writes scraped")
        inv = tmp_path / "inventory.yaml"
        inv.write_text(f"targets:\n  cache:\n    url: {s.url}\n    addresses: [127.0.0.1]\n    ssh: {server.dest}\n"
                       "    ssh_options:\n" + "".join(f"      - \"{o}\"\n" for o in server.options))
        r = runbook("fleet", "--prometheus", prom.url, "--json", "--live", "1", "-i", str(inv), timeout=90)
        out = json.loads(r.stdout)
        (inst,) = out["instances"]
        assert inst["instance"] == ex.url.split("://", 1)[1] and r.returncode == 2, r.stderr
        (live,) = out["live"]
        report = live["report"]
        assert report["target"] == s.url
        assert report["restart_preview"]["read_over"].startswith("ssh "), report["restart_preview"]
        assert "redis.memory.maxmemory_reached" in {f["id"] for f in report["findings"]}
        # without the inventory, an exporter's address is not guessed to be a server
        r = runbook("fleet", "--prometheus", prom.url, "--live", "1", timeout=60)
        assert "an exporter's address, not a Redis URL" in r.stdout and "Traceback" not in r.stderr
    finally:
        for p in reversed(started):
            p.stop()
