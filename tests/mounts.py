"""Small filesystems of a test's own (root only), unmounted at the end whatever happens: a tmpfs, or an
ext4 file system on a loop device (what node_exporter reports as a disk; the host alert rules leave tmpfs out)."""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


def _mount(argv: list[str], what: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"needs root to mount {what}")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if r.returncode:
        pytest.skip(f"cannot mount {what} here: {r.stderr.strip()}")


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    _mount(["mount", "-t", "tmpfs", "-o", f"size={size}", "runbook-test", str(path)], "a tmpfs")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=10)


@contextmanager
def ext4(path: Path, size_mb: int) -> Iterator[Path]:
    """An ext4 of size_mb on a loop device at path, no blocks reserved for root (so what is free is available)."""
    image = path.with_suffix(".img")
    with open(image, "wb") as f:
        f.truncate(size_mb << 20)
    r = subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)], capture_output=True, text=True, timeout=30)
    if r.returncode:
        pytest.skip(f"cannot make an ext4 file system here: {r.stderr.strip()}")
    path.mkdir()
    _mount(["mount", "-o", "loop", str(image), str(path)], "a loop device")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-d", str(path)], capture_output=True, timeout=30)  # -d frees the loop device
        image.unlink(missing_ok=True)
