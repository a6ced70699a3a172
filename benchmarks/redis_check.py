"""Benchmark: `runbook redis check` on 1, 10 and 100 local redis-servers, against a shell loop of
`redis-cli INFO` plus `redis-cli CONFIG GET '*'` over the same instances, in the same run.

    .venv/bin/python benchmarks/redis_check.py [--sizes 1,10,100] [--repeat 3]

Prints wall-clock seconds (best of --repeat) for: the shell loop; `runbook redis check --no-preview`
(the fleet sweep: INFO all, CONFIG GET *, ROLE, DBSIZE and host facts) as a whole command and
in-process; and the full check with the restart preview (a throwaway redis-server per instance); then
the full check of one server with a password.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from redis_server import RedisServer  # noqa: E402


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,10,100")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="rb-bench-"))
    servers: list[RedisServer] = []
    try:
        for i in range(max(sizes)):
            s = RedisServer(tmp, f"s{i}").start(wait=False)
            servers.append(s)
        for s in servers:
            s.wait_ready()
            s.fill(100)
        from runbook.redis.check import check_many

        print(f"{'instances':>9} {'shell loop s':>13} {'check --no-preview s':>21} {'in-process s':>13} "
              f"{'speed-up':>9} {'full check s':>13}")
        for n in sizes:
            group = servers[:n]
            urls = [s.url for s in group]
            loop = "for p in " + " ".join(str(s.port) for s in group) + \
                   "; do redis-cli -p $p INFO >/dev/null; redis-cli -p $p CONFIG GET '*' >/dev/null; done"
            t_loop = best(lambda: subprocess.run(["bash", "-c", loop], check=True), args.repeat)
            cmd = [sys.executable, "-m", "runbook.cli", "redis", "check", "--json", "--no-discover"]
            t_cmd = best(lambda: subprocess.run(cmd + ["--no-preview"] + urls, stdout=subprocess.DEVNULL), args.repeat)
            t_in = best(lambda: asyncio.run(check_many(urls, 2.0, None, 60, preview=False)), args.repeat)
            t_full = best(lambda: subprocess.run(cmd + urls, stdout=subprocess.DEVNULL), 1)
            print(f"{n:>9} {t_loop:>13.3f} {t_cmd:>21.3f} {t_in:>13.3f} {t_loop / t_cmd:>8.1f}x {t_full:>13.3f}")
        # a server with a password: the restart simulation's copy asks for it too (AUTH, then the reads)
        pw = RedisServer(tmp, "pw", conf="save 3600 1\n", password="bench-secret").start()
        servers.append(pw)
        pw.fill(100)
        t_pw = best(lambda: subprocess.run(cmd + [pw.url], stdout=subprocess.DEVNULL), args.repeat)
        print(f"full check of one server with requirepass: {t_pw:.3f} s")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
