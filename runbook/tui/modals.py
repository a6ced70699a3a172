"""Modal screens: the action confirmation (typed target name), break-glass (written reason),
a finding's page, and binding targets to a playbook's roles."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from runbook.engine.operators import Answer, ConfirmRequest
from runbook.secrets import mask_url
from runbook.tui.widgets import finding_text, guards_table

MIN_REASON = 10


class ConfirmActionScreen(ModalScreen[Answer]):
    """The command, the guards evaluated fresh with their evidence, and a typed confirmation.

    Nothing runs on a single key: the target's full name must be typed, and a blocked action can only
    go through break-glass with a written reason."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="action-cancel")]

    def __init__(self, request: ConfirmRequest, dry_run_label: bool = False) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical(id="confirm-box"):
            yield Label(Text(f"Action: {r.step.label}", style="bold"))
            yield Static(Text(f"{r.step.action} on {r.target}"), classes="dim")
            yield Static(Text("Command", style="bold underline"))
            yield Static(Text(r.command), id="command")
            yield Static(Text("Guards, evaluated just now", style="bold underline"))
            with VerticalScroll(id="guards"):
                yield Static(guards_table(r.guards))
            if r.blocked:
                yield Static(Text(f"BLOCKED by {', '.join(r.blocked_by)}. Fix what the guards say, or break the glass "
                                  "with a written reason.", style="bold red"), id="blocked")
                with Horizontal(classes="buttons"):
                    yield Button("Break glass…", id="break-glass", variant="error")
                    yield Button("Cancel", id="cancel")
            else:
                yield Input(placeholder=f"type {r.target} to run it", id="typed")
                with Horizontal(classes="buttons"):
                    yield Button("Run", id="run", variant="warning", disabled=True)
                    yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        if not self.request.blocked:
            self.query_one("#typed", Input).focus()
        else:
            self.query_one("#cancel", Button).focus()

    @on(Input.Changed, "#typed")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#run", Button).disabled = event.value != self.request.target

    @on(Input.Submitted, "#typed")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value == self.request.target:
            self._run()

    @on(Button.Pressed, "#run")
    def _run(self) -> None:
        typed = self.query_one("#typed", Input).value
        if typed != self.request.target:
            return
        self.dismiss(Answer("confirm", typed=typed, digest=self.request.digest, by="screen"))

    @on(Button.Pressed, "#break-glass")
    def _break_glass(self) -> None:
        def done(answer: Answer | None) -> None:
            if answer is not None:
                self.dismiss(answer)

        self.app.push_screen(BreakGlassScreen(self.request), done)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(Answer("back", by="screen"))  # back to the step: the session waits, it does not end


