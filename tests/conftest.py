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
            cwd: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a subprocess."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "runbook.cli", *args], input=input, capture_output=True, text=True,
                          timeout=timeout, env=e, cwd=cwd or ROOT, stdin=None if input is not None else subprocess.DEVNULL)
