"""Loading YAML data files into pydantic models, with errors that name file, line and field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class DataFileProblem:
    line: int | None
    field: str
    message: str


class DataFileError(Exception):
    """A data file that cannot be used; str() is a ready-to-print, traceback-free explanation."""

    def __init__(self, path: Path | str, problems: list[DataFileProblem]) -> None:
        self.path = Path(path)
        self.problems = problems
        super().__init__(self.describe())

    def __reduce__(self) -> tuple[type[DataFileError], tuple[Path, list[DataFileProblem]]]:
        # Raised in a worker process, it must arrive whole in the parent (benchmarks use pools).
        return (DataFileError, (self.path, self.problems))

    def describe(self) -> str:
        lines = []
        for problem in self.problems:
            where = f"{self.path}:{problem.line}" if problem.line else f"{self.path}"
            field = f" {problem.field}:" if problem.field else ""
            lines.append(f"{where}:{field} {problem.message}")
        return "\n".join(lines)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys instead of silently keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _node_at(
    root: yaml.Node | None, location: tuple[int | str, ...]
) -> tuple[yaml.Node | None, bool]:
    """Walk the YAML node tree along a pydantic error location.

    Returns the deepest node reached and whether the whole location was found (a missing key
    leaves us at the mapping that should have held it).
    """
    node = root
    for part in location:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                    node = value_node
                    break
            else:
                return node, False
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node, False
            node = node.value[part]
        else:
            # pydantic adds steps such as validator names that are not in the document.
            continue
    return node, True


def _unknown_key_node(mapping: yaml.Node | None, key: str) -> yaml.Node | None:
    if isinstance(mapping, yaml.MappingNode):
        for key_node, _ in mapping.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                return key_node
    return None


def _describe(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "this field is required but missing"
    if kind == "extra_forbidden":
        return "unknown key (check its spelling; this key is not part of the format)"
    if kind == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        return f"unknown value {error.get('input')!r}; expected one of {expected}"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    got = error.get("input")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"{message}; got {got!r}"
    return message


def _field_name(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue
        else:
            text += f".{part}" if text else str(part)
    return text


def load_model(path: Path | str, model: type[ModelT]) -> ModelT:
    """Parse and validate one YAML file, raising DataFileError with a line per problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DataFileError(
            path, [DataFileProblem(None, "", f"cannot read the file: {error.strerror}")]
        ) from None
    except UnicodeDecodeError:
        raise DataFileError(
            path, [DataFileProblem(None, "", "the file is not UTF-8 text")]
        ) from None
    return parse_model(text, path, model)


def parse_model(text: str, path: Path | str, model: type[ModelT]) -> ModelT:
    try:
        root = yaml.compose(text, Loader=_UniqueKeyLoader)
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        reason = error.problem or error.context or "invalid YAML"
        if error.context and error.context_mark and error.problem_mark:
            reason += f" ({error.context} that starts on line {error.context_mark.line + 1})"
        raise DataFileError(
            path, [DataFileProblem(line, "", f"YAML syntax error: {reason}")]
        ) from None
    except yaml.YAMLError as error:
        raise DataFileError(path, [DataFileProblem(None, "", f"YAML error: {error}")]) from None
    if not isinstance(data, dict):
        raise DataFileError(
            path, [DataFileProblem(1, "", "expected a mapping of keys at the top level")]
        )
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise DataFileError(path, _problems(root, error)) from None


def _problems(root: yaml.Node | None, error: ValidationError) -> list[DataFileProblem]:
    problems = []
    errors = error.errors()
    for item in errors:
        location = tuple(item["loc"])
        if item["type"] == "too_short" and _has_deeper_error(errors, location):
            continue  # pydantic counts only the valid items; the deeper error is the real one.
        node, found = _node_at(root, location)
        if item["type"] == "extra_forbidden":
            parent, _ = _node_at(root, location[:-1])
            node = _unknown_key_node(parent, str(location[-1])) or node
        line = node.start_mark.line + 1 if node is not None else None
        if not found and item["type"] == "missing" and node is not None:
            line = node.start_mark.line + 1
        problems.append(DataFileProblem(line, _field_name(location), _describe(item)))
    return problems


def _has_deeper_error(errors: list[Any], location: tuple[int | str, ...]) -> bool:
    return any(
        len(e["loc"]) > len(location) and tuple(e["loc"][: len(location)]) == location
        for e in errors
    )