class AskScreen(ModalScreen[bool]):
    """A yes-or-no question whose safe answer has the focus (leave a session, run an intrusive read)."""

    BINDINGS = [Binding("escape", "no", "Cancel", id="ask-no")]

    def __init__(self, title: str, text: str, yes: str, no: str) -> None:
        super().__init__()
        self.title_text, self.text, self.yes, self.no = title, text, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(id="ask-box"):
            yield Label(Text(self.title_text, style="bold"))
            yield Static(Text(self.text))
            with Horizontal(classes="buttons"):
                yield Button(self.no, id="no", variant="primary")
                yield Button(self.yes, id="yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def action_no(self) -> None:
        self.dismiss(False)


class BreakGlassScreen(ModalScreen[Answer]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="break-glass-cancel")]

    def __init__(self, request: ConfirmRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        with Vertical(id="glass-box"):
            yield Label(Text("Break glass: run a blocked action", style="bold red"))
            yield Static(Text(f"Blocked by: {', '.join(self.request.blocked_by)}"))
            yield Static(Text("Why is this worth the risk? (recorded in the journal and the export)"))
            yield TextArea(id="reason")
            yield Input(placeholder=f"type {self.request.target} to run it anyway", id="typed")
            yield Static(self._waiting(), id="waiting")
            with Horizontal(classes="buttons"):
                yield Button("Break glass and run", id="go", variant="error", disabled=True)
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#reason", TextArea).focus()

    def _valid(self) -> bool:
        reason = self.query_one("#reason", TextArea).text.strip()
        return len(reason) >= MIN_REASON and self.query_one("#typed", Input).value == self.request.target

    def _waiting(self) -> Text:
        """What the button waits for, said plainly (it stays disabled until both are there)."""
        try:
            reason = self.query_one("#reason", TextArea).text.strip()
            typed = self.query_one("#typed", Input).value
        except Exception:  # noqa: BLE001 - not composed yet
            reason, typed = "", ""
        missing = []
        if len(reason) < MIN_REASON:
            missing.append(f"a reason of at least {MIN_REASON} characters ({len(reason)} so far)")
        if typed != self.request.target:
            missing.append(f"the target name {self.request.target} typed in full")
        if not missing:
            return Text("Ready: the action will run and the reason goes into the journal.", style="bold")
        return Text("Waiting for: " + "; ".join(missing), style="italic")

    @on(TextArea.Changed)
    @on(Input.Changed)
    def _changed(self) -> None:
        self.query_one("#go", Button).disabled = not self._valid()
        self.query_one("#waiting", Static).update(self._waiting())

    @on(Button.Pressed, "#go")
    @on(Input.Submitted, "#typed")
    def _go(self) -> None:
        if not self._valid():
            return
        self.dismiss(Answer("break_glass", typed=self.query_one("#typed", Input).value,
                            reason=self.query_one("#reason", TextArea).text.strip(), digest=self.request.digest, by="screen"))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class FindingScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "close", "Close", id="finding-close"),
                Binding("c", "copy", "Copy", id="finding-copy")]

    def __init__(self, finding: dict[str, Any]) -> None:
        super().__init__()
        self.finding = finding

    def compose(self) -> ComposeResult:
        from runbook import catalog

        with VerticalScroll(id="finding-box"):
            yield Static(finding_text(self.finding))
            if self.finding["id"] in catalog.RULES:
                yield Static(Text("\n" + catalog.explain(self.finding["id"]), style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(finding_text(self.finding).plain)
        self.notify("finding copied (OSC 52)")


class BindTargetsScreen(ModalScreen[dict]):
    """Bind each role of a playbook to a URL (prefilled from known and discovered targets)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="bind-cancel")]

    def __init__(self, roles: list[tuple[str, str]], suggestions: dict[str, str], inputs: list[Any] | None = None,
                 lists: set[str] | None = None) -> None:
        super().__init__()
        self.roles = roles
        self.suggestions = suggestions
        self.inputs = inputs or []  # the playbook's inputs (model.Input): a field each, prefilled with its default
        self.lists = lists or set()  # list roles: URLs separated by commas

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="bind-box"):  # many roles and inputs scroll; the buttons stay reachable
            yield Label(Text("Bind the playbook's targets", style="bold"))
            for name, kind in self.roles:
                yield Static(Text(f"{name} ({kind})"))
                # a suggested URL is shown with its password masked; left as it is, the real one is used
                yield Input(value=mask_url(self.suggestions.get(name, "")),
                            placeholder="URL, URL, ... (one per member)" if name in self.lists
                            else "redis://host:6379, pid:N, local", id=f"role-{name}")
            for inp in self.inputs:
                yield Static(Text(f"--param {inp.name} ({inp.type}" + (", required)" if inp.required else ")")
                                  + (f": {inp.description}" if inp.description else "")))
                yield Input(value="" if inp.default is None else str(inp.default).lower() if isinstance(inp.default, bool)
                            else str(inp.default), id=f"param-{inp.name}")
            yield Static("", id="bind-error")
            with Horizontal(classes="buttons"):
                yield Button("Start", id="start", variant="primary")
                yield Button("Dry run", id="dry")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        first = self.query(Input).first(Input) if self.query(Input) else None
        if first is not None:
            first.focus()  # type the first URL at once

    @on(Button.Pressed, "#start")
    @on(Button.Pressed, "#dry")
    def _start(self, event: Button.Pressed) -> None:
        from runbook.targets import TargetError, parse_binding

        out: dict[str, Any] = {"__dry_run__": event.button.id == "dry"}
        for name, _kind in self.roles:
            url = self.query_one(f"#role-{name}", Input).value.strip()
            suggested = self.suggestions.get(name, "")
            if suggested and url == mask_url(suggested):
                url = suggested
            urls = [u.strip() for u in url.split(",") if u.strip()] if name in self.lists else [url]
            try:
                for i, u in enumerate(urls or [""], 1):
                    member = f"{name}-{i}" if len(urls) > 1 else name
                    out[member] = parse_binding(f"{member}={u}")
            except TargetError as e:
                self.query_one("#bind-error", Static).update(Text(str(e), style="bold red"))
                return
        params = {}
        for inp in self.inputs:
            text = self.query_one(f"#param-{inp.name}", Input).value.strip()
            if not text and inp.required:
                self.query_one("#bind-error", Static).update(Text(f"--param {inp.name} is required", style="bold red"))
                return
            try:
                params[inp.name] = inp.parse(text) if text else inp.default
            except ValueError as e:
                self.query_one("#bind-error", Static).update(Text(str(e), style="bold red"))
                return
        out["__params__"] = params
        self.dismiss(out)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class WaitingApprovalScreen(ModalScreen[None]):
    """A break-glass waiting for a second person's approval: who can give it, where, and until when. The one
    thing the driver can do here is stop waiting (nothing runs, the session waits at the step)."""

    BINDINGS = [Binding("escape", "stop_waiting", "Stop waiting", id="approval-cancel")]

    def __init__(self, request: dict[str, Any], cancel: Any) -> None:
        super().__init__()
        self.request = request
        self.cancel = cancel
        import time

        self.deadline = time.monotonic() + float(request.get("timeout_s") or 0)

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical(id="waiting-box"):
            yield Label(Text("Waiting for a second person's approval", style="bold red"))
            yield Static(Text(f"Break-glass of {r.get('action')} on {r.get('target')}, blocked by "
                              f"{', '.join(r.get('blocked_by') or [])}. Nothing runs until someone other than "
                              f"{r.get('driver')} approves it, for this same evidence."))
            yield Static(Text(f"They see it in: runbook watch {r.get('session')}  (on this host, or ssh to it; "
                              f"runbook serve {r.get('session')} for a browser)"), id="waiting-how")
            yield Static(self._left(), id="waiting-left")
            with Horizontal(classes="buttons"):
                yield Button("Stop waiting", id="stop-waiting", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#stop-waiting", Button).focus()
        self.set_interval(1.0, self._tick)

    def _left(self) -> Text:
        import time

        left = max(0, int(self.deadline - time.monotonic()))
        return Text(f"Time left: {left // 60}:{left % 60:02d}; then nothing runs.", style="italic")

    def _tick(self) -> None:
        self.query_one("#waiting-left", Static).update(self._left())

    @on(Button.Pressed, "#stop-waiting")
    def action_stop_waiting(self) -> None:
        self.cancel()
        self.query_one("#waiting-left", Static).update(Text("Stopping the wait: nothing runs.", style="bold"))
