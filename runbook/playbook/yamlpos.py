"""YAML with positions, without recursion.

PyYAML's composer recurses once per nesting level, so a 10,000-deep document ends in
RecursionError. We read the event stream (libyaml when present) and build our own
tree iteratively, keeping line and column of every node, refusing duplicate keys and
anything deeper than MAX_DEPTH.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml missing
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_DEPTH = 64


@dataclass
class YNode:
    kind: str  # "map", "seq", "scalar"
    line: int  # 1-based
    col: int  # 1-based
    value: Any = None  # scalar value, list[YNode], or dict[str, tuple[YNode, YNode]]
    tag: str = ""

    def plain(self) -> Any:
        """The node as plain Python data (iteratively built, no recursion limit issue at our depths)."""
        if self.kind == "scalar":
            return self.value
        if self.kind == "seq":
            return [n.plain() for n in self.value]
        return {k: v.plain() for k, (_, v) in self.value.items()}


class YamlError(Exception):
    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(message)
        self.line = line
        self.col = col


def _pos(mark: Any) -> tuple[int, int]:
    if mark is None:
        return 1, 1
    return mark.line + 1, mark.column + 1


_resolver = yaml.SafeLoader("")


def _scalar(ev: yaml.ScalarEvent) -> Any:
    tag = ev.tag
    if tag in (None, "!"):
        tag = _resolver.resolve(yaml.ScalarNode, ev.value, ev.implicit)
    node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, style=ev.style)
    try:
        return _resolver.construct_object(node, deep=True), tag
    except yaml.YAMLError as e:
        line, col = _pos(ev.start_mark)
        raise YamlError(f"cannot read value: {getattr(e, 'problem', None) or e}", line, col) from None


def compose(text: str) -> YNode | None:
    """Parse one YAML document into YNodes. None for an empty document."""
    stack: list[tuple[YNode, Any]] = []  # (container, pending key node for maps)
    anchors: dict[str, YNode] = {}
    root: YNode | None = None
    docs = 0

    def attach(node: YNode) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        parent, pending = stack[-1]
        if parent.kind == "seq":
            parent.value.append(node)
            return
        if pending is None:
            if node.kind != "scalar" or not isinstance(node.value, (str, int, float, bool)) or node.value is None:
                raise YamlError("a mapping key must be a plain scalar", node.line, node.col)
            stack[-1] = (parent, node)
            return
        key = str(pending.value)
        if key in parent.value:
            raise YamlError(f"duplicate key {key!r}", pending.line, pending.col)
        parent.value[key] = (pending, node)
        stack[-1] = (parent, None)

    try:
        for ev in yaml.parse(text, Loader=_Loader):
            if isinstance(ev, yaml.DocumentStartEvent):
                docs += 1
                if docs > 1:
                    line, col = _pos(ev.start_mark)
                    raise YamlError("the file holds one YAML document", line, col)
            elif isinstance(ev, yaml.ScalarEvent):
                line, col = _pos(ev.start_mark)
                value, tag = _scalar(ev)
                node = YNode("scalar", line, col, value, tag)
                if ev.anchor:
                    anchors[ev.anchor] = node
                attach(node)
            elif isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                line, col = _pos(ev.start_mark)
                if len(stack) >= MAX_DEPTH:
                    raise YamlError(f"nested deeper than {MAX_DEPTH} levels", line, col)
                if ev.tag not in (None, "!", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"):
                    raise YamlError(f"tag {ev.tag} is not allowed", line, col)
                kind = "seq" if isinstance(ev, yaml.SequenceStartEvent) else "map"
                node = YNode(kind, line, col, [] if kind == "seq" else {})
                attach(node)
                if ev.anchor:
                    anchors[ev.anchor] = node
                stack.append((node, None))
            elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                stack.pop()
            elif isinstance(ev, yaml.AliasEvent):
                line, col = _pos(ev.start_mark)
                if ev.anchor not in anchors:
                    raise YamlError(f"unknown alias *{ev.anchor}", line, col)
                if anchors[ev.anchor].kind != "scalar":
                    # Shared collections make a small file expand without bound (and may be recursive).
                    raise YamlError("aliases of mappings or lists are not supported", line, col)
                attach(anchors[ev.anchor])
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = _pos(mark)
        msg = " ".join(x for x in (e.context, e.problem) if x) or str(e)
        lines = text.splitlines()
        if mark is not None and mark.line < len(lines) and "\t" in lines[mark.line][: mark.column + 1]:
            msg += " (a tab: YAML indents with spaces only)"
        raise YamlError(msg.replace("\n", " "), line, col) from None
    except yaml.YAMLError as e:
        raise YamlError(str(e).splitlines()[0] if str(e) else "invalid YAML", 1, 1) from None
    return root


def decode(data: bytes) -> str:
    """UTF-8 text, or YamlError at the position of the first bad byte."""
    if b"\x00" in data:
        off = data.index(b"\x00")
        line = data.count(b"\n", 0, off) + 1
        col = off - (data.rfind(b"\n", 0, off) + 1) + 1
        raise YamlError("binary data (NUL byte): not a YAML text file", line, col)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise YamlError(f"not UTF-8 text (byte 0x{data[e.start]:02x})", line, col) from None
    return text.removeprefix("\ufeff")
