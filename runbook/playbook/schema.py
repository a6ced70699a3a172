"""The playbook format, declared once: the loader validates against it and
`runbook schema` turns it into a JSON Schema for editors.

Types: "str", "int", "bool", "any", "expr" (a safe expression), "ref" (a step id or
`end`), ("list", T), ("map", T), ("enum", values), ("obj", NAME), ("either", T...).
"""

from __future__ import annotations

from typing import Any

from runbook.kind import names
from runbook.playbook.model import STEP_KINDS

STEP_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"

OBJECTS: dict[str, dict[str, Any]] = {
    "playbook": {
        "doc": "A runbook playbook.",
        "required": ["name", "steps"],
        "fields": {
            "version": ("int", "Format version; 1."),
            "name": ("str", "Short name, used on the command line."),
            "title": ("str", "One line shown in lists."),
            "description": ("str", "What incident this playbook is for."),
            "targets": (("map", ("obj", "target")), "Named roles bound at run time (--target NAME=URL)."),
            "inputs": (("map", ("obj", "input")), "Typed parameters, given with --param NAME=VALUE; read as params.NAME."),
            "steps": (("list", ("obj", "step")), "The steps, run in order unless next/goto says otherwise."),
            "alerts": (("list", ("obj", "alert")), "The Alertmanager alerts this playbook handles (`runbook alerts`), "
                                                   "and how an alert's labels bind its targets."),
            "approval": (("enum", ["required", "none"]), "required: a break-glass of any action needs a second "
                                                         "person's approval (runbook watch)."),
            "approval_timeout_s": ("int", "How long a break-glass waits for its approval before nothing runs "
                                          "(default 600)."),
        },
    },
    "alert": {
        "doc": "An alert this playbook handles, by its alertname, and the targets its labels name.",
        "required": ["alertname"],
        "fields": {
            "alertname": ("str", "The alert's alertname label (RedisDown, HostOutOfMemory...)."),
            "match": (("map", "str"), "Other labels that must have these values for the playbook to handle it."),
            "targets": (("map", "str"), "For each target role, its URL or inventory name from the alert: "
                                        "`redis://${labels.addr}`, `${labels.instance}`; only labels and "
                                        "annotations are read."),
            "inputs": (("map", "str"), "Inputs of the playbook the alert gives, from its labels and annotations: "
                                       "`path: ${labels.mountpoint}`; a --param of the same name wins."),
        },
    },
    "target": {
        "doc": "A role of the playbook: master, replicas, app, host...",
        "required": ["kind"],
        "fields": {
            "kind": (("enum", list(names())), "What the target is (a kind: runbook/KIND/kind.py)."),
            "description": ("str", "What this role is, shown when asking for a binding."),
            "list": ("bool", "Bound to one target or more (--target NAME=URL repeated): replicas, nodes, Sentinels."),
        },
    },
    "input": {
        "doc": "A typed parameter of the playbook.",
        "required": ["type"],
        "fields": {
            "type": (("enum", ["str", "int", "float", "bool"]), "The type of the value."),
            "default": ("any", "The value when --param does not give one (no default: required)."),
            "description": ("str", "What it is, shown when it is missing."),
        },
    },
    "step": {
        "doc": "One step: check (reads), decision (branches), instruction (for the human), action (changes something).",
        "required": ["id", "kind"],
        "fields": {
            "id": ("str", "Unique id (lower case, digits, - and _)."),
            "kind": (("enum", list(STEP_KINDS)), "The step kind."),
            "title": ("str", "One line shown in the step list."),
            "description": ("str", "Longer explanation."),
            "next": ("ref", "The step that follows (default: the next one in the list; `end` ends)."),
            "target": ("str", "check and action: the target role this step reads or changes."),
            "probes": (("list", "str"), "check: the probes to run on the target."),
            "params": (("map", "any"), "check and action: parameters for the probes or the action."),
            "branches": (("list", ("obj", "branch")), "decision: tried in order, the first true one is taken."),
            "default": ("ref", "decision: where to go when no branch is true (default: the next step)."),
            "on_unknown": ("ref", "decision: where to go when a branch needs a fact that is missing, so that it "
                                  "cannot be judged (default: the session stops there, blocked)."),
            "text": ("str", "instruction: what the engineer must do (acknowledged); action: a note shown before it."),
            "action": ("str", "action: the action to run."),
            "guards": (("list", ("either", "str", ("obj", "guard"))), "action: guards checked fresh just before it."),
            "until": ("expr", "wait: read the probes again until this expression holds."),
            "timeout_s": ("int", "check, action, wait: seconds the step may take (wait: before on_timeout)."),
            "interval_s": ("int", "wait: seconds between reads (default 2)."),
            "on_timeout": ("ref", "wait: where to go when the timeout passes first (default: the session fails)."),
            "on_failure": ("ref", "action: where to go when the action fails (default: the session fails)."),
            "for_each": ("str", "check and action: a list target; the step runs once per member, one at a time."),
            "playbook": ("str", "call: the playbook to run here (its name; the file beside this one)."),
            "targets": (("map", "str"), "call: for each role of the called playbook, the role of this one that plays it."),
            "approval": (("enum", ["required", "none"]), "action: required: its break-glass needs a second person's "
                                                         "approval (runbook watch)."),
        },
        "by_kind": {
            "check": {"required": ["probes"], "allowed": ["target", "probes", "params", "timeout_s", "for_each"]},
            "decision": {"required": ["branches"], "allowed": ["branches", "default", "on_unknown"]},
            "instruction": {"required": ["text"], "allowed": ["text"]},
            "action": {"required": ["action"], "allowed": ["target", "action", "params", "guards", "text", "timeout_s",
                                                          "on_failure", "for_each", "approval"]},
            "wait": {"required": ["target", "probes", "until"], "allowed": ["target", "probes", "params", "until", "timeout_s",
                                                                          "interval_s", "on_timeout", "text"]},
            "call": {"required": ["playbook"], "allowed": ["playbook", "targets"]},
        },
    },
    "branch": {
        "doc": "A branch of a decision.",
        "required": ["when", "goto"],
        "fields": {
            "when": ("expr", "A safe expression over facts, findings and params."),
            "goto": ("ref", "The step to go to when it is true."),
        },
    },
    "guard": {
        "doc": "A named guard, or an expression over the fresh facts of one probe.",
        "required": [],
        "fields": {
            "name": ("str", "A registered guard."),
            "params": (("map", "any"), "Parameters of the guard's probe, read fresh for this guard alone (and of a named guard)."),
            "expr": ("expr", "A safe expression that must be true for the action to run."),
            "probe": ("str", "The probe read fresh for expr."),
            "message": ("str", "What the guard protects against, shown when it blocks."),
        },
    },
}

