"""Which finding ids of the catalogue that `redis check` and `jvm check` name were raised through those
commands by the suite: run after the suite with $RUNBOOK_LOOK_IDS set (.ci/run does), it exits 1 naming
every id no test raised through the command the catalogue says names it.

    RUNBOOK_LOOK_IDS=DIR pytest ... ; python tests/look_coverage.py DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runbook import catalog  # noqa: E402

COMMANDS = ("redis check", "jvm check")

# Named by a look, but not raised through it here, each for a reason outside the code (and raised through its
# probe by a test that says so)
NOT_HERE: dict[str, str] = {}


def main() -> int:
    seen: dict[str, set[str]] = {c: set() for c in COMMANDS}
    for f in Path(sys.argv[1]).glob("*.ids"):
        for line in f.read_text(encoding="utf-8").splitlines():
            cmd, _, rid = line.partition("\t")
            seen.setdefault(cmd, set()).add(rid)
    missing, n = [], 0
    for r in catalog.RULES.values():
        for cmd in COMMANDS:
            if any(x.startswith(cmd) for x in r.named_by):
                n += 1
                if r.id not in seen[cmd] and r.id not in NOT_HERE:
                    missing.append(f"{r.id} ({cmd})")
    print(f"one-look coverage: {n - len(missing) - len(NOT_HERE)} of {n} ids raised through the command that names "
          "them" + (f"; {len(NOT_HERE)} not here: " + "; ".join(f"{k}: {v}" for k, v in NOT_HERE.items()) if NOT_HERE else ""))
    if missing:
        print("never raised through their command:\n  " + "\n  ".join(missing))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
