"""Finding and loading protocols by name or path."""

from __future__ import annotations

from pathlib import Path

from assistant.datafile import DataFileError, DataFileProblem, load_model
from assistant.protocol import Contraindications, Protocol
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


def general_contraindications_path() -> Path:
    """The clinic's contraindication list, asked before every protocol's own."""
    return protocols_dir() / "screening" / "contraindications.yaml"


def load_protocol(name_or_path: str) -> tuple[Protocol, Path]:
    """The protocol, its contraindications preceded by the clinic's general list."""
    path = resolve_protocol(name_or_path)
    protocol = load_model(path, Protocol)
    general = load_model(general_contraindications_path(), Contraindications)
    merged = protocol.contraindications.with_general(general)
    return protocol.model_copy(update={"contraindications": merged}), path
