"""Load and validate playbooks. Every problem is reported as PATH:LINE:COL: message."""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

from runbook import catalog, registry
from runbook.playbook import schema
from runbook.playbook.expr import ALERT_NAMES, ExprError, compile_expr
from runbook.playbook import template
from runbook.playbook.model import END, AlertSpec, Branch, GuardRef, Input, Playbook, Problem, Step, TargetRole
from runbook.playbook.yamlpos import YamlError, YNode, compose, decode

MAX_BYTES = 16 * 1024 * 1024
_ID_RE = re.compile(schema.STEP_ID_PATTERN)


class _Checker:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def err(self, node: YNode | None, message: str, line: int | None = None, col: int | None = None) -> None:
        ln = line if line is not None else (node.line if node else 1)
        cl = col if col is not None else (node.col if node else 1)
        self.problems.append(Problem(self.path, ln, cl, message))

    # -- generic, schema-driven type check; returns plain data or None when wrong
    def value(self, node: YNode, t: Any, where: str) -> Any:
        if t == "any":
            return node.plain()
        if t in ("str", "ref", "expr"):
            if node.kind != "scalar" or not isinstance(node.value, str):
                if node.kind == "scalar" and isinstance(node.value, (int, float)) and not isinstance(node.value, bool) and t == "str":
                    return str(node.value)
                self.err(node, f"{where}: expected a string, got {_describe(node)}")
                return None
            return node.value
        if t == "int":
            if node.kind != "scalar" or not isinstance(node.value, int) or isinstance(node.value, bool):
                self.err(node, f"{where}: expected an integer, got {_describe(node)}")
                return None
            return node.value
        if t == "bool":
            if node.kind != "scalar" or not isinstance(node.value, bool):
                self.err(node, f"{where}: expected true or false, got {_describe(node)}")
                return None
            return node.value
        kind = t[0]
        if kind == "enum":
            if node.kind != "scalar" or node.value not in t[1]:
                self.err(node, f"{where}: expected one of {', '.join(t[1])}, got {_describe(node)}{_suggest(node.value, t[1])}")
                return None
            return node.value
        if kind == "list":
            if node.kind != "seq":
                self.err(node, f"{where}: expected a list, got {_describe(node)}")
                return None
            return [(item, self.value(item, t[1], f"{where}[{i}]")) for i, item in enumerate(node.value)]
        if kind == "map":
            if node.kind != "map":
                self.err(node, f"{where}: expected a mapping, got {_describe(node)}")
                return None
            if t[1] == "any":
                return node.plain()
            return {k: (kn, vn, self.value(vn, t[1], f"{where}.{k}")) for k, (kn, vn) in node.value.items()}
        if kind == "obj":
            return self.obj(node, t[1], where)
        if kind == "either":
            if node.kind == "scalar":
                return self.value(node, t[1], where)
            return self.value(node, t[2], where)
        raise AssertionError(t)

    def obj(self, node: YNode, name: str, where: str, allowed: list[str] | None = None) -> dict[str, Any] | None:
        spec = schema.OBJECTS[name]
        if node.kind != "map":
            self.err(node, f"{where}: expected a mapping ({spec['doc']}), got {_describe(node)}")
            return None
        fields = spec["fields"]
        names = allowed or list(fields)
        out: dict[str, Any] = {"__node__": node}
        for key, (kn, vn) in node.value.items():
            if key not in fields:
                self.err(kn, f"{where}: unknown key {key!r}{_suggest(key, list(fields))}")
                continue
            if key not in names:
                continue  # reported by the caller, which knows why (e.g. the step kind)
            out[key] = self.value(vn, fields[key][0], f"{where}.{key}")
            out["__pos__" + key] = vn
        for req in spec["required"]:
            if req not in node.value:
                self.err(node, f"{where}: missing required key {req!r}")
        return out


def _describe(node: YNode) -> str:
    if node.kind == "map":
        return "a mapping"
    if node.kind == "seq":
        return "a list"
    v = node.value
    if v is None:
        return "nothing (null)"
    if isinstance(v, bool):
        return f"a boolean ({str(v).lower()})"
    if isinstance(v, (int, float)):
        return f"a number ({v})"
    s = str(v)
    return f"a string ({s[:40]!r}{'...' if len(s) > 40 else ''})"


