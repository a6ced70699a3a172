"""`runbook record`, `runbook test` and `runbook rehearse`."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    r = sub.add_parser("record", help="save the facts of live targets (secrets masked) as a scenario")
    r.add_argument("targets", nargs="*", metavar="NAME=URL")
    r.add_argument("-i", "--inventory", metavar="FILE", help="record the targets of an inventory (with their restart commands)")
    r.add_argument("-o", "--output", required=True, metavar="FILE")
    r.add_argument("--playbook", help="the playbook the scenario is for: a name, or a playbook FILE to run as a dry run "
                                      "against the targets, recording every probe it reads")
    r.add_argument("--answers", metavar="FILE", help="with a playbook file: the answers that choose its path")
    r.add_argument("--param", "-p", action="append", metavar="NAME=VALUE", help="with a playbook file: an input")
    r.add_argument("--timeout", type=float, default=3.0)
    r.add_argument("--interval", type=float, default=1.0, help="seconds between the two replication samples")
    r.set_defaults(fn=cmd_record)
    t = sub.add_parser("test", help="replay playbooks against their recorded scenarios and compare transcripts")
    t.add_argument("path", nargs="?", default="playbooks", help="a playbooks directory or one playbook")
    t.add_argument("--update", action="store_true", help="rewrite the transcript snapshots")
    t.add_argument("--snapshots", default=None, help="where transcripts live (default: snapshots/transcripts)")
    t.set_defaults(fn=cmd_test)
    h = sub.add_parser("rehearse", help="start a local sandbox in a fault state and run its playbook against it")
    h.add_argument("scenario", nargs="?")
    h.add_argument("--headless", action="store_true", help="no screen: answer from the scenario, print the transcript")
    h.add_argument("--keep", action="store_true", help="leave the sandbox running after the playbook (stop it with Ctrl-C)")
    h.add_argument("--answers", metavar="FILE", help="with --headless: your answers, over the scenario's own "
                   "(break the glass: restart: {confirm: master, break_glass: REASON})")
    h.set_defaults(fn=cmd_rehearse)


def cmd_record(args: argparse.Namespace) -> int:
    from runbook import scenario
    from runbook.targets import TargetError, load_inventory, parse_binding

    try:
        targets = load_inventory(args.inventory) if args.inventory else {}
        targets.update({t.name: t for t in (parse_binding(b) for b in args.targets)})
    except TargetError as e:
        sys.stderr.write(f"runbook: {e}\n")
        return 2
    if not targets:
        sys.stderr.write("runbook: name targets to record (NAME=URL or --inventory FILE)\n")
        return 2
    from pathlib import Path

    if args.playbook and Path(args.playbook).is_file():
        from runbook.engine.session import SessionError
        from runbook.playbook import loader
        from runbook.yamlfile import YamlFileError, read_mapping

        pb, problems = loader.load(args.playbook)
        if pb is None:
            for p in problems:
                sys.stderr.write(f"{p}\n")
            return 1
        try:
            answers = read_mapping(args.answers, "answers file") if args.answers else {}
            answers = answers.get("answers", answers)
            params = dict(p.split("=", 1) for p in args.param or [] if "=" in p)
            data = scenario.record_playbook(pb, targets, answers, pb.input_values(params) or None, args.timeout)
        except (YamlFileError, ValueError, SessionError) as e:
            sys.stderr.write(f"runbook: {e}\n")
            return 2
    else:
        data = scenario.record(targets, args.timeout, params={"interval": args.interval})
        if args.playbook:
            data = {"playbook": args.playbook, **data}
    scenario.save(data, args.output)
    ended = data.get("recorded_outcome")
    sys.stderr.write(f"recorded {', '.join(targets)} to {args.output}"
                     + (f" (the dry run ended {ended}{'' if ended == 'completed' else ': --answers choose the path further'})"
                        if ended else "") + "\n")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from runbook.sandbox.replay import run_tests

    return run_tests(args.path, update=args.update, snapshots=args.snapshots)


def cmd_rehearse(args: argparse.Namespace) -> int:
    from runbook.sandbox.rehearse import main

    return main(args)
