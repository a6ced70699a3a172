"""The command line: one entry point, `runbook`.

Exit codes: check/analyze commands 0 OK, 1 warning, 2 critical, 3 unknown; other
commands 0 success, 1 failure, 2 usage. No traceback for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any, Callable

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
EXIT_UNKNOWN = 3  # as the check commands: what was asked could not be read


class UsageError(Exception):
    pass


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


# ---------------------------------------------------------------- validate / schema / explain
def cmd_validate(args: argparse.Namespace) -> int:
    from runbook.playbook import loader

    files = loader.find_playbooks(args.paths)
    if not files:
        _err(f"no playbooks found in {' '.join(args.paths)}")
        return EXIT_FAIL
    bad = 0
    for f in files:
        _, problems = loader.load(f)
        for p in problems:
            _out(str(p))
        bad += bool(problems)
    if not args.quiet:
        _err(f"{len(files) - bad} of {len(files)} playbook(s) valid")
    return EXIT_FAIL if bad else EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from runbook.playbook.schema import json_schema

    _out(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from runbook import catalog

    if not args.id:
        for r in catalog.RULES.values():
            _out(f"{r.id:45} {r.severity:8} {r.title}  [{'; '.join(r.named_by)}]")
        return EXIT_OK
    if args.id not in catalog.RULES:
        import difflib

        close = difflib.get_close_matches(args.id, list(catalog.RULES), n=3)
        _err(f"unknown finding id {args.id!r}" + (f"; did you mean {', '.join(close)}?" if close else ""))
        return EXIT_FAIL
    _out(catalog.explain(args.id))
    return EXIT_OK


# ---------------------------------------------------------------- run
def _members(urls: str) -> list[str]:
    """NAME=URL1,URL2: a comma starts a new member only where what follows is a URL of a kind (a password
    may hold commas; one that holds ",redis://" must be percent-encoded)."""
    from runbook.targets import TargetError, kind_of

    def claimed(rest: str) -> bool:
        try:
            return bool(re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", rest)) and bool(kind_of(rest))
        except TargetError:
            return False

    out, start = [], 0
    for m in re.finditer(",", urls):
        if claimed(urls[m.end():]):
            out.append(urls[start:m.start()])
            start = m.end()
    return out + [urls[start:]]


def _bind_targets(args: argparse.Namespace) -> dict[str, Any]:
    from dataclasses import replace

    from runbook.targets import kind_of, load_inventory, parse_binding

    targets = {}
    if getattr(args, "inventory", None):
        targets.update(load_inventory(args.inventory))
    bound = []
    for b in args.target or []:
        t = parse_binding(b)
        # a list target: NAME=URL1,URL2 or NAME=URL repeated; its members are NAME-1, NAME-2...
        urls = _members(t.url) if "," in t.url else [t.url]
        bound += [replace(t, url=u, kind=kind_of(u)) for u in urls] if len(urls) > 1 else [t]
    counts: dict[str, int] = {}
    for t in bound:
        counts[t.name] = counts.get(t.name, 0) + 1
    seen: dict[str, int] = {}
    for t in bound:
        if counts[t.name] > 1:
            seen[t.name] = seen.get(t.name, 0) + 1
            t = replace(t, name=f"{t.name}-{seen[t.name]}")
        if t.name in targets:
            # keep the inventory's restart/config/logs, take the new URL
            t = replace(targets[t.name], url=t.url, kind=t.kind)
        targets[t.name] = t
    return targets


def _resumed_targets(journalled: list[dict[str, Any]], given: dict[str, Any]) -> dict[str, Any]:
    """A resumed session binds exactly the targets it was started with, each read back whole (ssh, restart,
    config, logs). What the journal masked is given again: the same target with its password (--target),
    or the same inventory."""
    from dataclasses import replace

    from runbook.secrets import MASK
    from runbook.targets import Target

    out = {}
    for d in journalled:
        t = Target.from_dict(d)
        again = given.get(t.name)
        if again is not None:
            shown = again.to_dict()  # as the journal would have it: the same target, or its password given again
            if shown != d and shown["url"] != d["url"]:
                raise UsageError(f"target {t.name} was {d['url']} in this session; a resume binds the same targets")
            t = again if shown == d else replace(t, url=again.url)
        masked = [k for k, v in t.to_dict(masked=False).items() if MASK in str(v)]
        if masked:
            raise UsageError(f"target {t.name} had a secret in its {', '.join(masked)}; give it again with "
                             f"--target {t.name}=URL or the same --inventory")
        out[t.name] = t
    return out  # others an inventory names are not bound: the session never had them


def cmd_run(args: argparse.Namespace) -> int:
    from runbook.engine.facts import LiveFacts
    from runbook.engine.operators import AnswersOperator, TerminalOperator
    from runbook.engine.session import Session, SessionError
    from runbook.journal import store
    from runbook.playbook import loader
    from runbook.targets import TargetError
    from runbook.transcript import render

    if args.state_dir:
        os.environ["RUNBOOK_STATE_DIR"] = args.state_dir
    resume_events = None
    started = None
    if args.resume:
        path = store.find(args.resume)
        jr = store.read(path)
        started = jr.started
        if started is None:
            raise UsageError(f"{path}: the journal has no session_started event")
        playbook_path = args.playbook or started.data["playbook"]
        resume_events = jr.events
    else:
        if args.alert:
            handling = _from_alert(args)
            args.playbook = args.playbook or handling.playbook.path
        if not args.playbook:
            raise UsageError("run needs a PLAYBOOK (or --resume SESSION, or --alert FINGERPRINT)")
        playbook_path = args.playbook
        path = store.sessions_dir() / f"{store.new_session_id()}.jsonl"
    if not Path(playbook_path).is_file():
        raise UsageError(f"{playbook_path}: no such playbook file")
    pb, problems = loader.load(playbook_path)
    if pb is None:
        for p in problems:
            _err(str(p))
        return EXIT_FAIL
    try:
        targets = _bind_targets(args)
    except TargetError as e:
        raise UsageError(str(e)) from None
    alert = None
    if args.alert and not args.resume:
        given = {t.partition("=")[0] for t in args.target or []}  # --target wins over what the alert says
        targets = {**handling.targets, **{k: v for k, v in targets.items() if k in given}}
        alert = handling.alert.to_dict()
    if started is not None:
        targets = _resumed_targets(started.data.get("targets", []), targets)
    mode = "dry-run" if args.dry_run else (started.data.get("mode", "live") if started else "live")
    from runbook.engine.session import check_bindings

    params: dict[str, Any] = dict(started.data.get("params") or {}) if started else {}
    if args.alert and not args.resume:
        params.update(handling.inputs)  # what the alert says (the mount point that fills); --param wins
    for p in args.param or []:
        name, sep, value = p.partition("=")
        if not sep or not name:
            raise UsageError(f"--param expects NAME=VALUE, got {p!r}")
        params[name] = value
    try:
        check_bindings(pb, targets)  # before any screen opens
        params = pb.input_values(params)
    except SessionError as e:
        raise UsageError(str(e)) from None
    except ValueError as e:
        raise UsageError(str(e)) from None
    from runbook.engine.approval import ApprovalPolicy

    was = (started.data.get("approval") or {}) if started else {}  # a resumed session keeps what it required
    if args.approval_timeout is not None and args.approval_timeout <= 0:
        raise UsageError("--approval-timeout expects a number of seconds above 0")
    policy = ApprovalPolicy(required=args.require_approval or bool(was.get("required")),
                            timeout_s=args.approval_timeout or (was.get("timeout_s") if was.get("required") else None),
                            from_answers=args.approval_from_answers or bool(was.get("from_answers")))
    if args.approval_from_answers and not (args.headless and args.answers):
        raise UsageError("--approval-from-answers is for a headless run with --answers FILE")
    driver = args.driver or (started.data.get("driver") if started else "") or ""
    if not args.headless:
        return args.screens.run_playbook(pb, targets, mode=mode, journal_path=path, resume_events=resume_events,
                                         read_only=args.read_only, params=params, alert=alert, approval=policy,
                                         driver=driver)
    if args.answers:
        try:
            operator: Any = AnswersOperator.from_file(args.answers)
        except (OSError, ValueError) as e:
            raise UsageError(str(e)) from None
    else:
        operator = TerminalOperator()
    journal = store.Journal(path)
    _err(f"journal: {path}")

    def show(ev: Any) -> None:
        for line in render(ev):
            _out(line)

    try:
        session = Session(pb, targets, mode=mode, journal=journal, operator=operator, facts=LiveFacts(args.timeout),
                          listeners=[show], read_only=args.read_only, params=params, alert=alert, driver=driver,
                          approval=policy)
        outcome = session.resume(resume_events) if resume_events is not None else session.start()
    except SessionError as e:
        raise UsageError(str(e)) from None
    finally:
        journal.close()
    return EXIT_OK if outcome == "completed" else EXIT_FAIL


# ---------------------------------------------------------------- alerts
def _alerts(args: argparse.Namespace) -> list[Any]:
    """The firing alerts, each handled; AlertsError (one line) when the Alertmanager cannot be read."""
    from runbook import alerts
    from runbook.playbook import loader
    from runbook.targets import TargetError, load_inventory

    url = alerts.alertmanager_url(args.alertmanager)
    if not url:
        raise UsageError(f"give --alertmanager URL or set ${alerts.ENV}")
    try:
        inventory = load_inventory(args.inventory) if getattr(args, "inventory", None) else {}
    except TargetError as e:
        raise UsageError(str(e)) from None
    playbooks = loader.valid_playbooks(getattr(args, "playbooks", None) or [str(default_playbook_dir())])
    firing = alerts.fetch(url, getattr(args, "timeout", None) or alerts.TIMEOUT_S)
    return [alerts.handle(a, playbooks, inventory) for a in firing]


def _from_alert(args: argparse.Namespace) -> Any:
    from runbook.alerts import AlertsError

    try:
        handlings = _alerts(args)
    except AlertsError as e:
        raise UsageError(str(e)) from None
    found = [h for h in handlings if h.alert.fingerprint == args.alert or h.alert.fingerprint.startswith(args.alert)]
    if not found:
        raise UsageError(f"no firing alert has the fingerprint {args.alert!r} (runbook alerts lists them)")
    if len(found) > 1:
        raise UsageError(f"{args.alert!r} is the start of {len(found)} alerts' fingerprints: give more of it")
    h = found[0]
    if h.playbook is None:
        raise UsageError(f"no playbook handles {h.alert.name}" + (f" (closest: {', '.join(h.closest)})" if h.closest else ""))
    given = {t.partition("=")[0] for t in args.target or []} | {f"input {p.partition('=')[0]}" for p in args.param or []}
    missing = [m for m in h.missing if m.split(":", 1)[0] not in given]
    if missing:
        raise UsageError(f"{h.alert.name} opens {h.playbook.name}, but " + "; ".join(missing))
    return h


def cmd_alerts(args: argparse.Namespace) -> int:
    from runbook.secrets import mask_url
    from runbook.text import printable as p

    from runbook.alerts import AlertsError

    try:
        handlings = _alerts(args)
    except AlertsError as e:
        _err(f"runbook: {e}")
        return EXIT_UNKNOWN
    if args.json:
        _out(json.dumps([h.to_dict() for h in handlings], indent=2))
        return EXIT_OK
    if not handlings:
        _out("no alert is firing")
    for h in handlings:
        a = h.alert
        labels = ", ".join(f"{p(k)}={p(v)}" for k, v in sorted(a.labels.items()) if k != "alertname")
        _out(f"{p(a.name)}  {p(a.fingerprint)}  since {p(a.starts_at)}  {labels}")
        if a.annotations.get("summary"):
            _out(f"  {p(a.annotations['summary'])}")
        if h.playbook is None:
            _out("  no playbook handles it" + (f"; closest: {', '.join(h.closest)}" if h.closest else ""))
            continue
        bound = ", ".join(f"{r}={p(mask_url(t.url))}" for r, t in h.targets.items())
        given = "".join(f", {p(k)}={p(v)}" for k, v in h.inputs.items())
        _out(f"  playbook {h.playbook.name}: {bound or 'no target bound'}{given}")
        for m in h.missing:
            _out(f"  needs {p(m)}")
        _out(f"  runbook run --alert {a.fingerprint}" + "".join(_hint(m.split(":", 1)[0]) for m in h.missing))
    return EXIT_OK


def _hint(missing: str) -> str:
    """The option that gives what an alert does not say: a target role, or an input ("input NAME")."""
    return f" --param {missing[6:]}=VALUE" if missing.startswith("input ") else f" --target {missing}=URL"


# ---------------------------------------------------------------- journal
def cmd_journal(args: argparse.Namespace) -> int:
    from runbook.journal import store
    from runbook.journal.export import export_markdown
    from runbook.transcript import render

    if args.state_dir:
        os.environ["RUNBOOK_STATE_DIR"] = args.state_dir
    if args.journal_cmd == "list":
        sessions = sorted(store.list_sessions(), key=lambda s: s.summary()["session"], reverse=True)  # newest first
        if args.json:
            _out(json.dumps([s.summary() for s in sessions], indent=2))
            return EXIT_OK
        if not sessions:
            _out(f"no sessions in {store.sessions_dir()}")
            return EXIT_OK
        _out(f"{'SESSION':24}  {'STARTED':24}  {'PLAYBOOK':24} {'MODE':9} {'STATUS':11} LAST STEP")
        for s in sessions:
            m = s.summary()
            _out(f"{m['session']:24}  {m['started']:24}  {m['playbook']:24} {m['mode']:9} {m['status']:11} {m['last_step']}")
        return EXIT_OK
    jr = store.read(store.find(args.session))
    if args.journal_cmd == "show":
        if args.json:
            for e in jr.events:
                _out(json.dumps(e.to_dict()))
        else:
            for e in jr.events:
                for line in render(e, verbose=args.verbose):
                    _out(f"{e.ts}  {line}")
        if jr.damaged:
            _err(f"{jr.path}: skipped damaged line(s) {', '.join(map(str, jr.damaged))} (cut short by a crash?)")
        return EXIT_OK
    text = export_markdown(jr)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


# ---------------------------------------------------------------- watch / serve
def _session_journal(args: argparse.Namespace) -> Path:
    from runbook.journal import store

    if args.state_dir:
        os.environ["RUNBOOK_STATE_DIR"] = args.state_dir
    try:
        return store.find(args.session)
    except store.JournalError as e:
        raise UsageError(str(e)) from None


def cmd_watch(args: argparse.Namespace) -> int:
    path = _session_journal(args)
    return args.screens.watch(path, getattr(args, "viewer_from", "") or "")


def cmd_serve(args: argparse.Namespace) -> int:
    path = _session_journal(args)
    if not 0 < args.port < 65536 and args.port != 0:
        raise UsageError(f"--port expects 1-65535 (or 0: any free port), got {args.port}")
    return args.screens.serve(path, bind=args.bind, port=args.port)


# ---------------------------------------------------------------- tui home
def cmd_home(args: argparse.Namespace) -> int:
    from runbook.tui import launch

    from runbook.alerts import alertmanager_url

    return launch.home(playbook_dirs=args.playbooks or [str(default_playbook_dir())],
                       alertmanager=alertmanager_url(getattr(args, "home_alertmanager", None)))


def default_playbook_dir() -> Path:
    here = Path.cwd() / "playbooks"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent / "playbooks"


# ---------------------------------------------------------------- parser
def _home_only(argv: list[str]) -> bool:
    """`runbook` alone (or with --playbooks DIR): the TUI home, which needs no subcommand's parser."""
    it = iter(argv)
    for a in it:
        if a in ("--playbooks", "--alertmanager"):
            next(it, None)
        elif not a.startswith(("--playbooks=", "--alertmanager=")):
            return False
    return True


