"""Benchmark: `runbook gc analyze` on the unzipped jdk11_details log (47 MB unified G1), four copies of it
concatenated (190 MB), and a legacy CMS log of similar size (the corpus's 1073_1 CMS log repeated to
about 50 MB). Prints MB/s (best of --repeat, timed alone) and the peak memory of the whole process tree (the command
and its workers, sampled in a separate run).

    .venv/bin/python benchmarks/gc_analyze.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "gc" / "gctoolkit-testdata"


def timed(path: Path) -> float:
    """Wall seconds of the whole command (nothing else running: sampling memory would steal a core)."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "runbook.cli", "gc", "analyze", "--json", str(path)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - t


def peak(path: Path) -> int:
    """Peak RSS (bytes) summed over the process and its children, sampled every 25 ms, in a separate run."""
    p = subprocess.Popen([sys.executable, "-m", "runbook.cli", "gc", "analyze", "--json", str(path)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    proc = psutil.Process(p.pid)
    top = 0
    while p.poll() is None:
        try:
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            top = max(top, rss)
        except psutil.Error:
            pass
        time.sleep(0.025)
    return top


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rb-gcbench-"))
    try:
        with zipfile.ZipFile(CORPUS / "gclogs__unified__g1gc__jdk11_details.log.zip") as z:
            z.extractall(tmp)
        g1 = tmp / "jdk11_details.log"
        x4 = tmp / "jdk11_details_x4.log"
        with open(x4, "wb") as out:
            for _ in range(4):
                out.write(g1.read_bytes())
        cms_src = (CORPUS / "gclogs__preunified__cms__parnew__details__1073_1.log").read_bytes()
        cms = tmp / "cms_1073_x68.log"
        with open(cms, "wb") as out:
            for _ in range(68):
                out.write(cms_src)
        print(f"{'log':<34} {'MB':>7} {'best s':>8} {'MB/s':>8} {'peak MB':>8}")
        for label, path in (("unified G1 jdk11_details", g1), ("unified G1 jdk11_details x4", x4), ("legacy CMS 1073_1 x68", cms)):
            size = path.stat().st_size / 1e6
            best = min(timed(path) for _ in range(args.repeat))
            mem = peak(path) / 1e6
            print(f"{label:<34} {size:>7.1f} {best:>8.2f} {size / best:>8.1f} {mem:>8.1f}")
        print(f"(cpus: {os.cpu_count()})")
    finally:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
