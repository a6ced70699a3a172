"""What runbook's two apps (the driver and the read-only watcher) share, whatever their screens."""

from __future__ import annotations

from textual import events
from textual.app import App


class BaseApp(App[int]):
    async def on_event(self, event: events.Event) -> None:
        # A key typed as the app closes can come back up from a widget after the last screen is gone; Textual
        # would then fail looking for its bindings, and the exit would end in a traceback
        if isinstance(event, events.Key) and not self.screen_stack:
            return
        await super().on_event(event)
