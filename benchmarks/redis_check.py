"""Benchmark: `runbook redis check` on 1, 10, 100 and 1,000 local redis-servers, against a shell loop of
`redis-cli INFO` plus `redis-cli CONFIG GET '*'` over the same instances, in the same run.

    .venv/bin/python benchmarks/redis_check.py [--sizes 1,10,100,1000] [--repeat 3]

Prints wall-clock seconds (best of --repeat) for: the shell loop; `runbook redis check` as an engineer
runs it first (the look: INFO all, CONFIG GET *, ROLE, DBSIZE, host facts, and the restart preview from
runbook's own reading of the config files and the RDB header) as a whole command, and its speed-up over
the loop; the same with --no-preview; the look in-process; and `redis check --restart` (a copy of the
restart started per instance, as the guard does; up to 100 instances); then `--restart` of one server
with a password.
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

# the command as an engineer runs it: the installed console script (python -m would add runpy's imports)
_SCRIPT = Path(sys.executable).parent / "runbook"
RUNBOOK = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "runbook.cli"]


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,10,100,1000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="rb-bench-"))
    servers: list[RedisServer] = []
    # A pip install compiles runbook's .pyc; where PYTHONDONTWRITEBYTECODE kept them from being written,
    # every `runbook` start would pay the compile (about 0.1 s), so they are compiled once here first.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "runbook")], check=True)
    try:
        from runbook.redis.check import check_many

        print(f"{'instances':>9} {'shell loop s':>13} {'check s':>8} {'speed-up':>9} {'--no-preview s':>15} "
              f"{'in-process s':>13} {'--restart s':>12}")
        for n in sorted(sizes):
            # as many servers run as the row says: idle servers' own timers load a 2-core machine
            more = [RedisServer(tmp, f"s{i}").start(wait=False) for i in range(len(servers), n)]
            servers += more
            for s in more:
                s.wait_ready()
                s.fill(100)
            group = servers[:n]
            urls = [s.url for s in group]
            loop = "for p in " + " ".join(str(s.port) for s in group) + \
                   "; do redis-cli -p $p INFO >/dev/null; redis-cli -p $p CONFIG GET '*' >/dev/null; done"
            t_loop = best(lambda: subprocess.run(["bash", "-c", loop], check=True), args.repeat)
            cmd = [*RUNBOOK, "redis", "check", "--json", "--no-discover"]
            t_look = best(lambda: subprocess.run(cmd + urls, stdout=subprocess.DEVNULL), args.repeat)
            t_bare = best(lambda: subprocess.run(cmd + ["--no-preview"] + urls, stdout=subprocess.DEVNULL), args.repeat)
            t_in = best(lambda: asyncio.run(check_many(urls, 2.0, None, 60, simulate=False)), args.repeat)
            t_full = best(lambda: subprocess.run(cmd + ["--restart"] + urls, stdout=subprocess.DEVNULL), 1) \
                if n <= 100 else float("nan")
            print(f"{n:>9} {t_loop:>13.3f} {t_look:>8.3f} {t_loop / t_look:>8.1f}x {t_bare:>15.3f} {t_in:>13.3f} "
                  f"{t_full:>12.3f}", flush=True)
        # a server with a password: the restart simulation's copy asks for it too (AUTH, then the reads)
        pw = RedisServer(tmp, "pw", conf="save 3600 1\n", password="bench-secret").start()
        servers.append(pw)
        pw.fill(100)
        t_pw = best(lambda: subprocess.run(cmd + ["--restart", pw.url], stdout=subprocess.DEVNULL), args.repeat)
        print(f"--restart of one server with requirepass: {t_pw:.3f} s")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
