"""Host actions: run a declared command (an argument list, never through a shell)."""

from __future__ import annotations

import shlex
import subprocess
from typing import Any

from runbook import procs
from runbook.expect import expect
from runbook.targets import Target


def _argv(target: Target, params: dict[str, Any]) -> list[str]:
    cmd = params.get("command")
    if not cmd and target.restart_command:
        cmd = list(target.restart_command)
    if not isinstance(cmd, list) or not cmd or not all(isinstance(x, (str, int, float)) for x in cmd):
        raise ValueError("host.command needs params.command: a non-empty list of arguments")
    return [str(x) for x in cmd]


class Command:
    @staticmethod
    def describe(target: Target, params: dict[str, Any]) -> str:
        return shlex.join(_argv(target, params))

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        from runbook.host.probes import NotThisHost, require_local

        try:
            require_local(target)
        except NotThisHost as e:
            return {"ok": False, "error": str(e)}
        argv = _argv(target, params)
        t = float(params.get("timeout") or timeout)
        try:
            p = procs.run(argv, t, text=True)  # on timeout the whole process group is killed
        except FileNotFoundError:
            return {"ok": False, "error": f"command not found: {argv[0]}"}
        except subprocess.TimeoutExpired:
            return {"ok": False, "error": f"timed out after {t:g} s (its processes were killed)"}
        return expect({"ok": True, "exit_code": p.returncode, "stdout": p.stdout[-4000:], "stderr": p.stderr[-4000:]},
                      "exit code 0", p.returncode == 0, f"exit code {p.returncode}")
