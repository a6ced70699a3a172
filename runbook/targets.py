"""Targets: named roles of a playbook (master, replicas, app, host) bound at run time.

A binding comes from `--target NAME=URL` or from an inventory file, which may also say
how the target is restarted (a command or a systemd unit) and where its config and
logs are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from runbook.kind import kinds, names
from runbook.secrets import MASK, mask_ssh_option, mask_url


class TargetError(Exception):
    pass


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    kind: str
    restart_command: tuple[str, ...] = ()
    restart_unit: str = ""
    restart_cwd: str = ""  # where a declared restart command runs (default: the server's working directory)
    config: str = ""
    logs: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    ssh: str = ""  # [user@]host[:port]: the host is read and acted on over the engineer's own ssh
    ssh_options: tuple[str, ...] = ()  # Key=Value, given to ssh as -o
    data: str = ""  # "store" or "cache": whether a restart that empties it is an incident ("" = judged from it)
    addresses: tuple[str, ...] = ()  # other names of its host, as alerts' labels give them (10.0.0.5, db7.internal)

    @property
    def display(self) -> str:
        return f"{self.name}={mask_url(self.url)}"

    @property
    def pid(self) -> int | None:
        if self.url.startswith("pid:"):
            return int(self.url[4:])
        return None

    def to_dict(self, masked: bool = True) -> dict[str, Any]:
        """Every field of the target (from_dict reads it back whole); masked for the journal and screens,
        unmasked only for runbook's own action runner, through a pipe."""
        d: dict[str, Any] = {"name": self.name, "url": mask_url(self.url) if masked else self.url, "kind": self.kind}
        if self.restart_command:
            known = self.secrets() if masked else set()
            d["restart_command"] = [MASK if x in known else x for x in self.restart_command]
        if self.restart_unit:
            d["restart_unit"] = self.restart_unit
        if self.restart_cwd:
            d["restart_cwd"] = self.restart_cwd
        if self.config:
            d["config"] = self.config
        if self.logs:
            d["logs"] = list(self.logs)
        if self.ssh:
            d["ssh"] = self.ssh
        if self.ssh_options:
            d["ssh_options"] = [mask_ssh_option(o) for o in self.ssh_options] if masked else list(self.ssh_options)
        if self.data:
            d["data"] = self.data
        if self.addresses:
            d["addresses"] = list(self.addresses)
        return d

    def secrets(self) -> set[str]:
        """Every secret value the target carries: the URL's password (user part, or a password= query),
        the values of secret options in its restart command (--requirepass x), and of its ssh options
        (SetEnv=REDISCLI_AUTH=x). The journal masks each of them wherever it appears."""
        from urllib.parse import parse_qsl, urlsplit

        from runbook.secrets import is_secret_flag, is_secret_key, mask_ssh_option

        out: set[str] = set()
        try:
            parts = urlsplit(self.url)
            if parts.password:
                out.add(parts.password)
            elif parts.username and "@" in parts.netloc and mask_url(self.url) != self.url:
                out.add(parts.username)  # redis://secret@host: a lone user part is the password
            out.update(v for k, v in parse_qsl(parts.query) if v and is_secret_key(k))
        except ValueError:
            pass
        cmd = self.restart_command
        out.update(cmd[i + 1] for i in range(len(cmd) - 1) if is_secret_flag(cmd[i]))
        for o in self.ssh_options:
            if mask_ssh_option(o) != o:
                value = o.partition("=")[2] if "=" in o else o.partition(" ")[2]
                out.update(w.split("=", 1)[1] if "=" in w and o.lower().startswith("setenv") else w
                           for w in value.split())
        return {v for v in out if v}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Target":
        """The target to_dict wrote, every field by its name."""
        return cls(name=str(d["name"]), url=str(d["url"]), kind=str(d["kind"]),
                   restart_command=tuple(str(x) for x in d.get("restart_command") or ()),
                   restart_unit=str(d.get("restart_unit") or ""), restart_cwd=str(d.get("restart_cwd") or ""),
                   config=str(d.get("config") or ""), logs=tuple(str(x) for x in d.get("logs") or ()),
                   ssh=str(d.get("ssh") or ""), ssh_options=tuple(str(x) for x in d.get("ssh_options") or ()),
                   data=str(d.get("data") or ""), addresses=tuple(str(x) for x in d.get("addresses") or ()))


