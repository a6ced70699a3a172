"""A swap file of a test's own (root only), switched off and gone at the end whatever happens. Tests that
swap take turns (an flock): two swap files at once would change each other's totals and traffic."""

from __future__ import annotations

import fcntl
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

LOCK = Path("/tmp/runbook-tests-swap.lock")


@contextmanager
def swapfile(path: Path, size_mb: int) -> Iterator[Path]:
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, a killed test's too
        subprocess.run(["fallocate", "-l", f"{size_mb}M", str(path)], check=True)
        path.chmod(0o600)
        subprocess.run(["mkswap", str(path)], check=True, capture_output=True)
        if subprocess.run(["swapon", str(path)], capture_output=True).returncode != 0:
            pytest.skip("swapon is not allowed here")
        try:
            yield path
        finally:
            subprocess.run(["swapoff", str(path)], capture_output=True)
            path.unlink(missing_ok=True)
