"""Benchmark: the same reads over ssh (a real sshd on loopback, one multiplexed connection) and on this
machine. Prints the best of --repeat for: the host probes (host.basic, host.disk, host.memory), and a full
`redis check` of one server with 10,000 keys, its restart simulation included: on this machine, and over ssh,
where the throwaway copy is started on the server's host and read through a forwarded socket. Needs root
(sshd) and redis-server.

    .venv/bin/python benchmarks/remote.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import sshd  # noqa: E402
from redis_server import RedisServer  # noqa: E402
from runbook.targets import Target  # noqa: E402


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if not sshd.available():
        raise SystemExit("needs root, ssh and sshd")
    tmp = Path(tempfile.mkdtemp(prefix="rb-remote-bench-"))
    server = sshd.Sshd(tmp).start()
    redis = RedisServer(tmp, "redis", conf="save 900 1\n").start()
    try:
        redis.fill(10000)
        redis.client().save()
        from runbook.host.probes import basic, disk, memory
        from runbook.redis.check import look

        here = Target("host", "local", "host")
        there = Target("host", f"ssh://{server.dest}", "host", ssh=server.dest, ssh_options=server.options)
        basic(there, {}, 10)  # the connection is opened once, as in a session
        print(f"{'read':<44} {'this machine':>13} {'over ssh':>10} {'ratio':>7}")
        for label, fn in (("host.basic", lambda t: basic(t, {}, 10)), ("host.disk", lambda t: disk(t, {"path": "/"}, 10)),
                          ("host.memory (without its 1 s sample)", lambda t: memory(t, {"interval_s": 0}, 10))):
            a, b = best(lambda: fn(here), args.repeat), best(lambda: fn(there), args.repeat)
            print(f"{label:<44} {a * 1000:>10.1f} ms {b * 1000:>7.1f} ms {b / a:>6.1f}x")
        kw = {"restart_command": ("redis-server", str(redis.conf))}
        a = best(lambda: asyncio.run(look(redis.url, 2.0, 60, **kw)), args.repeat)
        b = best(lambda: asyncio.run(look(redis.url, 2.0, 60, ssh=server.dest, ssh_options=server.options, **kw)), args.repeat)
        print(f"{'redis check, 10,000 keys, with its simulation':<44} {a * 1000:>10.1f} ms {b * 1000:>7.1f} ms {b / a:>6.1f}x")
    finally:
        redis.stop()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
