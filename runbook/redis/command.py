"""`redis.command`: one allow-listed read command, so a playbook can read SLOWLOG, CLIENT LIST or LATENCY
without new code. Only commands that read, and are cheap, are allowed; the list is checked before anything
is sent, and the reply is plain data (bytes decoded, never interpreted).
"""

from __future__ import annotations

import asyncio
from typing import Any

from runbook.findings import Finding
from runbook.targets import Target

# Every command runbook's Redis probes may send to a server, by ACL name, and the channel they subscribe
# to: the look (INFO, CONFIG GET, ROLE, DBSIZE), the replication, latency, memory, client, Cluster and
# Sentinel probes, a playbook's `redis.command` step, and what only a restart needs (COMMAND INFO of the
# commands clients call, the Sentinels' hello channel, CLUSTER MYID). Nothing that writes, forks, blocks
# or scans keys. The README prints it; a test runs the probes through a user allowed exactly this.
PROBE_COMMANDS = (
    "auth", "ping", "info", "role", "dbsize", "lastsave", "time", "config|get", "client|list", "client|info",
    "slowlog|get", "slowlog|len", "latency|latest", "latency|history", "latency|doctor", "memory|stats",
    "memory|doctor", "acl|whoami", "command|count", "command|info", "module|list", "pubsub|numsub", "subscribe",
    "cluster|info", "cluster|nodes", "cluster|shards", "cluster|myid")
PROBE_CHANNELS = ("__sentinel__:hello",)
# ... and to a Sentinel (a server does not know these commands; a Sentinel has its own users)
SENTINEL_PROBE_COMMANDS = ("auth", "ping", "info", "sentinel|masters", "sentinel|master", "sentinel|replicas",
                           "sentinel|sentinels", "sentinel|ckquorum", "sentinel|get-master-addr-by-name")
# (command, subcommand or None): what a playbook's redis.command step may send (SUBSCRIBE would hold the
# connection; AUTH is the connection's own)
ALLOWED = frozenset((c.partition("|")[0].upper(), c.partition("|")[2].upper() or None)
                    for c in PROBE_COMMANDS + SENTINEL_PROBE_COMMANDS if c not in ("auth", "subscribe"))


def probe_acl(user: str = "probe", password: str = "pw") -> str:
    """The ACL SETUSER rules of a user that can run every probe and nothing else."""
    return " ".join([user, "on", f">{password}", "resetkeys", "resetchannels",
                     *(f"&{c}" for c in PROBE_CHANNELS), "-@all", *(f"+{c}" for c in PROBE_COMMANDS if c != "auth")])


class CommandRefused(ValueError):
    pass


def check_allowed(command: Any) -> list[str]:
    """The command as a list of words, or CommandRefused: a list of strings whose first word (and
    subcommand) is on the allow-list."""
    if not isinstance(command, list) or not command or not all(isinstance(w, (str, int)) for w in command):
        raise CommandRefused("params.command is a list of words, such as [SLOWLOG, GET, 10]")
    words = [str(w) for w in command]
    name = words[0].upper()
    sub = words[1].upper() if len(words) > 1 else None
    if (name, None) in ALLOWED or (name, sub) in ALLOWED:
        return words
    allowed = ", ".join(sorted(f"{a} {b}" if b else a for a, b in ALLOWED))
    raise CommandRefused(f"{' '.join(words[:2])} is not a read command runbook sends; allowed: {allowed}")


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, Exception):
        return {"error": str(v)}
    return v


def read_many(url: str, commands: list[list[str]], timeout: float) -> tuple[dict[str, Any], list[Any]]:
    """Allow-listed read commands in one pipeline on one connection: (facts with url, reachable, error;
    the plain replies, an error reply as {"error": ...}). Never raises for a dead host."""
    return asyncio.run(read_many_async(url, commands, timeout))


async def read_many_async(url: str, commands: list[list[str]], timeout: float) -> tuple[dict[str, Any], list[Any]]:
    """read_many, awaited inside a look that reads many servers at once."""
    for words in commands:
        check_allowed(words)
    return await _read_many(url, commands, timeout)


async def _read_many(url: str, commands: list[list[str]], timeout: float) -> tuple[dict[str, Any], list[Any]]:
    from runbook.redis.connect import RedisUrlError, connection_kwargs
    from runbook.redis.wire import Wire, WireError
    from runbook.secrets import mask_url

    facts: dict[str, Any] = {"url": mask_url(url), "reachable": False}
    w = None
    try:
        w = await Wire.open(connection_kwargs(url, timeout), timeout)
        replies = await w.call(commands)
        facts["reachable"] = True
        return facts, [_plain(r) for r in replies]
    except (WireError, RedisUrlError) as e:
        facts["error"] = str(e)
        return facts, []
    finally:
        if w is not None:
            await w.close()


async def _read(url: str, words: list[str], timeout: float) -> dict[str, Any]:
    from runbook.redis.connect import connection_kwargs
    from runbook.redis.wire import Wire, WireError
    from runbook.secrets import mask_url

    facts: dict[str, Any] = {"url": mask_url(url), "command": words, "reachable": False}
    w = None
    try:
        w = await Wire.open(connection_kwargs(url, timeout), timeout)
        (reply,) = await w.call([words])
        facts["reachable"] = True
        facts["reply"] = _plain(reply)
        if words[0].upper() == "CONFIG" and isinstance(facts["reply"], list):
            from runbook.redis.info import pairs_to_dict

            facts["reply"] = pairs_to_dict(facts["reply"])  # name -> value, so secret names are masked
        if isinstance(reply, Exception):
            facts["error"] = str(reply)
    except WireError as e:
        facts["error"] = str(e)
    finally:
        if w is not None:
            await w.close()
    return facts


def probe(target: Target, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    from runbook.secrets import mask_mapping

    words = check_allowed(params.get("command"))
    facts = asyncio.run(_read(target.url, words, timeout))
    return mask_mapping(facts)  # CONFIG GET requirepass answers in clear


def assess(facts: dict[str, Any]) -> list[Finding]:
    return []
