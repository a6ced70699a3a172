"""Small YAML files of ours (inventories, scenarios, answers): read safely, one clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class YamlFileError(ValueError):
    pass


def read_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The file as a mapping, or YamlFileError naming the file and what is wrong with it."""
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise YamlFileError(f"{p}: cannot read {what}: {e.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise YamlFileError(f"{p}: not a valid {what}: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise YamlFileError(f"{p}:1:1: {what} must be a mapping")
    return data
