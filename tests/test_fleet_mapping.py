"""The mapping from redis_exporter's series to INFO's fields (runbook/redis/exporter.py): the fields it gives
are INFO's own, read from a real server through a real redis_exporter; an instance that a sparse query
does not list has the healthy value; the window's increases name a storm through the same rule."""

from __future__ import annotations

import re
import shutil
import urllib.request

import pytest

from prometheus import REDIS_EXPORTER, RedisExporter
from redis_server import RedisServer

_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _exposition(text: str, instance: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            labels = {"instance": instance, **dict(_LABEL.findall(m.group(2) or ""))}
            out.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return out


def _answers(series: dict[str, list], instance: str) -> dict[str, list]:
    """What each of exporter.queries() answers for one instance, taken from its exporter's own lines: the
    series' value (summed where the query sums), left out where it is the healthy value."""
    from runbook.redis import exporter

    ans: dict[str, list] = {"up": series["redis_up"], "scraped": [({"instance": instance}, 1.0)],
                            "info": series["redis_instance_info"], "link": series.get("redis_master_link_up", []),
                            "replica_offset": series.get("redis_connected_slave_offset_bytes", []),
                            "replica_lag": series.get("redis_connected_slave_lag_seconds", [])}
    for s in exporter.SERIES:
        got = [(lb, v) for lb, v in series.get(s.series, []) if not s.only or
               lb.get(s.only.split("=")[0]) == s.only.split("=")[1].strip('"')]
        if s.sum and got:
            got = [({"instance": instance}, sum(v for _, v in got))]
        ans[f"s:{s.field}"] = [(lb, v) for lb, v in got if s.healthy is None or v != s.healthy]
    return ans


@pytest.mark.skipif(not (REDIS_EXPORTER and shutil.which("redis-server")), reason="needs redis_exporter, redis")
def test_the_fields_are_infos_own(tmp_path) -> None:
    from runbook.redis import exporter
    import asyncio

    from runbook.redis.probe import read_server

    def live_info(url: str) -> dict:  # as `redis check` reads it
        return asyncio.run(read_server(url, 2.0))["info"]

    s = RedisServer(tmp_path, "r", conf="maxmemory 64mb\nmaxmemory-policy allkeys-lru\nmaxclients 77\n").start()
    rep = RedisServer(tmp_path, "rep", conf=f"replicaof 127.0.0.1 {s.port}\n").start()
    ex = RedisExporter(tmp_path, "ex").start()
    try:
        c = s.client()
        c.set("plain", 1)
        c.set("ttl", 1, ex=600)
        from prometheus import wait_for

        wait_for(lambda: c.info("replication").get("slave0", {}).get("state") == "online", "the replica online")
        text = urllib.request.urlopen(f"{ex.url}/scrape?target={s.url}", timeout=5).read().decode()
        info = live_info(s.url)
        facts = exporter.facts_from(_answers(_exposition(text, s.url), s.url), 60.0, 1e9)[s.url]
        got = facts["info"]
        assert facts["reachable"] and facts["config"] == {}
        for k in ("role", "maxmemory_policy", "redis_mode", "redis_version", "tcp_port", "maxmemory", "maxclients",
                  "connected_slaves", "rejected_connections", "evicted_keys", "rdb_last_bgsave_status",
                  "aof_enabled", "aof_last_write_status", "rdb_bgsave_in_progress", "repl_backlog_size"):
            assert got[k] == info[k], k
        assert got["db0"] == {"keys": 2, "expires": 1}
        assert got["slave0"]["port"] == rep.port and got["slave0"]["state"] == "online"
        assert abs(got["used_memory"] - info["used_memory"]) < 1_000_000

        text = urllib.request.urlopen(f"{ex.url}/scrape?target={rep.url}", timeout=5).read().decode()
        rinfo = live_info(rep.url)
        got = exporter.facts_from(_answers(_exposition(text, rep.url), rep.url), 60.0, 1e9)[rep.url]["info"]
        for k in ("role", "master_host", "master_port", "master_link_status", "master_sync_in_progress"):
            assert got[k] == rinfo[k], k
    finally:
        ex.stop()
        rep.stop()
        s.stop()


def test_an_instance_a_sparse_query_leaves_out_has_the_healthy_value() -> None:
    from runbook.redis import exporter

    inst = {"instance": "redis://10.0.0.1:6379"}
    facts = exporter.facts_from({"up": [(inst, 1.0)], "info": [({**inst, "role": "master"}, 1.0)]}, 300.0, 1e9)
    info = facts[inst["instance"]]["info"]
    assert info["rdb_last_bgsave_status"] == "ok" and info["aof_last_write_status"] == "ok"
    assert info["rejected_connections"] == 0 and info["rdb_current_bgsave_time_sec"] == -1 and "db0" not in info
    assert "used_memory" not in info  # a dense series Prometheus did not give is unknown, not 0
    job = {"job": "redis"}
    down = exporter.facts_from({"up": [(inst, 0.0)], "scraped": [({**inst, **job}, 1e9)],
                                "down": [({"instance": "redis://10.0.0.2:6379", **job}, 0.0),
                                         ({"instance": "10.0.0.3:9100", "job": "node"}, 0.0)]}, 300.0, 1e9)
    assert set(down) == {inst["instance"], "redis://10.0.0.2:6379"}  # a node_exporter down is none of ours
    assert not down[inst["instance"]]["reachable"] and not down["redis://10.0.0.2:6379"]["reachable"]
    assert "scrape" in down["redis://10.0.0.2:6379"]["error"]


def test_a_storm_is_named_from_the_window_by_the_same_rule() -> None:
    from runbook.redis import exporter
    from runbook.redis.fleet import judge

    inst = {"instance": "redis://10.0.0.1:6379"}
    answers = {"up": [(inst, 1.0)], "info": [({**inst, "role": "master"}, 1.0)],
               "s:sync_full": [(inst, 40.0)], "s:sync_partial_err": [(inst, 38.0)], "s:connected_slaves": [(inst, 2.0)],
               "w:d_sync_full": [(inst, 11.7)], "w:d_sync_partial_err": [(inst, 10.2)]}
    facts = exporter.facts_from(answers, 300.0, 1e9)[inst["instance"]]
    (storm,) = [f for f in judge(facts) if f.id == "redis.replication.full_sync_storm"]
    assert storm.severity == "critical" and storm.evidence["sync_full"] == "28 -> 40" and storm.evidence["window_s"] == 300.0
    quiet = exporter.facts_from({**answers, "w:d_sync_full": [], "w:d_sync_partial_err": []}, 300.0, 1e9)
    assert not judge(quiet[inst["instance"]])  # the same totals, nothing in the window: no storm now


def test_every_rule_judged_from_prometheus_has_its_pre_filter() -> None:
    from runbook import catalog
    from runbook.redis import exporter

    assert set(exporter.suspects()) == set(exporter.FROM_PROMETHEUS) | set(exporter.FROM_WINDOW)
    assert all(fid in catalog.RULES for fid in exporter.suspects())
    m = exporter.instance_matcher(['redis://10.0.0.1:6379', 'a"b\\c'])
    assert m == 'instance=~"a\\"b\\\\\\\\c|redis://10\\\\.0\\\\.0\\\\.1:6379"'


def test_the_readme_tables_are_the_mapping() -> None:
    from conftest import ROOT
    from runbook.redis import exporter

    readme = (ROOT / "README.md").read_text()
    for s in exporter.SERIES:
        assert f"| `{s.series}{'{' + s.only + '}' if s.only else ''}` |" in readme, s.series
    for fid, why in exporter.NOT_FROM_PROMETHEUS.items():
        assert f"| `{fid}` | {why} |" in readme, fid
