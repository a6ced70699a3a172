"""The rehearsals' Java programs, compiled once and run from a cache. A source launch (`java File.java`)
compiles the file inside the JVM at every start: 1.6 CPU-s and a second before main() on this kind of
machine, against 0.1 s for the compiled class. The cache is keyed by the source's bytes and the javac that
compiled it, so an edited program or another JDK compiles afresh; without javac, or when it fails, the
program is launched from its source as before."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    """$RUNBOOK_CACHE_DIR, else $XDG_CACHE_HOME/runbook, else ~/.cache/runbook; the classes in java/."""
    base = os.environ.get("RUNBOOK_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "runbook")
    return Path(base) / "java"


def program(src: Path) -> list[str]:
    """The java arguments that run src's public class (named as the file): ["-cp", DIR, NAME] from the cache,
    compiled on first use, or [src] (a source launch) when it cannot be compiled."""
    javac = shutil.which("javac")
    if not javac:
        return [str(src)]
    real = os.path.realpath(javac)
    key = hashlib.sha256(src.read_bytes() + f"\0{real}\0{os.stat(real).st_mtime_ns}".encode()).hexdigest()[:20]
    root = cache_dir()
    done = root / f"{src.stem}-{key}"
    if (done / f"{src.stem}.class").is_file():
        return ["-cp", str(done), src.stem]
    try:
        root.mkdir(parents=True, exist_ok=True)
        build = tempfile.mkdtemp(prefix=".build-", dir=root)
    except OSError:
        return [str(src)]
    try:
        r = subprocess.run([javac, "-d", build, str(src)], capture_output=True, timeout=120)
        if r.returncode != 0 or not os.path.isfile(os.path.join(build, f"{src.stem}.class")):
            return [str(src)]
        try:
            os.rename(build, done)  # whole or not at all: another process may be compiling the same file
        except OSError:
            if not (done / f"{src.stem}.class").is_file():
                return [str(src)]
    except (OSError, subprocess.TimeoutExpired):
        return [str(src)]
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return ["-cp", str(done), src.stem]
