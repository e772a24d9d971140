"""Finding and loading protocols by name or path."""

from __future__ import annotations

from pathlib import Path

from assistant.datafile import DataFileError, DataFileProblem, load_model
from assistant.protocol import Protocol
from assistant.resources import protocols_dir


def builtin_protocols() -> dict[str, Path]:
    """Built-in protocol names with their files."""
    return {path.stem: path for path in sorted(protocols_dir().glob("*.yaml"))}


def resolve_protocol(name_or_path: str) -> Path:
    """A protocol file from a built-in name ("cervical") or a path to a YAML file."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    builtins = builtin_protocols()
    if name_or_path in builtins:
        return builtins[name_or_path]
    known = ", ".join(builtins) or "none"
    raise DataFileError(
        name_or_path,
        [DataFileProblem(None, "", f"no such protocol; built-in protocols are: {known}")],
    )


def load_protocol(name_or_path: str) -> tuple[Protocol, Path]:
    path = resolve_protocol(name_or_path)
    return load_model(path, Protocol), path
