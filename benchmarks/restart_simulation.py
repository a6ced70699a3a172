"""Benchmark: the cost of the restart simulation (the full `redis check` of one server) by data size.

    .venv/bin/python benchmarks/restart_simulation.py [--sizes 100,1024] [--repeat 3]

For each size (MB of RDB) it builds a real redis-server with `save ""` and a dump.rdb of that size on
disk (random 1 KB values, so the file does not compress), so that a restart loads the file as it is and
every tier has work: tier 1 (a throwaway redis-server reads the config), tier 3 (redis-check-rdb on the
file) and tier 4 (a private copy loaded) when the file is under the load limit (default 512 MB). It prints
the wall-clock seconds of the whole check (best of --repeat) with the default limit, then with the load
tier forced (a limit above the size), and the throwaway's own time to start and load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from redis_server import RedisServer  # noqa: E402


def fill_mb(s: RedisServer, mb: int) -> None:
    c = s.client()
    value_size = 1024
    n = mb * 1024 * 1024 // (value_size + 16)
    pipe = c.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"key:{i:09d}", os.urandom(value_size // 2).hex())
        if i % 2000 == 1999:
            pipe.execute()
    pipe.execute()
    import redis

    redis.Redis(host="127.0.0.1", port=s.port, socket_timeout=600).save()


def timed(url: str, limit_mb: float, repeat: int) -> tuple[float, dict]:
    from runbook.redis.probe import read_instance

    best, facts = float("inf"), {}
    for _ in range(repeat):
        t = time.perf_counter()
        facts = asyncio.run(read_instance(url, 10.0, load_limit=int(limit_mb * 1048576)))
        best = min(best, time.perf_counter() - t)
    return best, facts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1024", help="RDB sizes in MB")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rb-bench-sim-"))
    print(f"{'RDB':>9} {'keys':>9} {'tiers run (default limit)':>34} {'check s':>8} {'with load s':>12} {'load s':>7}")
    try:
        for mb in (int(x) for x in args.sizes.split(",")):
            s = RedisServer(tmp, f"s{mb}").start()
            try:
                fill_mb(s, mb)
                size = (s.base / "dump.rdb").stat().st_size
                secs, facts = timed(s.url, 512, args.repeat)
                pv = facts["restart_preview"]
                tiers = "1-5" if pv.get("keys_loaded") is not None else "1-3, 5 (load skipped: over the limit)"
                forced, ff = timed(s.url, size / 1048576 + 64, 1 if mb >= 1024 else args.repeat)
                load_s = (ff["restart_preview"].get("throwaway") or {}).get("load_s")
                print(f"{size / 1048576:>6.0f} MB {pv['keys_live']:>9,} {tiers:>34} {secs:>8.2f} {forced:>12.2f} "
                      f"{load_s if load_s is not None else float('nan'):>7.2f}", flush=True)
                assert not pv.get("unproven"), pv.get("unproven")
            finally:
                s.stop()
                shutil.rmtree(s.base, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