COMMON_STEP_FIELDS = ("id", "kind", "title", "description", "next")


def _json_type(t: Any) -> dict[str, Any]:
    if t == "str":
        return {"type": "string"}
    if t == "int":
        return {"type": "integer"}
    if t == "bool":
        return {"type": "boolean"}
    if t == "any":
        return {}
    if t == "expr":
        return {"type": "string", "description": "safe expression"}
    if t == "ref":
        return {"type": "string"}
    kind = t[0]
    if kind == "list":
        return {"type": "array", "items": _json_type(t[1])}
    if kind == "map":
        return {"type": "object", "additionalProperties": _json_type(t[1])}
    if kind == "enum":
        return {"enum": list(t[1])}
    if kind == "obj":
        return {"$ref": f"#/$defs/{t[1]}"}
    if kind == "either":
        return {"anyOf": [_json_type(x) for x in t[1:]]}
    raise ValueError(t)


def json_schema() -> dict[str, Any]:
    defs = {}
    for name, spec in OBJECTS.items():
        props = {}
        for field, (t, doc) in spec["fields"].items():
            props[field] = {**_json_type(t), "description": doc}
        d: dict[str, Any] = {
            "type": "object",
            "description": spec["doc"],
            "properties": props,
            "required": spec["required"],
            "additionalProperties": False,
        }
        if name == "step":
            props["id"]["pattern"] = STEP_ID_PATTERN
            d["allOf"] = [
                {
                    "if": {"properties": {"kind": {"const": kind}}},
                    "then": {
                        "required": rule["required"],
                        "propertyNames": {"enum": list(COMMON_STEP_FIELDS) + rule["allowed"]},
                    },
                }
                for kind, rule in spec["by_kind"].items()
            ]
        defs[name] = d
    root = dict(defs["playbook"])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://runbook.invalid/playbook.schema.json",
        "title": "runbook playbook",
        **root,
        "$defs": {k: v for k, v in defs.items() if k != "playbook"},
    }
