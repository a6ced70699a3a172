"""Holds connections to a Redis from one source address for a rehearsal (a leaking connection pool):
up to N, and one more that the server refuses; then it frees one, so a check can still connect. Holds
them until it is stopped or `seconds` pass, and writes how many to the status file when it is done.

    python -m runbook.sandbox.holder PORT N SOURCE_IP SECONDS STATUS_FILE
"""

from __future__ import annotations

import socket
import sys
import time


def main() -> None:
    port, n, source, seconds, status = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
    held = []
    for _ in range(n + 1):  # one more than the server takes: it is refused, and counted
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2, source_address=(source, 0))
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            if not s.recv(64).startswith(b"+PONG"):
                s.close()
                break
            held.append(s)
        except OSError:
            break
    if held:
        held.pop().close()  # one place left, for the engineer's own tools
    with open(status, "w", encoding="ascii") as f:
        f.write(f"{len(held)}\n")  # how many it holds: the builder waits for this line
    time.sleep(seconds)


if __name__ == "__main__":
    main()
