"""A look at many instances on every core: the list is split, the parts past the first are worked by forked
copies of this process (the imports are already paid), and the results come back in order through pipes.
A look at a fleet is mostly Python per instance (parsing INFO, /proc, the findings, the report), which one
interpreter runs on one core whatever asyncio overlaps.

Ground floor: imports nothing of ours.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")

FORK_FROM = 48  # instances: below this a fork costs more than a second core gives back
PART_MIN = 24  # no part smaller than this


def _die_with_parent() -> None:
    """A part whose runbook is gone stops at once (a killed check leaves nothing reading on)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def parts(n: int, cores: int | None = None) -> int:
    cores = cores if cores is not None else len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else (os.cpu_count() or 1)
    if n < FORK_FROM or cores < 2 or not hasattr(os, "fork"):
        return 1
    return max(1, min(cores, n // PART_MIN))


def sharded(items: list[T], work: Callable[[list[T]], list[U]], cores: int | None = None) -> list[U]:
    """work(items), with the items split across the cores: work(part) in forked children for all parts but
    the first, which this process works itself. A part whose child fails (killed, crashed, a result that
    cannot be read) is worked again here, so nothing is lost; work must only read."""
    k = parts(len(items), cores)
    if k == 1:
        return work(items)
    size = -(-len(items) // k)
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    sys.stdout.flush()
    sys.stderr.flush()
    children: list[tuple[int, int]] = []  # (pid, read end), in the order of the parts; pid 0: not forked
    try:
        for chunk in chunks[1:]:
            r, w = os.pipe()
            try:
                pid = os.fork()
            except OSError:  # no more processes: this part is worked here
                os.close(r)
                os.close(w)
                children.append((0, -1))
                continue
            if pid == 0:  # the child: work its part, write it, leave without the parent's exit handlers
                code = 0
                try:
                    os.close(r)
                    _die_with_parent()
                    data = pickle.dumps(work(chunk), protocol=pickle.HIGHEST_PROTOCOL)
                    with os.fdopen(w, "wb") as out:
                        out.write(data)
                except BaseException:  # noqa: BLE001 - the parent works this part again
                    code = 1
                finally:
                    os._exit(code)
            os.close(w)
            children.append((pid, r))
        results = list(work(chunks[0]))
        for chunk in chunks[1:]:
            pid, r = children[0]
            if not pid:
                children.pop(0)
                results += work(chunk)
                continue
            with os.fdopen(r, "rb") as f:
                children[0] = (pid, -1)  # closed with f, whatever happens
                data = f.read()
            _, status = os.waitpid(pid, 0)
            children.pop(0)
            got: list[U] | None = None
            if os.waitstatus_to_exitcode(status) == 0:
                try:
                    got = pickle.loads(data)
                except Exception:  # noqa: BLE001 - read again below
                    got = None
            results += got if got is not None and len(got) == len(chunk) else work(chunk)
        return results
    finally:
        for pid, r in children:  # interrupted: no part outlives the look
            if not pid:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            if r >= 0:
                os.close(r)