def build_parser(home_only: bool = False) -> argparse.ArgumentParser:
    """The command line; home_only: its global options alone (the subcommands' parsers import the kinds'
    command modules: the home screen's first frame does not wait for them)."""
    p = argparse.ArgumentParser(prog="runbook", description="Incident runbooks for Redis and JVM hosts, in the terminal.")
    p.add_argument("--version", action="version", version="runbook 0.1.0")
    p.add_argument("--playbooks", action="append", help="playbook directory for the TUI home (default: ./playbooks)")
    p.add_argument("--alertmanager", dest="home_alertmanager", metavar="URL",
                   help="the TUI home lists its firing alerts (default: $RUNBOOK_ALERTMANAGER)")
    if home_only:
        return p
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    v = sub.add_parser("validate", help="check playbooks; one PATH:LINE:COL: message per problem")
    v.add_argument("paths", nargs="+", metavar="PATH")
    v.add_argument("-q", "--quiet", action="store_true")
    v.set_defaults(fn=cmd_validate)

    s = sub.add_parser("schema", help="print the JSON Schema of the playbook format")
    s.set_defaults(fn=cmd_schema)

    e = sub.add_parser("explain", help="explain a finding id (no id: list them all)")
    e.add_argument("id", nargs="?")
    e.set_defaults(fn=cmd_explain)

    r = sub.add_parser("run", help="run a playbook against targets")
    r.add_argument("playbook", nargs="?")
    r.add_argument("--target", "-t", action="append", metavar="NAME=URL", help="bind a target role (repeatable)")
    r.add_argument("--inventory", "-i", metavar="FILE", help="inventory file of targets")
    r.add_argument("--param", "-p", action="append", metavar="NAME=VALUE", help="a playbook input (repeatable)")
    r.add_argument("--dry-run", action="store_true", help="run probes and guards for real; show actions instead of running them")
    r.add_argument("--headless", action="store_true", help="no screen: ask on the terminal or read --answers")
    r.add_argument("--answers", metavar="FILE", help="answers for a headless run (YAML: step id -> answer)")
    r.add_argument("--resume", metavar="SESSION", help="continue an interrupted session")
    r.add_argument("--read-only", action="store_true", help="refuse every action")
    r.add_argument("--timeout", type=float, default=3.0, help="network timeout of each probe, seconds (default 3)")
    r.add_argument("--state-dir", help="where journals live (default: $RUNBOOK_STATE_DIR or XDG state dir)")
    r.add_argument("--alert", metavar="FINGERPRINT", help="start the playbook that handles this firing alert, its "
                   "targets bound from its labels (with --alertmanager or $RUNBOOK_ALERTMANAGER)")
    r.add_argument("--alertmanager", metavar="URL", help="the Alertmanager to read --alert from")
    r.add_argument("--require-approval", action="store_true",
                   help="every break-glass waits for a second person's approval (given in runbook watch)")
    r.add_argument("--approval-timeout", type=float, metavar="SECONDS",
                   help="how long a break-glass waits for its approval before nothing runs (default 600)")
    r.add_argument("--approval-from-answers", action="store_true",
                   help="a headless run takes the approval from --answers (approved_by: NAME); journalled as such")
    r.add_argument("--driver", metavar="NAME", help="who drives the session (default: $RUNBOOK_DRIVER or the login name)")
    r.set_defaults(fn=cmd_run)

    al = sub.add_parser("alerts", help="the firing alerts of an Alertmanager, each with the playbook that handles it")
    al.add_argument("--alertmanager", metavar="URL", help="its URL (default: $RUNBOOK_ALERTMANAGER)")
    al.add_argument("--inventory", "-i", metavar="FILE", help="inventory: the names an alert's labels may give")
    al.add_argument("--json", action="store_true")
    al.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the Alertmanager (default 3)")
    al.set_defaults(fn=cmd_alerts)

    j = sub.add_parser("journal", help="list, show and export session journals")
    jsub = j.add_subparsers(dest="journal_cmd", metavar="list|show|export", required=True)
    jl = jsub.add_parser("list")
    jl.add_argument("--json", action="store_true")
    js = jsub.add_parser("show")
    js.add_argument("session")
    js.add_argument("--json", action="store_true")
    js.add_argument("-v", "--verbose", action="store_true", help="include the facts read")
    je = jsub.add_parser("export", help="Markdown incident timeline (UTC)")
    je.add_argument("session")
    je.add_argument("-o", "--output")
    for x in (jl, js, je):
        x.add_argument("--state-dir")
    j.set_defaults(fn=cmd_journal)

    w = sub.add_parser("watch", help="follow a running session live, read-only (another terminal, or ssh to its host)")
    w.add_argument("session", help="a session id, the start of one, or a journal's path")
    w.add_argument("--state-dir", help="where journals live (default: $RUNBOOK_STATE_DIR or XDG state dir)")
    w.add_argument("--viewer-from", help=argparse.SUPPRESS)  # runbook serve says where its browser is
    w.set_defaults(fn=cmd_watch)

    sv = sub.add_parser("serve", help="serve the read-only watch view of a session to a browser, behind a token")
    sv.add_argument("session", help="a session id, the start of one, or a journal's path")
    sv.add_argument("--bind", default="127.0.0.1", metavar="ADDR", help="address to listen on (default 127.0.0.1: this host only)")
    sv.add_argument("--port", type=int, default=8737, help="port (default 8737; 0: any free port)")
    sv.add_argument("--state-dir", help="where journals live (default: $RUNBOOK_STATE_DIR or XDG state dir)")
    sv.set_defaults(fn=cmd_serve)

    for register in _extensions():
        register(sub)
    return p


