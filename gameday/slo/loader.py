"""Reading an SLO file: YAML -> `SloFile`, with errors that name the line and
the field.

    load_slo(Path("slo.yaml"))
    # SloFileError: invalid SLO file slo.yaml: slo.yaml:7: objectives.latency.p59:
    #   unknown field; expected one of p50, p90, p95, p99, p99_9
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from gameday.slo.errors import SloFileError
from gameday.slo.model import SloFile

Loc = tuple[str | int, ...]


def load_slo(path: Path) -> SloFile:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SloFileError(path, [f"{path}: cannot read: {exc.strerror}"]) from None
    return parse_slo(text, name=str(path))


def parse_slo(text: str, *, name: str = "slo.yaml") -> SloFile:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SloFileError(name, [f"{name}{line}: not valid YAML: {problem}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SloFileError(name, [f"{name}:1: the file must be a mapping of fields"])
    lines = _lines(node)
    try:
        return SloFile.model_validate(data)
    except ValidationError as exc:
        problems = sorted(
            (_describe(err, name, lines) for err in exc.errors()),
            key=lambda text: int(text.split(":")[1]),
        )
        raise SloFileError(name, problems) from None


def _lines(node: yaml.Node | None, loc: Loc = ()) -> dict[Loc, int]:
    """Line (1-based) of every key in the document, by its path."""
    found: dict[Loc, int] = {}
    if node is None:
        return found
    found[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = (*loc, str(key.value))
            found.update(_lines(value, path))
            found[path] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found.update(_lines(item, (*loc, i)))
    return found


def _describe(err: Any, name: str, lines: dict[Loc, int]) -> str:
    loc: Loc = tuple(part for part in err["loc"] if not _is_validator_tag(part))
    line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)
    field = ".".join(str(p) for p in loc) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(loc[:-1])
        hint = f"; expected one of {', '.join(allowed)}" if allowed else ""
        return f"{name}:{line}: {field}: unknown field{hint}"
    if kind == "missing":
        return f"{name}:{line}: {field}: required field is missing"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{name}:{line}: {field}: {message}"


def _is_validator_tag(part: str | int) -> bool:
    # pydantic adds e.g. "function-before[parse_latency_ms(), float]" to some locs
    return isinstance(part, str) and "[" in part and part.endswith("]")


def _allowed_fields(loc: Loc) -> list[str]:
    """The field names of the model found at `loc`, walking SloFile's annotations."""
    current: Any = SloFile
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` -> X."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation
