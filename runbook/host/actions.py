"""Host actions: run a declared command (an argument list, never through a shell)."""

from __future__ import annotations

import shlex
from typing import Any

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
        where = f" (on {target.ssh}, over ssh)" if target.ssh else ""
        return shlex.join(_argv(target, params)) + where

    @staticmethod
    def run(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
        from runbook.access import AccessError
        from runbook.host.probes import NotThisHost, host_access

        try:
            acc = host_access(target)
        except NotThisHost as e:
            return {"ok": False, "error": str(e)}
        argv = _argv(target, params)
        t = float(params.get("timeout") or timeout)
        try:
            r = acc.run(argv, t)  # locally the whole process group is killed on timeout
        except AccessError as e:
            return {"ok": False, "error": f"{e} (it may or may not have run: check before running it again)"}
        if r.rc == 127 and not r.stdout:
            return {"ok": False, "error": f"command not found: {argv[0]}"}
        out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
        return expect({"ok": True, "exit_code": r.rc, "stdout": out[-4000:], "stderr": err[-4000:], "via": acc.name},
                      "exit code 0", r.rc == 0, f"exit code {r.rc}")