def to_inventory_entry(t: Target) -> dict[str, Any]:
    """The inventory form of a target (from_inventory_entry reads it back)."""
    d: dict[str, Any] = {"kind": t.kind, "url": t.url}
    if t.restart_command:
        d["restart"] = {"command": list(t.restart_command), **({"cwd": t.restart_cwd} if t.restart_cwd else {})}
    elif t.restart_unit:
        d["restart"] = {"unit": t.restart_unit}
    if t.config:
        d["config"] = t.config
    if t.logs:
        d["logs"] = list(t.logs)
    if t.ssh:
        d["ssh"] = t.ssh
    if t.ssh_options:
        d["ssh_options"] = list(t.ssh_options)
    if t.addresses:
        d["addresses"] = list(t.addresses)
    if t.data:
        d["data"] = t.data
    return d


def kind_of(url: str) -> str:
    """The kind whose URLs these are (each kind says which are its: runbook/KIND/kind.py)."""
    for k in kinds():
        try:
            if k.claims(url):
                return k.name
        except ValueError as e:
            raise TargetError(str(e)) from None
    raise TargetError(f"cannot tell what {mask_url(url)!r} is: use "
                      + ", ".join(k.url_help for k in sorted(kinds(), key=lambda k: k.name == "host")))


def parse_binding(text: str) -> Target:
    name, sep, url = text.partition("=")
    if not sep or not name or not url:
        raise TargetError(f"expected NAME=URL, got {mask_url(text)!r}")
    if not name.replace("-", "").replace("_", "").isalnum():
        raise TargetError(f"target name {name!r} may only hold letters, digits, - and _")
    if url.startswith("ssh://"):  # a host over ssh
        _check_ssh(name, url[6:], ())
        return Target(name=name, url=url, kind="host", ssh=url[6:].rstrip("/"))
    return Target(name=name, url=url, kind=kind_of(url))


def _check_ssh(name: str, dest: str, options: tuple[str, ...]) -> None:
    from runbook.access import Ssh

    try:
        Ssh(dest, options)
    except ValueError as e:
        raise TargetError(f"target {name!r}: {e}") from None


def from_inventory_entry(name: str, entry: dict[str, Any]) -> Target:
    if not isinstance(entry, dict) or "url" not in entry:
        raise TargetError(f"inventory target {name!r} needs a url")
    url = str(entry["url"])
    restart = entry.get("restart") or {}
    if not isinstance(restart, dict):
        raise TargetError(f"inventory target {name!r}: restart must be a mapping with command or unit")
    command = restart.get("command") or ()
    if isinstance(command, str):
        raise TargetError(
            f"inventory target {name!r}: restart.command must be a list of arguments, not a shell string"
        )
    logs = entry.get("logs") or ()
    if isinstance(logs, str):
        logs = (logs,)
    dest = str(entry.get("ssh") or "")
    options = entry.get("ssh_options") or ()
    if isinstance(options, str) or not all(isinstance(o, str) for o in options):
        raise TargetError(f"inventory target {name!r}: ssh_options is a list of Key=Value strings")
    if url.startswith("ssh://") and not dest:
        dest = url[6:].rstrip("/")
    if dest:
        _check_ssh(name, dest, tuple(options))
    data = str(entry.get("data") or "")
    if data not in ("", "store", "cache"):
        raise TargetError(f"inventory target {name!r}: data is store or cache, not {data!r}")
    addresses = entry.get("addresses") or ()
    if isinstance(addresses, str):
        addresses = (addresses,)
    if not all(isinstance(a, str) and a and "/" not in a for a in addresses):
        raise TargetError(f"inventory target {name!r}: addresses is a list of host names or addresses")
    kind = str(entry.get("kind") or kind_of(url))
    if kind not in names():
        raise TargetError(f"inventory target {name!r}: kind {kind!r} is not one of {', '.join(names())}")
    return Target(
        name=name,
        url=url,
        kind=kind,
        restart_command=tuple(str(c) for c in command),
        restart_unit=str(restart.get("unit") or ""),
        restart_cwd=str(restart.get("cwd") or ""),
        config=str(entry.get("config") or ""),
        logs=tuple(str(x) for x in logs),
        ssh=dest,
        ssh_options=tuple(options),
        data=data,
        addresses=tuple(a.lower() for a in addresses),
    )


def load_inventory(path: str | Path) -> dict[str, Target]:
    from runbook.yamlfile import YamlFileError, read_mapping

    p = Path(path)
    try:
        data = read_mapping(p, "inventory")
    except YamlFileError as e:
        raise TargetError(str(e)) from None
    if not isinstance(data.get("targets"), dict):
        raise TargetError(f"{p}:1:1: an inventory is a mapping with a 'targets' mapping")
    out = {}
    for name, entry in data["targets"].items():
        try:
            out[str(name)] = from_inventory_entry(str(name), entry)
        except TargetError as e:
            raise TargetError(f"{p}: {e}") from None
    return out