def _suggest(word: Any, choices: list[str] | Any) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load(path: str | os.PathLike[str]) -> tuple[Playbook | None, list[Problem]]:
    """Load a playbook file. Returns the playbook when there is no problem."""
    p = str(path)
    try:
        size = os.path.getsize(p)
        if size > MAX_BYTES:
            return None, [Problem(p, 1, 1, f"file is {size} bytes, larger than the {MAX_BYTES // (1024 * 1024)} MB limit")]
        data = Path(p).read_bytes()
    except OSError as e:
        return None, [Problem(p, 1, 1, f"cannot read: {e.strerror or e}")]
    return loads(data, p)


def loads(data: bytes | str, path: str = "<string>") -> tuple[Playbook | None, list[Problem]]:
    c = _Checker(path)
    try:
        text = decode(data) if isinstance(data, bytes) else data
        if "\x00" in text:
            raise YamlError("binary data (NUL byte): not a YAML text file", 1, 1)
        root = compose(text)
    except YamlError as e:
        return None, [Problem(path, e.line, e.col, e.message if hasattr(e, "message") else str(e))]
    except RecursionError:  # pragma: no cover - compose is iterative; belt and braces
        return None, [Problem(path, 1, 1, "document nested too deeply")]
    if root is None or (root.kind == "scalar" and root.value is None):
        return None, [Problem(path, 1, 1, "empty playbook: expected a mapping with name and steps")]
    if root.kind != "map":
        return None, [Problem(path, root.line, root.col, f"a playbook is a mapping with name and steps, got {_describe(root)}")]
    pb = _build(c, root)
    if pb is not None and not c.problems:
        _graph(c, pb)
    c.problems.sort(key=lambda pr: (pr.line, pr.col, pr.message))
    return (pb if not c.problems else None), c.problems


def _build(c: _Checker, root: YNode) -> Playbook | None:
    top = c.obj(root, "playbook", "playbook")
    if top is None:
        return None
    roles: dict[str, TargetRole] = {}
    for name, (kn, _vn, spec) in (top.get("targets") or {}).items():
        if spec is None:
            continue
        roles[name] = TargetRole(name, spec.get("kind") or "host", spec.get("description") or "", bool(spec.get("list")))
        if not _ID_RE.match(name):
            c.err(kn, f"target name {name!r}: use lower case letters, digits, - and _")
    inputs: dict[str, Input] = {}
    for name, (kn, _vn, spec) in (top.get("inputs") or {}).items():
        if spec is None:
            continue
        if not re.match(r"^[a-z_][a-z0-9_]{0,63}$", name):
            c.err(kn, f"input {name!r}: use lower case letters, digits and _ (it is read as params.{name})")
        typ = spec.get("type") or "str"
        default = spec.get("default")
        ok = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,)}[typ]
        if default is not None and (not isinstance(default, ok) or (typ != "bool" and isinstance(default, bool))):
            c.err(spec.get("__pos__default") or kn, f"input {name!r}: default {default!r} is not a {typ}")
        inputs[name] = Input(name, typ, default, spec.get("description") or "")
    steps: list[Step] = []
    seen: dict[str, YNode] = {}
    for node, spec in top.get("steps") or []:
        if spec is None:
            continue
        step = _step(c, node, spec, roles, inputs)
        if step is None or "__pos__id" not in spec:
            continue  # a step without an id: already reported
        if step.id in seen:
            first = seen[step.id]
            c.err(spec["__pos__id"], f"duplicate step id {step.id!r} (first at line {first.line})")
            continue
        seen[step.id] = spec["__pos__id"]
        steps.append(step)
    if top.get("steps") is not None and not top["steps"]:
        c.err(top["__pos__steps"], "steps: a playbook needs at least one step")
    alerts = _alerts(c, top.get("alerts") or [], roles, inputs)
    if top.get("version") not in (None, 1):
        c.err(top["__pos__version"], f"version: only version 1 is known, got {top['version']}")
    if c.problems:
        return None
    return Playbook(
        path=c.path,
        name=top.get("name") or "",
        title=top.get("title") or "",
        description=top.get("description") or "",
        targets=roles,
        steps=steps,
        version=top.get("version") or 1,
        inputs=inputs,
        alerts=alerts,
        approval=top.get("approval") or "",
        approval_timeout_s=float(top["approval_timeout_s"]) if top.get("approval_timeout_s") else None,
    )


