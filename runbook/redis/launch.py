"""How a restart starts redis-server: the binary, the config file, the options after it, and the
working directory it starts in.

A declared command may wrap redis-server in `env`, `sh -c`, `sudo -u`, `numactl`, `taskset`,
`nice`, `ionice`, `chrt`, `stdbuf` or `exec`. Those wrappers are peeled off here; they do not
change what redis-server reads, except a change of directory (`env -C`, `cd DIR &&`). A
command that cannot be read this way raises Unprovable: the restart it would run is unknown.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import Any


class Unprovable(Exception):
    """The start command cannot be interpreted: what it runs is unknown."""


@dataclass
class Launch:
    binary: str  # as written in the command
    config_file: str  # "" when redis-server starts without a file
    options: list[str]  # the arguments after the config file, as given
    cwd: str
    cwd_source: str
    source: str  # where the command came from
    user: str = ""  # sudo -u / User=: who the restart runs as
    notes: list[str] = field(default_factory=list)

    def resolved_binary(self, acc: Any = None) -> str | None:
        """The executable the start runs, on the host of acc (this machine by default)."""
        from runbook.access import LOCAL

        return (acc or LOCAL).which(self.binary)

    def overrides(self) -> list[list[str]]:
        """The options as config directives: --port 1 --save "" -> [["port", "1"], ["save", ""]]."""
        out: list[list[str]] = []
        for a in self.options:
            if a.startswith("--"):
                out.append([a[2:]])
            elif out:
                out[-1].append(a)
            else:
                raise Unprovable(f"option {a!r} does not start with --")
        return out


# wrapper -> (options that take a value, whether the wrapper takes one positional before the command)
_WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    "env": (frozenset({"-u", "--unset", "-S", "--split-string"}), 0),
    "sudo": (frozenset({"-u", "--user", "-g", "--group", "-C", "--close-from", "-D", "--chdir", "-h", "--host",
                        "-p", "--prompt", "-r", "--role", "-t", "--type", "-U", "--other-user", "-T",
                        "--command-timeout"}), 0),
    "numactl": (frozenset({"-i", "-m", "-N", "-C", "-p", "--interleave", "--membind", "--cpunodebind",
                           "--physcpubind", "--preferred"}), 0),
    "taskset": (frozenset(), 1),
    "nice": (frozenset({"-n", "--adjustment"}), 0),
    "ionice": (frozenset({"-c", "--class", "-n", "--classdata", "-p", "-P", "-u"}), 0),
    "chrt": (frozenset(), 1),
    "stdbuf": (frozenset({"-i", "-o", "-e", "--input", "--output", "--error"}), 0),
    "exec": (frozenset(), 0),
    "setsid": (frozenset(), 0),
    "nohup": (frozenset(), 0),
}
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh"})


def is_redis_server(word: str) -> bool:
    return os.path.basename(word).startswith("redis-server")


def interpret(argv: list[str] | tuple[str, ...], cwd: str, cwd_source: str, source: str) -> Launch:
    """The Launch of a start command, run from cwd. Raises Unprovable."""
    args = list(argv)
    user = ""
    notes: list[str] = []
    for _ in range(16):  # wrappers nest: sudo -u redis env X=1 numactl -i all redis-server ...
        if not args:
            raise Unprovable("the command is empty")
        word = os.path.basename(args[0])
        if is_redis_server(args[0]):
            break
        if word in _SHELLS:
            args, cwd, cwd_source = _shell(args, cwd, cwd_source)
            continue
        if word not in _WRAPPERS:
            raise Unprovable(f"{args[0]!r} is not redis-server or a wrapper runbook can read "
                             f"({', '.join(sorted(_WRAPPERS))}, sh -c)")
        takes_value, positional = _WRAPPERS[word]
        i = 1
        while i < len(args) and args[i].startswith("-") and args[i] != "--":
            opt, _, inline = args[i].partition("=")
            if word == "env" and opt in ("-C", "--chdir"):
                value = inline or (args[i + 1] if i + 1 < len(args) else "")
                cwd, cwd_source = os.path.normpath(os.path.join(cwd, value)), f"env {opt} in the command"
                i += 1 if inline else 2
                continue
            if word == "env" and opt in ("-S", "--split-string"):
                raise Unprovable("env -S splits a string the way a shell would: not interpreted")
            if word == "sudo" and opt in ("-u", "--user"):
                user = inline or (args[i + 1] if i + 1 < len(args) else "")
            if word == "sudo" and opt in ("-D", "--chdir"):
                value = inline or (args[i + 1] if i + 1 < len(args) else "")
                cwd, cwd_source = os.path.normpath(os.path.join(cwd, value)), f"sudo {opt} in the command"
            if word == "sudo" and opt in ("-i", "--login", "-s", "--shell"):
                raise Unprovable(f"sudo {opt} runs a shell: not interpreted")
            # an option with its value attached (-n10, -oL, --user=x) is one word
            if opt in takes_value and not inline:
                i += 2
            else:
                i += 1
        if i < len(args) and args[i] == "--":
            i += 1
        if word == "env":
            while i < len(args) and "=" in args[i] and not args[i].startswith("="):
                i += 1
        i += positional
        if word == "taskset" and "-p" in args[1:i]:
            raise Unprovable("taskset -p changes a running process; it starts nothing")
        args = args[i:]
    else:
        raise Unprovable("wrappers nested too deep")
    binary = args[0]
    rest = args[1:]
    conf = ""
    if rest and not rest[0].startswith("-"):
        conf = rest.pop(0)
    elif rest and rest[0] == "-":
        raise Unprovable("the config comes from standard input: not known before the restart")
    if conf and not os.path.isabs(conf):
        conf = os.path.normpath(os.path.join(cwd, conf))
    launch = Launch(binary=binary, config_file=conf, options=rest, cwd=cwd, cwd_source=cwd_source, source=source,
                    user=user, notes=notes)
    launch.overrides()  # raises on a stray argument
    return launch


def _shell(args: list[str], cwd: str, cwd_source: str) -> tuple[list[str], str, str]:
    """sh -c 'cd DIR && exec redis-server FILE ...' -> the redis-server words, with DIR as cwd."""
    if len(args) < 3 or args[1] != "-c":
        raise Unprovable(f"{args[0]} without -c SCRIPT: not interpreted")
    script = args[2]
    if any(c in script for c in "$`*?[~{\\"):
        raise Unprovable(f"{args[0]} -c script expands variables, commands or globs: not interpreted")
    try:
        lex = shlex.shlex(script, posix=True, punctuation_chars=";&|<>()")
        lex.whitespace_split = True
        tokens = list(lex)
    except ValueError as e:
        raise Unprovable(f"{args[0]} -c script cannot be split: {e}") from None
    commands: list[list[str]] = [[]]
    for t in tokens:
        if t in ("&&", ";"):
            commands.append([])
        elif t and t[0] in ";&|<>()":
            raise Unprovable(f"{args[0]} -c script uses {t!r}: not interpreted")
        else:
            commands[-1].append(t)
    commands = [c for c in commands if c]
    for c in commands[:-1]:
        if c[0] == "cd" and len(c) == 2:
            cwd, cwd_source = os.path.normpath(os.path.join(cwd, c[1])), "cd in the command's script"
        elif c[0] == "export" or all("=" in w for w in c):
            continue
        else:
            raise Unprovable(f"{args[0]} -c script runs {c[0]!r} before the server: not interpreted")
    if not commands:
        raise Unprovable(f"{args[0]} -c script is empty")
    last = commands[-1]
    if last[0] == "exec":
        last = last[1:]
    return last, cwd, cwd_source


def unit_start(unit: str, read_unit: object) -> tuple[list[str], str, str, str]:
    """(ExecStart argv, WorkingDirectory, User, source) of a systemd unit, from the text
    read_unit(name) -> (text, source) returns."""
    name = unit if "." in unit else unit + ".service"
    text, source = read_unit(name)  # type: ignore[operator]
    exec_start: list[str] = []
    workdir = "/"
    user = ""
    for line in text.splitlines():
        s = line.strip()
        key, eq, value = s.partition("=")
        if not eq:
            continue
        key, value = key.strip(), value.strip()
        if key == "ExecStart":
            v = value.lstrip("-@:+!")
            try:
                exec_start = shlex.split(v) if v else []  # an empty ExecStart= resets the list
            except ValueError:
                exec_start = []
        elif key == "WorkingDirectory":
            workdir = value.lstrip("-") or "/"
            if workdir == "~":
                workdir = os.path.expanduser("~" + user) if user else "/root"
        elif key == "User":
            user = value
    return exec_start, workdir, user, source
