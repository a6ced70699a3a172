"""Safe expressions for decisions and guards.

A small AST whitelist, not eval(): expressions are parsed once at load time, where
every node, name and function is checked so that a playbook error is reported with
its position; evaluation walks the tree and never calls getattr on real objects (an
attribute is a key lookup in plain data). We chose this over simpleeval because we
need load-time validation with positions, and attribute access that can only read
dictionaries; the whole language is what is below.

Names: `facts` (target -> fact name -> value), `findings` (list of finding ids),
`params`. Functions: finding(id[, target]), severity(level), len, min, max, abs, round, int,
float, str, lower, contains(s, sub); over a list target's facts: max_by(items, key), min_by(items, key)
(the member with the largest or smallest value), pluck(items, key) (the values), every(items, key). A missing fact raises ExprError, so a guard
that reads it blocks instead of passing.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass
from typing import Any, Callable

MAX_LENGTH = 2000
ROOT_NAMES = frozenset({"facts", "findings", "params", "true", "false", "null", "labels", "annotations"})
ALERT_NAMES = frozenset({"labels", "annotations"})  # an alert's, read only where a playbook binds its targets from one


class ExprError(Exception):
    def __init__(self, message: str, col: int = 0) -> None:
        super().__init__(message)
        self.col = col


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.FloorDiv: operator.floordiv,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


FUNCTIONS: dict[str, int | tuple[int, int]] = {
    # name -> arity (or (min, max))
    "finding": (1, 2),
    "severity": 1,
    "len": 1,
    "min": (1, 8),
    "max": (1, 8),
    "abs": 1,
    "round": (1, 2),
    "int": 1,
    "float": 1,
    "str": 1,
    "lower": 1,
    "contains": 2,
    "max_by": 2,
    "min_by": 2,
    "pluck": 2,
    "every": 2,
}


@dataclass(frozen=True)
class Expression:
    source: str
    tree: ast.Expression

    def finding_ids(self) -> list[str]:
        """Literal finding ids named in finding('...') calls, for load-time checks."""
        out = []
        for node in ast.walk(self.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "finding"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                out.append(node.args[0].value)
        return out

    def names(self) -> list[str]:
        """The names the expression reads at its top level (facts, params, labels...), functions apart."""
        called = {id(n.func) for n in ast.walk(self.tree) if isinstance(n, ast.Call)}
        return sorted({n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name) and id(n) not in called})

    def param_names(self) -> list[str]:
        """params.NAME read by the expression."""
        return sorted({n.attr for n in ast.walk(self.tree) if isinstance(n, ast.Attribute)
                       and isinstance(n.value, ast.Name) and n.value.id == "params"})

    def targets(self) -> list[str]:
        """Targets the expression reads: facts.NAME... and finding(id, 'NAME')."""
        out = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "facts":
                out.add(node.attr)
            elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "facts"
                  and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
                out.add(node.slice.value)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "finding"
                  and len(node.args) == 2 and isinstance(node.args[1], ast.Constant)):
                out.add(str(node.args[1].value))
        return sorted(out)

    def fact_refs(self, env: dict[str, Any]) -> dict[str, Any]:
        """The values of the facts the expression reads, as evidence ("<missing>" when absent)."""
        inner = set()
        refs = []
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.Attribute, ast.Subscript)):
                inner.add(id(node.value))
                refs.append(node)
        out: dict[str, Any] = {}
        for node in refs:
            if id(node) in inner:
                continue
            root = node
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            if isinstance(root, ast.Name) and root.id == "facts":
                try:
                    out[ast.unparse(node)] = _Evaluator(env).visit(node)
                except ExprError:
                    out[ast.unparse(node)] = "<missing>"
        return out

    def evaluate(self, env: dict[str, Any]) -> Any:
        return _Evaluator(env).visit(self.tree.body)


def compile_expr(source: str) -> Expression:
    if not isinstance(source, str):
        raise ExprError("an expression must be a string")
    if len(source) > MAX_LENGTH:
        raise ExprError(f"expression longer than {MAX_LENGTH} characters")
    if not source.strip():
        raise ExprError("empty expression")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as e:
        raise ExprError(f"invalid expression: {e.msg}", (e.offset or 1) - 1) from None
    except (ValueError, RecursionError, MemoryError):
        raise ExprError("invalid expression") from None
    _check(tree.body)
    return Expression(source, tree)


def _check(node: ast.AST, depth: int = 0) -> None:
    col = getattr(node, "col_offset", 0)
    if depth > 50:
        raise ExprError("expression nested too deeply", col)
    if isinstance(node, ast.BoolOp):
        pass
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
            raise ExprError("operator not allowed", col)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise ExprError(f"operator {type(node.op).__name__} not allowed", col)
    elif isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _CMPOPS:
                raise ExprError(f"comparison {type(op).__name__} not allowed (use == and !=)", col)
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            raise ExprError("constant type not allowed", col)
    elif isinstance(node, ast.Name):
        if node.id not in ROOT_NAMES and node.id not in ("True", "False", "None"):
            raise ExprError(f"unknown name {node.id!r} (expected facts, findings or params; labels and "
                            f"annotations in an alert's targets)", col)
    elif isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            raise ExprError("names starting with _ are not allowed", col)
    elif isinstance(node, ast.Subscript):
        if isinstance(node.slice, ast.Slice):
            raise ExprError("slices are not allowed", col)
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else "this call"
            raise ExprError(f"unknown function {name!r}; known: {', '.join(sorted(FUNCTIONS))}", col)
        if node.keywords:
            raise ExprError("keyword arguments are not allowed", col)
        arity = FUNCTIONS[node.func.id]
        lo, hi = (arity, arity) if isinstance(arity, int) else arity
        if not lo <= len(node.args) <= hi:
            raise ExprError(f"{node.func.id}() takes {lo if lo == hi else f'{lo} to {hi}'} argument(s)", col)
        for a in node.args:
            _check(a, depth + 1)
        return
    elif isinstance(node, (ast.List, ast.Tuple)):
        pass
    elif isinstance(node, ast.IfExp):
        pass
    elif isinstance(node, (ast.Load, ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd)) or type(node) in _BINOPS or type(node) in _CMPOPS:
        return
    else:
        raise ExprError(f"{type(node).__name__} is not allowed in an expression", col)
    for child in ast.iter_child_nodes(node):
        _check(child, depth + 1)


class _Evaluator:
    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env

    def visit(self, node: ast.AST) -> Any:
        try:
            return getattr(self, "v_" + type(node).__name__)(node)
        except ExprError:
            raise
        except (TypeError, ValueError, ZeroDivisionError, OverflowError) as e:
            raise ExprError(f"cannot evaluate: {e}", getattr(node, "col_offset", 0)) from None

    def v_Constant(self, n: ast.Constant) -> Any:
        return n.value

    def v_Name(self, n: ast.Name) -> Any:
        lits = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
        if n.id in lits:
            return lits[n.id]
        if n.id not in self.env:
            raise ExprError(f"{n.id} is not available here", n.col_offset)
        return self.env[n.id]

    def _lookup(self, base: Any, key: Any, n: ast.AST, label: str) -> Any:
        if isinstance(base, dict):
            if key not in base:
                raise ExprError(f"no value for {label}", getattr(n, "col_offset", 0))
            return base[key]
        if isinstance(base, (list, tuple, str)) and isinstance(key, int) and not isinstance(key, bool):
            if -len(base) <= key < len(base):
                return base[key]
            raise ExprError(f"index {key} out of range in {label}", getattr(n, "col_offset", 0))
        raise ExprError(f"cannot look up {key!r} in a {type(base).__name__} ({label})", getattr(n, "col_offset", 0))

    def v_Attribute(self, n: ast.Attribute) -> Any:
        return self._lookup(self.visit(n.value), n.attr, n, ast.unparse(n))

    def v_Subscript(self, n: ast.Subscript) -> Any:
        return self._lookup(self.visit(n.value), self.visit(n.slice), n, ast.unparse(n))

    def v_BoolOp(self, n: ast.BoolOp) -> Any:
        if isinstance(n.op, ast.And):
            for v in n.values:
                if not self.visit(v):
                    return False
            return True
        for v in n.values:
            if self.visit(v):
                return True
        return False

    def v_UnaryOp(self, n: ast.UnaryOp) -> Any:
        v = self.visit(n.operand)
        if isinstance(n.op, ast.Not):
            return not v
        if not _num(v):
            raise ExprError("unary minus needs a number", n.col_offset)
        return -v if isinstance(n.op, ast.USub) else v

    def v_BinOp(self, n: ast.BinOp) -> Any:
        a, b = self.visit(n.left), self.visit(n.right)
        if isinstance(n.op, ast.Add) and isinstance(a, str) and isinstance(b, str):
            return a + b
        if not (_num(a) and _num(b)):
            raise ExprError("arithmetic needs numbers", n.col_offset)
        return _BINOPS[type(n.op)](a, b)

    def v_Compare(self, n: ast.Compare) -> Any:
        left = self.visit(n.left)
        for op, comp in zip(n.ops, n.comparators):
            right = self.visit(comp)
            if isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) and not (
                (_num(left) and _num(right)) or (isinstance(left, str) and isinstance(right, str))
            ):
                raise ExprError(f"cannot order {type(left).__name__} and {type(right).__name__}", n.col_offset)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True

    def v_List(self, n: ast.List) -> Any:
        return [self.visit(e) for e in n.elts]

    v_Tuple = v_List

    def v_IfExp(self, n: ast.IfExp) -> Any:
        return self.visit(n.body) if self.visit(n.test) else self.visit(n.orelse)

    def v_Call(self, n: ast.Call) -> Any:
        name = n.func.id  # type: ignore[attr-defined]
        args = [self.visit(a) for a in n.args]
        if name == "finding":
            if len(args) == 2:  # finding(id, target): raised on that target
                found = args[0] in self.env.get("findings_by_target", {}).get(str(args[1]), [])
            else:
                found = args[0] in self.env.get("findings", [])
            unread = {t: ps for t, ps in (self.env.get("unread") or {}).items()
                      if ps and (len(args) == 1 or t == str(args[1]))}
            if not found and unread:  # absent only because it was not read: not known
                where = "; ".join(f"{', '.join(ps)} on {t}" for t, ps in sorted(unread.items()))
                raise ExprError(f"finding {args[0]!r} cannot be judged: {where} could not be read", n.col_offset)
            return found
        if name == "severity":
            return args[0] in self.env.get("severities", [])
        if name == "contains":
            return str(args[1]) in str(args[0])
        if name == "lower":
            return str(args[0]).lower()
        if name in ("max_by", "min_by", "pluck", "every"):
            items, key = args
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise ExprError(f"{name}() needs a list of facts (a list target's), got {type(items).__name__}", n.col_offset)
            missing = [i.get("target", "?") for i in items if key not in i]
            if missing:
                raise ExprError(f"no value for {key} on {', '.join(map(str, missing))}", n.col_offset)
            if name == "pluck":
                return [i[key] for i in items]
            if name == "every":
                return all(bool(i[key]) for i in items)
            if not items:
                raise ExprError(f"{name}() of an empty list", n.col_offset)
            return (max if name == "max_by" else min)(items, key=lambda i: i[key])
        fn = {"len": len, "min": min, "max": max, "abs": abs, "round": round, "int": int, "float": float, "str": str}[name]
        return fn(*args)
