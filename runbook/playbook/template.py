"""`${EXPR}` in a step's params and text: values taken from the facts (or the playbook's inputs) at the
moment the step runs, with the safe expression language. A param that is exactly `${EXPR}` takes the
value itself (a number stays a number); anywhere else the value is put in as plain text. Nothing is ever
given to a shell: params are argument lists and text is shown as text."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Callable

from runbook.playbook.expr import Expression, ExprError, compile_expr

_PLACE = re.compile(r"\$\{([^{}]*)\}")


@lru_cache(maxsize=512)
def _compiled(source: str) -> Expression:
    return compile_expr(source)


def expressions(value: Any) -> list[str]:
    """Every `${...}` source inside a value (strings, lists, mappings)."""
    if isinstance(value, str):
        return [m[1] for m in _PLACE.finditer(value)]
    if isinstance(value, list):
        return [s for v in value for s in expressions(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in expressions(v)]
    return []


def compile_all(value: Any) -> list[Expression]:
    """Compiled, for load-time checks; raises ExprError for the first that does not compile."""
    return [_compiled(s.strip()) for s in expressions(value)]


def has_templates(value: Any) -> bool:
    return bool(expressions(value))


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _text(v: Any, source: str = "", people: bool = False) -> str:
    """A value put into a text. For people (a step's text), a number is formatted by what the fact is
    called, the last name in its expression: used_memory as MiB, a _s as a duration, a pid as it is."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if people and isinstance(v, (int, float)):
        from runbook.text import human_field

        names = _NAME.findall(re.sub(r"'[^']*'|\"[^\"]*\"", "", source))
        return human_field(names[-1] if names else "", v)
    return str(v)


def render(value: Any, env: dict[str, Any], each: Callable[[str], str] | None = None) -> Any:
    """The value with every `${EXPR}` evaluated; ExprError when a fact it reads is missing. each: given for
    a text shown to people, applied to every value put in (the secrets of a file shown in a step are masked
    as they go in); their numbers are then formatted for people too (4.0 MiB, 2 min 5 s, 12,000)."""
    if isinstance(value, str):
        m = _PLACE.fullmatch(value.strip())
        if m and each is None:
            return _compiled(m[1].strip()).evaluate(env)
        put = each or (lambda t: t)

        def one(mm: re.Match[str]) -> str:
            source = mm[1].strip()
            return put(_text(_compiled(source).evaluate(env), source, people=each is not None))

        return _PLACE.sub(one, value)
    if isinstance(value, list):
        return [render(v, env, each) for v in value]
    if isinstance(value, dict):
        return {k: render(v, env, each) for k, v in value.items()}
    return value


__all__ = ["ExprError", "compile_all", "expressions", "has_templates", "render"]