def _alerts(c: _Checker, nodes: list[Any], roles: dict[str, TargetRole], inputs: dict[str, Any]) -> list[AlertSpec]:
    """The alerts a playbook handles: each role it binds is one of its targets, each input it gives is one
    of its inputs, and its templates read only the alert's labels and annotations."""
    out = []
    for node, spec in nodes:
        if spec is None:
            continue
        name = spec.get("alertname") or ""
        where = f"alert {name or '?'}"
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_:]*$", name):
            c.err(spec.get("__pos__alertname") or node, f"{where}: alertname must be a Prometheus alert name")
        match = {k: v for k, (_kn, _vn, v) in (spec.get("match") or {}).items() if v is not None}
        targets = {}
        for role, (kn, vn, value) in (spec.get("targets") or {}).items():
            if value is None:
                continue
            if role not in roles:
                c.err(kn, f"{where}: targets: {role!r} is not a target of this playbook{_suggest(role, roles)}")
                continue
            for source in template.expressions(value):
                _expr(c, vn, source.strip(), f"{where}: targets: {role}: ${{{source.strip()}}}", alert=True)
            targets[role] = value
        given = {}
        for key, (kn, vn, value) in (spec.get("inputs") or {}).items():
            if value is None:
                continue
            if key not in inputs:
                c.err(kn, f"{where}: inputs: {key!r} is not an input of this playbook{_suggest(key, inputs)}")
                continue
            for source in template.expressions(value):
                _expr(c, vn, source.strip(), f"{where}: inputs: {key}: ${{{source.strip()}}}", alert=True)
            given[key] = value
        out.append(AlertSpec(name, match, targets, given))
    return out


def _expr(c: _Checker, node: YNode, source: str | None, where: str, alert: bool = False) -> Any:
    """alert: an alert's binding, which reads its labels and annotations (nothing else reads them)."""
    if source is None:
        return None
    try:
        e = compile_expr(source)
    except ExprError as ex:
        c.err(node, f"{where}: {ex}", col=node.col + ex.col)
        return None
    wrong = set(e.names()) - ALERT_NAMES if alert else set(e.names()) & ALERT_NAMES
    if wrong:
        c.err(node, f"{where}: {', '.join(sorted(wrong))}: " + ("an alert's binding reads only labels and annotations"
                                                                 if alert else "only an alert's targets read these"))
        return None
    for fid in e.finding_ids():
        if fid not in catalog.RULES:
            c.err(node, f"{where}: unknown finding id {fid!r}{_suggest(fid, catalog.RULES)}")
    return e