def _extensions() -> list[Callable[[Any], None]]:
    """Commands of the kinds (redis, gc and jvm: runbook/KIND/kind.py) and of the sandbox (rehearse, test,
    record)."""
    from runbook.kind import command_modules
    from runbook.sandbox import cli as sandbox_cli

    return [m.register for m in command_modules()] + [sandbox_cli.register]


class Screens:
    """The TUI, handed down to the domain commands that may open it (`rehearse`, `gc analyze --tui`,
    `fleet --tui`): only the command line imports runbook.tui, so nothing below it reaches up."""

    @staticmethod
    def run_playbook(*args: Any, **kw: Any) -> int:
        from runbook.tui import launch

        return launch.run_playbook(*args, **kw)

    @staticmethod
    def watch(path: Path, viewer_from: str = "") -> int:
        from runbook.tui import watch

        return watch.run(path, viewer_from)

    @staticmethod
    def serve(path: Path, bind: str, port: int) -> int:
        from runbook.tui import serve

        return serve.run(path, bind=bind, port=port)

    @staticmethod
    def gc_report(files: list[str]) -> int:
        from runbook.tui import launch

        return launch.gc_report(files)

    @staticmethod
    def fleet(source: Any) -> int:
        from runbook.tui import launch

        return launch.fleet(source)


