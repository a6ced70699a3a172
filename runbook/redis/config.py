"""Our reading of the config files a restart reads: directives in order, includes (globs too)
inlined, relative paths resolved against the working directory of the moment (which a `dir`
line changes), last directive wins except for repeatable ones.

It is not the judge of what redis-server does: the throwaway (throwaway.py) is. This reading
names the files to copy for it and the few values the throwaway must not act on (port,
unixsocket, replicaof), and it counts only where it agrees with redis-server's own.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from typing import Any

REPEATABLE = frozenset({"save", "rename-command", "loadmodule", "client-output-buffer-limit", "user", "include"})
_UNIT = re.compile(r"^(-?\d+)(k|kb|m|mb|g|gb)$", re.IGNORECASE)
_MULT = {"k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}


class ConfigError(Exception):
    pass


CONFIG_LIMIT = 8 * 1024 * 1024  # a config file is read up to this many bytes


def split_args(line: str) -> list[str] | None:
    """Split a config line like sdssplitargs: quotes, escapes. None when quotes are unbalanced."""
    out: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return out
        cur = []
        if line[i] == '"':
            i += 1
            while True:
                if i >= n:
                    return None
                c = line[i]
                if c == "\\" and i + 1 < n:
                    nx = line[i + 1]
                    if nx == "x" and i + 3 < n and all(ch in "0123456789abcdefABCDEF" for ch in line[i + 2 : i + 4]):
                        cur.append(chr(int(line[i + 2 : i + 4], 16)))
                        i += 4
                        continue
                    cur.append({"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}.get(nx, nx))
                    i += 2
                    continue
                if c == '"':
                    i += 1
                    if i < n and not line[i].isspace():
                        return None
                    break
                cur.append(c)
                i += 1
        elif line[i] == "'":
            i += 1
            while True:
                if i >= n:
                    return None
                c = line[i]
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    cur.append("'")
                    i += 2
                    continue
                if c == "'":
                    i += 1
                    if i < n and not line[i].isspace():
                        return None
                    break
                cur.append(c)
                i += 1
        else:
            while i < n and not line[i].isspace():
                cur.append(line[i])
                i += 1
        out.append("".join(cur))


def normalize(value: str) -> str:
    """'100mb' -> '104857600' (as CONFIG GET reports memory), other values unchanged."""
    parts = value.split()
    out = []
    for p in parts:
        m = _UNIT.match(p)
        out.append(str(int(m[1]) * _MULT[m[2].lower()]) if m else p)
    return " ".join(out)


@dataclass
class Directive:
    name: str
    args: list[str]
    file: str
    line: int


@dataclass
class FileConfig:
    path: str
    directives: list[Directive] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # the file and every include, in order
    problems: list[str] = field(default_factory=list)
    dir: str = ""  # where a restart would chdir (resolved)
    dir_exists: bool = True

    def last(self, name: str) -> Directive | None:
        for d in reversed(self.directives):
            if d.name == name or (name == "replicaof" and d.name == "slaveof"):
                return d
        return None

    def value(self, name: str, default: str = "") -> str:
        d = self.last(name)
        return " ".join(d.args) if d else default

    def saves(self) -> str:
        out: list[str] = []
        for d in self.directives:
            if d.name == "save":
                if d.args in ([""], []):
                    out = []
                else:
                    out += d.args
        return " ".join(out)

    def renames(self) -> dict[str, str]:
        out = {}
        for d in self.directives:
            if d.name == "rename-command" and len(d.args) == 2:
                out[d.args[0].lower()] = d.args[1]
        return out

    def settings(self) -> dict[str, str]:
        """Last value of each directive, units normalised (the parsing fallback of the diff)."""
        out: dict[str, str] = {}
        for d in self.directives:
            if d.name in REPEATABLE:
                continue
            out[d.name if d.name != "slaveof" else "replicaof"] = normalize(" ".join(d.args))
        if any(d.name == "save" for d in self.directives):
            out["save"] = self.saves()
        return out


def flatten(path: str, cwd: str, overrides: list[list[str]] | None = None, max_depth: int = 16,
            acc: Any = None) -> FileConfig:
    """Read a config file as redis-server would at start, from working directory cwd; on this machine,
    or through a host access (runbook.access) for a server on another host."""
    fc = FileConfig(path=path)
    state = {"cwd": cwd}

    def read_text(p: str) -> str:
        if acc is None:
            with open(p, encoding="utf-8", errors="replace") as f:
                return f.read(CONFIG_LIMIT)
        return acc.read(p, CONFIG_LIMIT).decode("utf-8", "replace")

    def is_dir(p: str) -> bool:
        if acc is None:
            return os.path.isdir(p)
        st = acc.stat(p)
        return bool(st) and st["type"] == "directory"

    def matches(pattern: str) -> list[str]:
        if acc is None:
            return sorted(glob.glob(pattern))
        import fnmatch

        parent, name = os.path.split(pattern)
        try:
            return [os.path.join(parent, f) for f in acc.listdir(parent) if fnmatch.fnmatchcase(f, name)]
        except Exception:  # noqa: BLE001 - an include directory that cannot be listed includes nothing
            return []

    def resolve(p: str) -> str:
        return os.path.normpath(p if os.path.isabs(p) else os.path.join(state["cwd"], p))

    def read(p: str, depth: int) -> None:
        if depth > max_depth:
            fc.problems.append(f"{p}: includes nested more than {max_depth} deep")
            return
        try:
            text = read_text(p)
        except OSError as e:
            fc.problems.append(f"{p}: cannot read: {e.strerror}")
            return
        except Exception as e:  # noqa: BLE001 - an AccessError: the message says what and where
            fc.problems.append(f"{p}: cannot read: {e}")
            return
        fc.files.append(p)
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            args = split_args(line)
            if args is None:
                fc.problems.append(f"{p}:{n}: unbalanced quotes")
                continue
            if not args:
                continue
            name = args[0].lower()
            d = Directive(name, args[1:], p, n)
            if name == "include":
                for inc in args[1:]:
                    path = resolve(inc)
                    if any(c in inc for c in "*?["):
                        for match in matches(path):
                            read(match, depth + 1)
                    else:
                        read(path, depth + 1)
                continue
            if name == "dir" and d.args:
                target = resolve(d.args[0])
                if is_dir(target):
                    state["cwd"] = target
                else:
                    fc.dir_exists = False
                    fc.problems.append(f"{p}:{n}: dir {d.args[0]} does not exist: a restart would fail")
                d = Directive(name, [target], p, n)
            fc.directives.append(d)

    if path:
        read(path, 0)
    for ov in overrides or []:
        if ov:
            fc.directives.append(Directive(ov[0].lower(), ov[1:], "<command line>", 0))
            if ov[0].lower() == "dir" and len(ov) > 1:
                state["cwd"] = os.path.normpath(os.path.join(state["cwd"], ov[1]))
    d = fc.last("dir")
    fc.dir = d.args[0] if d and d.args else cwd
    return fc
