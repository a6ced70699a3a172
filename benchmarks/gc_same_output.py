"""Check that `runbook gc analyze --json` prints the same bytes as another revision (default HEAD) for every
log of ../shared/corpus/gc, and with --big for large logs made from the corpus's legacy ones (over 24 MB: read
by one worker per core, which no corpus file is).

The other revision's runbook/ is taken with `git archive` into a temporary directory (the working tree is not
touched); both are run as `python -m runbook.cli` from their own directory.

    .venv/bin/python benchmarks/gc_same_output.py [--rev HEAD] [--big]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "gc"
TK = CORPUS / "gctoolkit-testdata"
# legacy logs repeated past the parallel threshold (the clock goes back at each copy: a restart each time)
BIG = {
    "cms_1073_1": (TK / "gclogs__preunified__cms__parnew__details__1073_1.log", 68),
    "cms_webapp": (TK / "gclogs__preunified__cms__parnew__details__tenuring__par.cms.wd.wt.webapp.log", None),
    "ps_premature2": (TK / "gclogs__preunified__ps__details__premature2.log", None),
    "ps_memoryleak1": (TK / "gclogs__preunified__ps__details__memoryleak1.log", None),
    "serial180": (TK / "gclogs__preunified__serial__defnew__details__tenuring__180__serial180.log", None),
    "cms_defnew": (TK / "gclogs__preunified__cms__defnew__details__defnew.log", None),
    "icms": (TK / "gclogs__preunified__icms__details__par.icms.wd.nt.log", None),
}


def run(tree: Path, path: Path) -> tuple[int, bytes, bytes]:
    r = subprocess.run([sys.executable, "-m", "runbook.cli", "gc", "analyze", "--json", str(path)],
                       capture_output=True, cwd=tree)
    return r.returncode, r.stdout, r.stderr[-2000:]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rev", default="HEAD")
    ap.add_argument("--big", action="store_true", help="also large logs made by repeating legacy ones")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rb-gcsame-"))
    base = tmp / "base"
    base.mkdir()
    tar = subprocess.run(["git", "archive", args.rev, "runbook"], cwd=ROOT, capture_output=True, check=True).stdout
    tarfile.open(fileobj=io.BytesIO(tar)).extractall(base)
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name not in ("LICENSE", "SOURCES.md"))
    if args.big:
        for name, (src, times) in BIG.items():
            data = src.read_bytes()
            n = times or -(-30_000_000 // len(data))
            out = tmp / f"{name}_x{n}.log"
            with open(out, "wb") as f:
                for _ in range(n):
                    f.write(data)
            files.append(out)
    bad = 0
    try:
        for p in files:
            a, b = run(base, p), run(ROOT, p)
            same = a[:2] == b[:2]
            bad += not same
            print(f"{'same' if same else 'DIFFERENT':<10} rc={b[0]} {len(b[1]):>7} B  {p.relative_to(CORPUS) if p.is_relative_to(CORPUS) else p.name}")
            if not same:
                print(f"   {args.rev}: rc={a[0]} {a[2].decode(errors='replace')[-300:]}")
                print(f"   work tree: rc={b[0]} {b[2].decode(errors='replace')[-300:]}")
    finally:
        subprocess.run(["rm", "-rf", str(tmp)])
    print(f"{len(files) - bad} of {len(files)} the same as {args.rev}")
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
