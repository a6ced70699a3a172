"""Benchmark: `runbook gc analyze` on the unzipped jdk11_details log (47 MB unified G1), four copies of it
concatenated (190 MB), and a legacy CMS log of similar size (the corpus's 1073_1 CMS log repeated to
about 50 MB). Prints MB/s (best of --repeat, timed alone) and the peak memory of the whole process tree (the command
and its workers, sampled in a separate run).

With --gcviewer CLASSES (a GCViewer build: benchmarks/build_gcviewer.sh), GCViewer reads the same files in the
same run, headless, writing its summary: once with -Xmx128m and once with the JVM's default heap.

Each file is also read by `grep -c Pause` in the same run (its output through a pipe: grep stops at the first
match when it writes to /dev/null): the ratio to it is the figure that survives a slower machine. And the
number of collections per MB: a legacy CMS log holds 30 times more of them per MB than a G1 details log.

    .venv/bin/python benchmarks/gc_analyze.py [--repeat 3] [--gcviewer /tmp/gcviewer/classes]
"""

from __future__ import annotations

import argparse
import json
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


def runbook_cmd(path: Path) -> list[str]:
    return [sys.executable, "-m", "runbook.cli", "gc", "analyze", "--json", str(path)]


def gcviewer_cmd(classes: str, heap: str | None):
    def cmd(path: Path) -> list[str]:
        return ["java", *([f"-Xmx{heap}"] if heap else []), "-Djava.awt.headless=true", "-cp", classes,
                "com.tagtraum.perf.gcviewer.GCViewer", str(path), str(path) + ".summary.csv", "-t", "SUMMARY"]
    return cmd


def timed(cmd: list[str]) -> float:
    """Wall seconds of the whole command (nothing else running: sampling memory would steal a core)."""
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    if r.returncode not in (0, 1, 2):  # runbook: 1 and 2 are findings (warning, critical)
        raise SystemExit(f"{cmd[0]} failed ({r.returncode}): {r.stderr.decode(errors='replace')[-500:]}")
    return time.perf_counter() - t


def peak(cmd: list[str]) -> int:
    """Peak RSS (bytes) summed over the process and its children, sampled every 25 ms, in a separate run."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
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
    ap.add_argument("--gcviewer", metavar="CLASSES", help="a GCViewer build's classes directory or jar")
    args = ap.parse_args()
    readers = [("runbook", runbook_cmd)]
    if args.gcviewer:
        readers += [("GCViewer -Xmx128m", gcviewer_cmd(args.gcviewer, "128m")),
                    ("GCViewer default heap", gcviewer_cmd(args.gcviewer, None))]
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
        print(f"{'reader':<22} {'log':<30} {'MB':>7} {'best s':>8} {'MB/s':>8} {'peak MB':>8} {'x grep':>7}")
        for label, path in (("unified G1 jdk11_details", g1), ("unified G1 jdk11_details x4", x4), ("legacy CMS 1073_1 x68", cms)):
            size = path.stat().st_size / 1e6
            grep = min(timed(["grep", "-c", "Pause", str(path)]) for _ in range(args.repeat))
            pauses = json.loads(subprocess.run(runbook_cmd(path), capture_output=True, cwd=ROOT).stdout)["pauses"]["count"]
            print(f"{'grep -c Pause':<22} {label:<30} {size:>7.1f} {grep:>8.2f} {size / grep:>8.1f} {'':>8} {1:>7.1f}"
                  f"   ({pauses / size:,.0f} collections per MB)")
            for reader, cmd in readers:
                best = min(timed(cmd(path)) for _ in range(args.repeat))
                mem = peak(cmd(path)) / 1e6
                print(f"{reader:<22} {label:<30} {size:>7.1f} {best:>8.2f} {size / best:>8.1f} {mem:>8.1f} {best / grep:>7.1f}")
        print(f"(cpus: {os.cpu_count()})")
    finally:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
