"""Small YAML files of ours (inventories, scenarios, answers): read safely, one clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class YamlFileError(ValueError):
    pass


MAX_BYTES = 16 * 1024 * 1024


def read_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The file as a mapping, or YamlFileError naming the file, the place and what is wrong with it.
    Read with the playbooks' own hardened reader: a size limit, no aliases of mappings or lists (a
    small file that expands without bound), a depth limit, no tags."""
    from runbook.playbook.yamlpos import YamlError, compose, decode

    p = Path(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise YamlFileError(f"{p}: {what} is larger than {MAX_BYTES // (1024 * 1024)} MB")
        root = compose(decode(p.read_bytes()))
    except OSError as e:
        raise YamlFileError(f"{p}: cannot read {what}: {e.strerror}") from None
    except YamlError as e:
        raise YamlFileError(f"{p}:{e.line}:{e.col}: not a valid {what}: {e}") from None
    if root is None or root.kind != "map":
        raise YamlFileError(f"{p}:1:1: {what} must be a mapping")
    return root.plain()