# Programs that run their argument as code: the shells with -c, interpreters with -c or -e.
_CODE_FLAGS = {**{sh: "c" for sh in ("sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "fish", "csh", "tcsh")},
               **{i: "ce" for i in ("python", "python2", "python3", "perl", "ruby", "node", "php", "lua", "awk")}}


def _scripts_with_templates(value: Any) -> list[str]:
    """The `PROGRAM -c CODE` of every command list in value whose CODE holds a ${...} template."""
    out: list[str] = []
    if isinstance(value, dict):
        for v in value.values():
            out += _scripts_with_templates(v)
    elif isinstance(value, list):
        words = [w for w in value if isinstance(w, str)]
        for i, w in enumerate(words):
            prog = os.path.basename(w)
            flags = _CODE_FLAGS.get(prog) or _CODE_FLAGS.get(prog.rstrip("0123456789.")) or ""
            if not flags:
                continue
            for j in range(i + 1, len(words) - 1):
                opt = words[j]
                if not opt.startswith("-") or opt == "--":
                    break
                if not opt.startswith("--") and any(f in opt[1:] for f in flags):
                    if template.has_templates(words[j + 1]):
                        out.append(f"{prog} {opt}")
                    break
        for v in value:
            if isinstance(v, (list, dict)):
                out += _scripts_with_templates(v)
    return out


def _templates(c: _Checker, node: YNode, value: Any, where: str, inputs: dict[str, Input]) -> None:
    """Every ${EXPR} in a value compiles, names known finding ids, and reads only declared inputs."""
    for source in template.expressions(value):
        e = _expr(c, node, source.strip(), f"{where}: ${{{source.strip()}}}")
        if e is None:
            continue
        for name in e.param_names():
            if name not in inputs:
                c.err(node, f"{where}: params.{name} is not an input of this playbook{_suggest(name, inputs)}")


def _step(c: _Checker, node: YNode, spec: dict[str, Any] | None, roles: dict[str, TargetRole],
          inputs: dict[str, Input] | None = None) -> Step | None:
    inputs = inputs or {}
    if spec is None:
        return None
    sid = spec.get("id")
    kind = spec.get("kind")
    where = f"step {sid!r}" if sid else "step"
    if sid is not None and not _ID_RE.match(sid):
        c.err(spec["__pos__id"], f"{where}: id must be lower case letters, digits, - and _ (at most 64)")
    if sid == END:
        c.err(spec["__pos__id"], f"{where}: 'end' is reserved for the end of the playbook")
    if kind is None:
        return None
    rule = schema.OBJECTS["step"]["by_kind"][kind]
    allowed = set(schema.COMMON_STEP_FIELDS) | set(rule["allowed"])
    for key, (kn, _vn) in node.value.items():
        if key in schema.OBJECTS["step"]["fields"] and key not in allowed:
            c.err(kn, f"{where}: {key!r} does not belong in {'an' if kind[0] in 'aeiou' else 'a'} {kind} step (allowed: {', '.join(sorted(allowed))})")
    for req in rule["required"]:
        if req not in node.value:
            c.err(node, f"{where}: a {kind} step needs {req!r}")
    target = spec.get("target") or ""
    for_each = spec.get("for_each") or ""
    chosen = template.has_templates(target)  # a member of a list target, chosen by the facts at run time
    if for_each:
        if for_each not in roles:
            c.err(spec["__pos__for_each"], f"{where}: unknown target {for_each!r}{_suggest(for_each, roles)}")
        elif not roles[for_each].list:
            c.err(spec["__pos__for_each"], f"{where}: for_each needs a list target; {for_each!r} is one target (add list: true)")
        if target and target != for_each:
            c.err(spec["__pos__target"], f"{where}: a for_each step works on its list target: leave target out")
        target = for_each
    elif kind in ("check", "action", "wait") and not target:
        c.err(node, f"{where}: a {kind} step needs 'target' (or for_each over a list target)")
    if chosen:
        _templates(c, spec["__pos__target"], target, f"{where}: target", inputs)
        list_roles = [r for r in roles.values() if r.list]
        if kind != "action" or not list_roles:
            c.err(spec["__pos__target"], f"{where}: a target chosen by the facts must be a member of a list target, in an action step")
        tkind = list_roles[0].kind if list_roles and len({r.kind for r in list_roles}) == 1 else None
    else:
        if target and target not in roles:
            c.err(spec["__pos__target"], f"{where}: unknown target {target!r}{_suggest(target, roles)}"
                  + ("" if roles else " (declare it under targets:)"))
        tkind = roles[target].kind if target in roles else None
    if "params" in spec:
        _templates(c, spec["__pos__params"], spec.get("params"), f"{where}: params", inputs)
        for script in _scripts_with_templates(spec.get("params")):
            c.err(spec["__pos__params"], f"{where}: params: ${{...}} inside the code of {script}: a value read "
                  "from a live system would become code. Pass it as an argument after the code instead "
                  "([sh, -c, 'echo \"$1\"', sh, '${...}'])")
    if spec.get("text"):
        _templates(c, spec["__pos__text"], spec.get("text"), f"{where}: text", inputs)

    probes: list[str] = []
    for pnode, pname in spec.get("probes") or []:
        if pname is None:
            continue
        if pname not in registry.PROBES:
            c.err(pnode, f"{where}: unknown probe {pname!r}{_suggest(pname, registry.PROBES)}")
        elif tkind and registry.PROBES[pname].target_kind != tkind:
            c.err(pnode, f"{where}: probe {pname!r} reads a {registry.PROBES[pname].target_kind} target, {target!r} is {tkind}")
        probes.append(pname)
    for pname in probes:  # params a probe refuses (redis.command: an allow-listed read) are known before anything runs
        check = getattr(registry.PROBES.get(pname), "check_params", None)
        if check is not None:
            params = spec.get("params") or {}
            own = params.get(pname) if isinstance(params.get(pname), dict) else params
            try:
                check(own)
            except ValueError as e:
                c.err(spec.get("__pos__params") or node, f"{where}: {pname}: {e}")

    ref_pos = {k: (spec["__pos__" + k].line, spec["__pos__" + k].col) for k in ("next", "default", "on_timeout", "on_failure", "on_unknown")
               if "__pos__" + k in spec}
    until = _expr(c, spec["__pos__until"], spec.get("until"), f"{where}: until") if "until" in spec else None
    if kind == "wait" and len(probes) != 1 and spec.get("probes") is not None:
        c.err(spec["__pos__probes"], f"{where}: a wait step reads one probe again and again")
    for key in ("timeout_s", "interval_s"):
        if spec.get(key) is not None and not 1 <= spec[key] <= 86400:
            c.err(spec["__pos__" + key], f"{where}: {key} must be between 1 and 86400 seconds")
    called = None
    target_map: dict[str, str] = {}
    if kind == "call" and spec.get("playbook"):
        called, target_map = _call(c, spec, roles, where)
    branches = []
    for bnode, b in spec.get("branches") or []:
        if b is None:
            continue
        e = _expr(c, b["__pos__when"], b.get("when"), f"{where}: when") if "when" in b else None
        for name in e.param_names() if e is not None else []:
            if name not in inputs:
                c.err(b["__pos__when"], f"{where}: when: params.{name} is not an input of this playbook{_suggest(name, inputs)}")
        if e is not None and b.get("goto"):
            ref_pos[f"goto:{len(branches)}"] = (b["__pos__goto"].line, b["__pos__goto"].col)
            branches.append(Branch(e, b["goto"]))
    if kind == "decision" and spec.get("branches") == []:
        c.err(spec["__pos__branches"], f"{where}: a decision needs at least one branch")

    action = spec.get("action") or ""
    if action:
        if action not in registry.ACTIONS:
            c.err(spec["__pos__action"], f"{where}: unknown action {action!r}{_suggest(action, registry.ACTIONS)}")
        elif tkind and registry.ACTIONS[action].target_kind != tkind:
            c.err(spec["__pos__action"], f"{where}: action {action!r} changes a {registry.ACTIONS[action].target_kind} target, {target!r} is {tkind}")

    guards = []
    for gnode, g in spec.get("guards") or []:
        if g is None:
            continue
        if isinstance(g, str):
            g = {"name": g, "__pos__name": gnode}
        name, gexpr = g.get("name"), g.get("expr")
        if bool(name) == bool(gexpr):
            c.err(gnode, f"{where}: a guard is either a name or an expr with a probe")
            continue
        if name:
            if name not in registry.GUARDS:
                c.err(g["__pos__name"], f"{where}: unknown guard {name!r}{_suggest(name, registry.GUARDS)}")
                continue
            guards.append(GuardRef(name=name, params=g.get("params") or {}))
        else:
            e = _expr(c, g["__pos__expr"], gexpr, f"{where}: guard")
            probe = g.get("probe")
            if not probe:
                c.err(gnode, f"{where}: an expr guard needs the probe whose fresh facts it reads")
                continue
            if probe not in registry.PROBES:
                c.err(g["__pos__probe"], f"{where}: unknown probe {probe!r}{_suggest(probe, registry.PROBES)}")
                continue
            if e is not None:
                guards.append(GuardRef(expr=e, probe=probe, message=g.get("message") or "", params=g.get("params") or {}))

    return Step(
        id=sid or "",
        kind=kind,
        line=node.line,
        col=node.col,
        ref_pos=ref_pos,
        title=spec.get("title") or "",
        description=spec.get("description") or "",
        next=spec.get("next"),
        target=target,
        probes=tuple(probes),
        params=spec.get("params") or {},
        branches=tuple(branches),
        default=spec.get("default"),
        text=spec.get("text") or "",
        action=action,
        guards=tuple(guards),
        until=until,
        timeout_s=float(spec["timeout_s"]) if spec.get("timeout_s") else None,
        interval_s=float(spec.get("interval_s") or 2),
        on_timeout=spec.get("on_timeout"),
        on_unknown=spec.get("on_unknown"),
        on_failure=spec.get("on_failure"),
        for_each=for_each,
        playbook=spec.get("playbook") or "",
        target_map=target_map,
        called=called,
        approval=spec.get("approval") or "",
    )


_LOADING: list[str] = []  # the calls being loaded (a playbook that calls itself, even through others, is refused)


def _call(c: _Checker, spec: dict[str, Any], roles: dict[str, TargetRole], where: str) -> tuple[Playbook | None, dict[str, str]]:
    name = spec["playbook"]
    node = spec["__pos__playbook"]
    if not _ID_RE.match(name):
        c.err(node, f"{where}: playbook is the name of a playbook beside this one, such as redis-enable-aof")
        return None, {}
    path = Path(c.path).resolve().parent / f"{name}.yaml"
    if str(path) in _LOADING or path == Path(c.path).resolve():
        c.err(node, f"{where}: {name} calls back into a playbook that calls it: a loop")
        return None, {}
    if not path.exists():
        c.err(node, f"{where}: no playbook {name!r} beside this one ({path})")
        return None, {}
    _LOADING.append(str(path))
    try:
        called, problems = load(path)
    finally:
        _LOADING.pop()
    if called is None:
        c.err(node, f"{where}: {name} has problems: " + "; ".join(str(p) for p in problems[:3]))
        return None, {}
    given = {k: v for k, (_kn, _vn, v) in (spec.get("targets") or {}).items() if v is not None}
    target_map = {}
    for role, r in called.targets.items():
        ours = given.get(role, role)
        if ours not in roles:
            c.err(spec.get("__pos__targets") or node, f"{where}: {name} needs a {r.kind} target {role!r}: map it to one of "
                  f"this playbook's targets (targets: {{{role}: ROLE}})")
        elif roles[ours].kind != r.kind:
            c.err(spec.get("__pos__targets") or node, f"{where}: {name}'s {role!r} is {r.kind}; {ours!r} is {roles[ours].kind}")
        else:
            target_map[role] = ours
    for role in given:
        if role not in called.targets:
            c.err(spec["__pos__targets"], f"{where}: {name} has no target {role!r}{_suggest(role, called.targets)}")
    required = [i for i in called.inputs.values() if i.required]
    if required:
        c.err(node, f"{where}: {name} needs inputs with no default ({', '.join(i.name for i in required)}): it cannot be called")
    return called, target_map


def _graph(c: _Checker, pb: Playbook) -> None:
    ids = set(pb.by_id)
    # goto to nowhere
    for s in pb.steps:
        refs = [("next", "next", s.next), ("default", "default", s.default), ("on_timeout", "on_timeout", s.on_timeout),
                ("on_failure", "on_failure", s.on_failure), ("on_unknown", "on_unknown", s.on_unknown)]
        refs += [("goto", f"goto:{i}", b.goto) for i, b in enumerate(s.branches)]
        for label, key, ref in refs:
            if ref is not None and ref != END and ref not in ids:
                line, col = s.ref_pos.get(key, (s.line, s.col))
                c.err(None, f"step {s.id!r}: {label} {ref!r} goes to no step{_suggest(ref, ids)}", line=line, col=col)
    if c.problems:
        return
    succ = {s.id: pb.successors(s) for s in pb.steps}
    # unreachable steps
    start = pb.steps[0].id
    seen = {start}
    todo = [start]
    while todo:
        for n in succ.get(todo.pop(), []):
            if n != END and n not in seen:
                seen.add(n)
                todo.append(n)
    for s in pb.steps:
        if s.id not in seen:
            c.err(None, f"step {s.id!r} is unreachable: no step leads to it", line=s.line, col=s.col)
    # loops with no way out: reachable steps from which END cannot be reached
    pred: dict[str, set[str]] = {sid: set() for sid in ids}
    pred[END] = set()
    for sid, outs in succ.items():
        for o in outs:
            pred[o].add(sid)
    can_end = {END}
    todo = [END]
    while todo:
        for p in pred[todo.pop()]:
            if p not in can_end:
                can_end.add(p)
                todo.append(p)
    for s in pb.steps:
        if s.id in seen and s.id not in can_end:
            c.err(None, f"step {s.id!r} is in a loop with no way out: no path from it reaches the end", line=s.line, col=s.col)


_PLAYBOOK_KEY = re.compile(rb"^steps[ \t]*:", re.M)
_SKIP_DIRS = frozenset({"node_modules", "site-packages", "__pycache__", "scenarios"})


def valid_playbooks(paths: list[str]) -> list[Playbook]:
    """The playbooks under these paths that load without a problem (those with one are left out)."""
    return [pb for f in find_playbooks(paths) for pb in [load(f)[0]] if pb is not None]


def find_playbooks(paths: list[str]) -> list[Path]:
    """Files named are taken as they are; directories are walked for YAML files that are playbooks (a
    top-level `steps:`), skipping hidden directories, virtualenvs and scenario folders."""
    out: list[Path] = []
    for p in paths:
        pp = Path(p)
        if not pp.is_dir():
            out.append(pp)
            continue
        for root, dirs, files in os.walk(pp):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS
                             and not os.path.exists(os.path.join(root, d, "pyvenv.cfg")))
            for name in sorted(files):
                if name.endswith((".yaml", ".yml")) and name != "inventory.yaml" and _looks_like_playbook(
                        os.path.join(root, name)):
                    out.append(Path(root) / name)
    return out


def _looks_like_playbook(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return bool(_PLAYBOOK_KEY.search(f.read(256 * 1024)))
    except OSError:
        return False
