"""The engineer, through the screen: the session runs in a worker thread and asks here; the UI
answers on its own thread. Nothing here decides anything: it carries questions and answers."""

from __future__ import annotations

import threading
from typing import Any, Callable

from runbook.engine.operators import Answer, ConfirmRequest, Interrupted
from runbook.playbook.model import Step


class Cancelled(Exception):
    pass


class TuiOperator:
    def __init__(self, call_ui: Callable[..., Any], ask_ack: Callable[[Step, "Reply"], None],
                 ask_confirm: Callable[[ConfirmRequest, "Reply"], None],
                 ask_retry: Callable[[Step, "Reply"], None] | None = None,
                 ask_consent: Callable[[Step, str, str, "Reply"], None] | None = None,
                 show_waiting: Callable[[dict[str, Any]], None] | None = None,
                 hide_waiting: Callable[[], None] | None = None) -> None:
        self.call_ui = call_ui  # app.call_from_thread
        self.ask_ack = ask_ack
        self.ask_confirm = ask_confirm
        self.ask_retry = ask_retry
        self.ask_consent = ask_consent
        self.stopped = threading.Event()
        self.show_waiting = show_waiting
        self.hide_waiting = hide_waiting
        self._cancel_approval = threading.Event()

    # A break-glass that waits for a second person's approval: the screen shows the wait; the driver may stop it.
    def awaiting_approval(self, step: Step, request: dict[str, Any]) -> None:
        self._cancel_approval.clear()
        if self.show_waiting is not None:
            self.call_ui(self.show_waiting, request)

    def approval_cancelled(self) -> bool:
        return self._cancel_approval.is_set()

    def cancel_approval(self) -> None:
        self._cancel_approval.set()

    def approval_over(self) -> None:
        if self.hide_waiting is not None and not self.stopped.is_set():
            try:
                self.call_ui(self.hide_waiting)
            except Exception:  # noqa: BLE001 - the app is already gone
                pass

    def retry(self, step: Step) -> bool:
        if self.ask_retry is None:
            return False
        reply = Reply(self.stopped)
        self.call_ui(self.ask_retry, step, reply)
        return bool(reply.wait())

    def consent(self, step: Step, probe: str, why: str) -> bool:
        if self.ask_consent is None:
            return False
        reply = Reply(self.stopped)
        self.call_ui(self.ask_consent, step, probe, why, reply)
        return bool(reply.wait())

    def wait(self, step: Step, seconds: float) -> bool:
        """Between the reads of a wait step (Interrupted when the screen went away)."""
        if self.stopped.wait(seconds):
            raise Interrupted()
        return True

    def acknowledge(self, step: Step) -> bool:
        reply = Reply(self.stopped)
        self.call_ui(self.ask_ack, step, reply)
        value = reply.wait()
        return bool(value)

    def confirm(self, request: ConfirmRequest) -> Answer:
        reply = Reply(self.stopped)
        self.call_ui(self.ask_confirm, request, reply)
        value = reply.wait()
        return value if isinstance(value, Answer) else Answer("abort", by="screen")

    def stop(self) -> None:
        """The screen is going away: every question still open is answered with 'stop'."""
        self.stopped.set()


class Reply:
    """One answer, given once from the UI thread, awaited by the session thread."""

    def __init__(self, stopped: threading.Event) -> None:
        self._event = threading.Event()
        self._stopped = stopped
        self.value: Any = None

    def set(self, value: Any) -> None:
        if not self._event.is_set():
            self.value = value
            self._event.set()

    def wait(self) -> Any:
        """The answer; Interrupted when the screen went away before it was given, or runbook is being
        terminated (SIGTERM, SIGHUP: the screen may never get to say it is going away)."""
        from runbook.events import TERMINATING

        while not self._event.wait(0.1):
            if self._stopped.is_set() or TERMINATING.is_set():
                raise Interrupted()
        return self.value

    @property
    def answered(self) -> bool:
        return self._event.is_set()
