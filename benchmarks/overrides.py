"""Settings from the command line: a frozen dataclass with FIELD=VALUE overrides."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any, TypeVar

Settings = TypeVar("Settings")


def with_overrides(defaults: Settings, overrides: list[str]) -> Settings:
    """defaults with each FIELD=VALUE applied; PART.FIELD=VALUE reaches a part that is itself
    settings (segmenter.margin_db=6, tones.hold_s=0.3)."""
    values: dict[str, Any] = {}
    parts: dict[str, list[str]] = defaultdict(list)
    for item in overrides:
        key, _, raw = item.partition("=")
        part, _, field = key.partition(".")
        if field:
            parts[part].append(f"{field}={raw}")
        else:
            values[key] = _parse(getattr(defaults, key), raw)
    for part, items in parts.items():
        values[part] = with_overrides(getattr(defaults, part), items)
    return dataclasses.replace(defaults, **values)  # type: ignore[type-var]


def _parse(default: Any, raw: str) -> Any:
    """raw as the type of default; "false", "no" and "0" are False for a flag."""
    if isinstance(default, bool):
        return raw.strip().lower() not in ("false", "no", "0")
    return type(default)(raw)
