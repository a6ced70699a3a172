"""The restart simulation's result, read as one typed value.

The simulation (preview.py) writes its result into the facts as plain data (facts are JSON: they are
journalled, recorded in scenarios and replayed). Everything that judges a restart reads it through
RestartPreview: which shutdown mode an action asks for, whether the server's own host was reached,
what is unproven, and how many keys a restart leaves in each mode. The guard, the findings and the
command line then agree by construction: a restart's data loss is decided here, once per mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SHUTDOWN_MODES = ("default", "save", "nosave")


def shutdown_mode(params: dict[str, Any], default: str = "default") -> str:
    """The shutdown mode a step's params ask for: redis.shutdown's `save` (true: SAVE, false: NOSAVE),
    else redis.restart's `shutdown`, else the default. The one place it is worked out."""
    if isinstance(params.get("save"), bool):
        return "save" if params["save"] else "nosave"
    mode = params.get("shutdown")
    return mode if mode in SHUTDOWN_MODES else default


@dataclass(frozen=True)
class Loss:
    """Keys a restart in one shutdown mode leaves fewer than are live, and why."""

    mode: str
    keys_live: int
    keys_after: int | None  # None: unknown how many (a memory limit evicts from the first write)
    why: str
    safe_modes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RestartPreview:
    raw: dict[str, Any]

    @classmethod
    def of(cls, facts: dict[str, Any]) -> "RestartPreview":
        return cls(facts.get("restart_preview") or {})

    def __bool__(self) -> bool:
        return bool(self.raw)

    @property
    def simulated(self) -> bool:
        """A copy of the restart was started (a look without --restart reads the files only)."""
        return bool(self.raw) and bool(self.raw.get("simulated", True))

    @property
    def reached(self) -> bool:
        """The server's own host was read (this machine, or over ssh). Recordings made before ssh say
        "local" instead."""
        return bool(self.raw.get("reached", self.raw.get("local")))

    @property
    def mode(self) -> str:
        """The shutdown mode the simulation judged."""
        return str(self.raw.get("shutdown") or "default")

    @property
    def unproven(self) -> list[str]:
        return list(self.raw.get("unproven") or [])

    @property
    def keys_live(self) -> int:
        return int(self.raw.get("keys_live") or 0)

    @property
    def fails(self) -> str:
        """Why the restart would not come up ("" when it would)."""
        return str(self.raw.get("restart_fails") or "")

    def keys_after(self, mode: str | None = None) -> int | None:
        """Keys after a restart in this shutdown mode (None: not known)."""
        mode = mode or self.mode
        outcome = (self.raw.get("outcomes") or {}).get(mode)
        if outcome is None:
            return self.raw.get("keys_after") if mode == self.mode else None
        return outcome.get("keys_after")

    def loss(self, mode: str | None = None) -> Loss | None:
        """The data a restart in this mode loses, or None. The simulation judged its own mode; for another,
        a memory limit that evicts loses keys in every mode, and otherwise that mode's outcome decides
        (nothing is lost by a restart that fails, or by a replica that syncs its data back)."""
        mode = mode or self.mode
        judged = self.raw.get("data_loss") or None
        if judged and (mode == self.mode or "maxmemory" in str(judged.get("why"))):
            return Loss(mode, int(judged.get("keys_live") or self.keys_live), judged.get("keys_after"),
                        str(judged.get("why") or ""), tuple(judged.get("safe_modes") or ()))
        if mode == self.mode or self.fails or self.raw.get("resyncs_from_current_master"):
            return None
        after = self.keys_after(mode)
        if isinstance(after, int) and after < self.keys_live:
            why = ("SHUTDOWN NOSAVE writes nothing: the start reads what is on disk now" if mode == "nosave"
                   else "the start reads what is on disk now, which holds fewer keys than the server")
            return Loss(mode, self.keys_live, after, why)
        return None
