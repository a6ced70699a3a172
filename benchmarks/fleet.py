"""Benchmark: `runbook fleet` over 1,000 and 10,000 instances on a real Prometheus (Debian's), their series
served by the tests' fleet exporter (tests/fleet_exporter.py: realistic INFO-derived series, 1 in 100
instances in a fault) and scraped every 15 s (a common interval).

    .venv/bin/python benchmarks/fleet.py [--sizes 1000,10000] [--repeat 3]

Prints, per size: the wall time of the whole command (`runbook fleet --json`, interpreter start included;
best of --repeat), the time of the read and ranking inside it (queries, parsing, rules), the number of
queries, and runbook's peak RSS (its own getrusage, the largest of the runs).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fleet_exporter import FleetExporter, planted  # noqa: E402
from prometheus import Prometheus, wait_for  # noqa: E402

# runbook's own command line, then its peak RSS on stderr (ru_maxrss is in KiB on Linux)
RUN = ("import resource, sys\nfrom runbook.cli import main\ncode = main(sys.argv[1:])\n"
       "sys.stderr.write(f'maxrss_kib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n')\nsys.exit(code)\n")


def one(prom: Prometheus) -> tuple[float, float, int, int, int]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", RUN, "fleet", "--prometheus", prom.url, "--json", "--window", "1m"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    wall = time.perf_counter() - t
    if r.returncode not in (0, 1, 2):
        raise SystemExit(f"runbook fleet exited {r.returncode}: {r.stderr[-2000:]}")
    out = json.loads(r.stdout)
    rss = int(r.stderr.rsplit("maxrss_kib=", 1)[1].split()[0])
    return wall, out["seconds"], out["queries"], rss, len(out["instances"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "runbook")], check=True)
    tmp = Path(tempfile.mkdtemp(prefix="rb-fleet-bench-"))
    print(f"{'instances':>9} {'planted':>8} {'queries':>8} {'wall s':>7} {'read+rank s':>12} {'peak RSS MB':>12}")
    for n in (int(x) for x in args.sizes.split(",")):
        ex = FleetExporter(tmp, n).start()
        prom = Prometheus(tmp, f"prometheus-{n}")
        try:
            prom.start_jobs(ex.jobs("15s"))
            wait_for(lambda: prom.query("count(redis_up)") and int(prom.query("count(redis_up)")[0]["value"][1]) == n,
                     f"all {n:,} instances scraped", timeout=120, every=0.5)
            runs = [one(prom) for _ in range(args.repeat)]
            assert all(r[4] == n for r in runs), [r[4] for r in runs]
            wall, inner, queries = min(r[0] for r in runs), min(r[1] for r in runs), runs[0][2]
            rss = max(r[3] for r in runs) / 1024
            print(f"{n:>9,} {len(planted(n)):>8} {queries:>8} {wall:>7.2f} {inner:>12.2f} {rss:>12.0f}", flush=True)
        finally:
            prom.stop()
            ex.stop()


if __name__ == "__main__":
    main()
