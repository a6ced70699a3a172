"""A steady writer for rehearsals when redis-benchmark is not installed: bounded in time."""

from __future__ import annotations

import sys
import time


def main() -> None:
    import redis

    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    c = redis.Redis(port=port, socket_timeout=5)
    end = time.monotonic() + seconds
    value = b"x" * 256
    i = 0
    while time.monotonic() < end:
        pipe = c.pipeline(transaction=False)
        for _ in range(200):
            pipe.set(f"w:{i % 200000}", value)
            i += 1
        try:
            pipe.execute()
        except redis.exceptions.RedisError:
            time.sleep(0.1)


if __name__ == "__main__":
    main()
