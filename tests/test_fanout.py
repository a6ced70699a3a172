"""A look at a fleet on every core (runbook/fanout.py): the parts come back in order, a part whose worker dies
is worked again, and `redis check` of a fleet of real servers says the same thing split as whole."""

from __future__ import annotations

import json
import os
import shutil
import signal

import pytest

from conftest import runbook
from redis_server import RedisServer
from runbook.fanout import FORK_FROM, parts, sharded


def test_the_parts_come_back_in_order_from_more_than_one_process() -> None:
    got = sharded(list(range(100)), lambda part: [(x, os.getpid()) for x in part], cores=2)
    assert [x for x, _ in got] == list(range(100))
    pids = {pid for _, pid in got}
    assert os.getpid() in pids and len(pids) == 2


def test_a_part_whose_worker_dies_is_worked_again_here() -> None:
    me = os.getpid()

    def work(part: list[int]) -> list[int]:
        if os.getpid() != me:
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies before it answers
        return [x * 2 for x in part]

    assert sharded(list(range(60)), work, cores=2) == [x * 2 for x in range(60)]


def test_a_worker_that_raises_is_worked_again_and_a_small_look_is_not_split() -> None:
    me = os.getpid()

    def work(part: list[int]) -> list[int]:
        if os.getpid() != me:
            raise RuntimeError("worker trouble")
        return part

    assert sharded(list(range(60)), work, cores=4) == list(range(60))
    assert parts(FORK_FROM - 1, cores=8) == 1 and parts(1000, cores=1) == 1
    assert parts(1000, cores=2) == 2


@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")
def test_a_fleet_check_split_across_cores_reports_every_server_in_order(tmp_path) -> None:
    servers = [RedisServer(tmp_path, f"s{i}", conf="save \"\"\n" if i % 2 else "save 3600 1\n").start(wait=False)
               for i in range(FORK_FROM)]
    try:
        for s in servers:
            s.wait_ready()
        for s in servers[::3]:
            s.fill(10)
        urls = [s.url for s in servers]
        r = runbook("redis", "check", "--json", "--no-discover", *urls)
        assert "Traceback" not in r.stderr, r.stderr
        reports = json.loads(r.stdout)
        assert [x["target"] for x in reports] == urls
        assert all(x["reachable"] for x in reports)
        # the first third and the last third were read by different processes: each saw its own keys
        assert [x["restart_preview"]["keys_live"] for x in reports] == [10 if i % 3 == 0 else 0 for i in range(len(urls))]
        one = runbook("redis", "check", "--json", "--no-discover", urls[-1])
        assert json.loads(one.stdout)[0]["findings"] == reports[-1]["findings"]
    finally:
        for s in servers:
            s.stop()
