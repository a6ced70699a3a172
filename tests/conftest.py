from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PLAYBOOKS = ROOT / "playbooks"


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("RUNBOOK_STATE_DIR", str(d))
    return d


@pytest.fixture
def state_dir() -> Path:
    return Path(os.environ["RUNBOOK_STATE_DIR"])


def runbook(*args: str, input: str | None = None, timeout: float = 60, env: dict[str, str] | None = None,
            cwd: str | Path | None = None, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a subprocess (prefix: a command it runs under, such as unshare)."""
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([*(prefix or []), sys.executable, "-m", "runbook.cli", *args], input=input, capture_output=True, text=True,
                       timeout=timeout, env=e, cwd=cwd or ROOT, stdin=None if input is not None else subprocess.DEVNULL)
    _record_look(args, r.stdout)
    return r


def looked(url: str, discover: bool = False, prefix: list[str] | None = None) -> dict[str, dict]:
    """The findings `runbook redis check` names for the server at url (a Sentinel: its own report)."""
    import json

    r = runbook("redis", "check", "--json", *([] if discover else ["--no-discover"]), url, prefix=prefix)
    assert "Traceback" not in r.stderr and r.returncode in (0, 1, 2, 3), r.stderr
    mine = [x for x in json.loads(r.stdout) if x["target"] == url]
    assert mine, f"no report for {url}: {r.stdout[:500]}"
    return {f["id"]: f for f in mine[0]["findings"]}


LOOKS = (("redis", "check"), ("jvm", "check"))


def _record_look(args: tuple[str, ...], stdout: str) -> None:
    """With $RUNBOOK_LOOK_IDS (a directory: .ci/run sets it), the finding ids each one-look command named
    are written there, one file per test process; tests/look_coverage.py then says which ids of the
    catalogue that those commands name no test raised through them."""
    where = os.environ.get("RUNBOOK_LOOK_IDS")
    if not where or tuple(args[:2]) not in LOOKS or "--json" not in args:
        return
    import json

    try:
        reports = json.loads(stdout)
    except ValueError:
        return
    _record(" ".join(args[:2]), {f["id"] for r in reports if isinstance(r, dict) for f in r.get("findings") or []
                                 if isinstance(f, dict)})


def _record(command: str, ids: set[str]) -> None:
    where = os.environ.get("RUNBOOK_LOOK_IDS")
    if where:
        with open(os.path.join(where, f"{os.getpid()}.ids"), "a", encoding="utf-8") as out:
            out.writelines(f"{command}\t{i}\n" for i in sorted(ids))


def redis_look_findings(facts: dict) -> list:
    """The findings of `redis check`'s look (assess_look) of facts read as its look reads them (read_instance
    with the restart command and cwd an inventory would give): the restart-truth tests ask the look this
    way, in-process, and it is recorded like the command's."""
    from runbook.redis.check import assess_look

    found = assess_look(facts)
    _record("redis check", {f.id for f in found})
    return found


def pytest_configure(config: pytest.Config) -> None:
    """One cache of compiled Java programs (runbook.sandbox.java) for the whole run, made empty by the run's
    first process and inherited by its xdist workers: each program is compiled once, not at every JVM start."""
    if "RUNBOOK_TEST_CACHE" not in os.environ:
        import tempfile

        os.environ["RUNBOOK_TEST_CACHE"] = os.environ["RUNBOOK_CACHE_DIR"] = tempfile.mkdtemp(prefix="runbook-test-cache-")
        config._runbook_cache = os.environ["RUNBOOK_TEST_CACHE"]  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    made = getattr(config, "_runbook_cache", None)
    if made:
        import shutil

        shutil.rmtree(made, ignore_errors=True)
        del os.environ["RUNBOOK_TEST_CACHE"]


def pytest_timeout_set_timer(item: pytest.Item, settings: object) -> bool | None:
    """A test over its time (pytest-timeout: `timeout` in pyproject) fails saying where it waited: every
    thread's stack, and for a test on an event loop (Pilot) each task's own awaits, which a thread's stack
    does not show (it is in select())."""
    import signal
    import threading

    import pytest_timeout

    if getattr(settings, "method", None) != "signal" or threading.current_thread() is not threading.main_thread():
        return None  # pytest-timeout's own timer

    def expired(signum: int, frame: object) -> None:
        __tracebackhide__ = True
        _print_tasks()
        pytest_timeout.timeout_sigalrm(item, settings)

    def cancel() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel  # type: ignore[attr-defined]  # pytest-timeout's cancel hook calls it
    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout)  # type: ignore[attr-defined]
    return True


def _print_tasks() -> None:
    import asyncio

    try:
        tasks = asyncio.all_tasks(asyncio.get_running_loop())
    except RuntimeError:
        return  # no loop running in this thread
    sys.stderr.write(f"\n{len(tasks)} asyncio task(s) at the timeout:\n")
    for task in tasks:
        sys.stderr.write(f"  {task.get_name()}:\n")
        aw = task.get_coro()
        while aw is not None:  # the chain of awaits, outermost first (a task's own stack is its top frame)
            frame = getattr(aw, "cr_frame", None) or getattr(aw, "gi_frame", None) or getattr(aw, "ag_frame", None)
            if frame is not None:
                sys.stderr.write(f"    {frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}\n")
            aw = getattr(aw, "cr_await", None) or getattr(aw, "gi_yieldfrom", None) or getattr(aw, "ag_await", None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Every process a test starts is stopped by that test: a redis-server, sshd or java still running
    from the session's temp dirs fails the run (and is killed, so it cannot outlive it)."""
    import psutil

    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller looks once all workers are done, over all their dirs
    # this session's own temp dir (each worker's is inside it): never another suite's running beside it
    base = str(session.config._tmp_path_factory.getbasetemp())  # type: ignore[attr-defined]
    left = []
    for p in psutil.process_iter(["name", "cmdline", "status"]):
        try:
            if p.info["status"] == psutil.STATUS_ZOMBIE or p.info["name"] not in ("redis-server", "redis-sentinel",
                                                                                  "sshd", "java"):
                continue
            if p.cwd().startswith(base) or any(base in a for a in p.info["cmdline"] or []):
                left.append(f"{p.pid} {' '.join(p.info['cmdline'] or [])} (in {p.cwd()})")
                p.kill()
        except psutil.Error:
            continue
    if left:
        session.exitstatus = 1
        print("\nprocesses left running by the tests (killed now):\n  " + "\n  ".join(left))


# The tests that take longest while using little CPU (20-60 s of waiting each: a BGSAVE over a minute, Sentinel's
# own delays, tmux walks through rehearsals, Prometheus scrapes, restarts with their fresh guards), measured per
# test over the parallel run. Started first, so that the run does not end waiting on one of them started last;
# the order of the rest is kept. (The CPU-heavy long ones are not moved: all started at once, they starved the
# machine so that a bare `runbook validate` took 10 s.)
LONG_FIRST = (
    "tests/test_look_faults.py::test_a_bgsave_running_over_a_minute_is_named",
    "tests/test_restart_classes.py::test_a_master_sentinels_would_fail_over",
    "tests/test_tui_tmux.py",
    "tests/test_alerts_prometheus.py",
    "tests/test_action_signals.py",
)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((i for i, p in enumerate(LONG_FIRST) if item.nodeid == p or item.nodeid.startswith(p + "::")
                     or (p.endswith(".py") and item.nodeid.startswith(p))), len(LONG_FIRST))

    items.sort(key=rank)  # stable: within a rank, the collection's order
