"""A steady writer for rehearsals: `python -m runbook.sandbox.writer PORT SECONDS [RATE [KEYS]]`.

Writes 256-byte values to RATE keys a second (default 4000) over a keyspace of KEYS (default 20000),
and stops after SECONDS: a load, not a benchmark, so a rehearsal leaves the machine's cores to the rest.
"""

from __future__ import annotations

import sys
import time

BATCH = 100


def main() -> None:
    import redis

    from runbook.sandbox.procs import client

    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 4000.0
    keys = int(sys.argv[4]) if len(sys.argv) > 4 else 20000
    c = client(port, socket_timeout=5)
    end = time.monotonic() + seconds
    value = b"x" * 256
    i = 0
    due = time.monotonic()
    while due < end:
        pipe = c.pipeline(transaction=False)
        for _ in range(BATCH):
            pipe.set(f"w:{i % keys}", value)
            i += 1
        try:
            pipe.execute()
        except redis.exceptions.RedisError:
            time.sleep(0.1)
        due = max(due + BATCH / rate, time.monotonic() - 1.0)  # behind by more than a second: do not catch up in a burst
        time.sleep(max(0.0, due - time.monotonic()))


if __name__ == "__main__":
    main()