def main(argv: list[str] | None = None) -> int:
    code = _main(argv)
    from runbook.events import TERMINATING, end_now

    if TERMINATING.is_set():
        # SIGTERM or SIGHUP: sandboxes are stopped and journals closed. A probe still running in a worker
        # thread (a restart simulation, a read with its timeout) must not hold the exit: the interpreter
        # would wait for it, and a terminal that went away would leave runbook running. atexit's own work
        # (ssh masters told to exit) is done, then the process ends; a copy dies with it (its parent-death
        # signal), and the next run reaps what it left in /tmp.
        end_now(code)
    return code


def _main(argv: list[str] | None) -> int:
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(home_only=_home_only(argv))
    args = parser.parse_args(argv)
    fn = getattr(args, "fn", None) or cmd_home
    args.screens = Screens()
    from runbook.events import SignalExit, terminated

    signal.signal(signal.SIGTERM, terminated)  # journals close and sandboxes stop, then 128 + 15
    signal.signal(signal.SIGHUP, terminated)  # a terminal that went away (a dropped ssh): the same, 128 + 1
    try:
        return fn(args)
    except UsageError as e:
        _err(f"runbook: {e}")
        return EXIT_USAGE
    except SignalExit as e:
        _err("terminated")
        return 128 + e.signum
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as e:  # noqa: BLE001 - last resort: a message, not a traceback
        from runbook.journal.store import JournalError
        from runbook.targets import TargetError

        if isinstance(e, (JournalError, TargetError, OSError)):
            _err(f"runbook: {e}")
            return EXIT_FAIL
        if os.environ.get("RUNBOOK_DEBUG"):
            raise
        _err(f"runbook: internal error: {type(e).__name__}: {e} (set RUNBOOK_DEBUG=1 for details)")
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
