"""Reading a YAML file into a strict pydantic model, with errors that name the file,
the line and the field (the SLO file and the target profile both read this way).

    parse_yaml_model(text, SloFile, name="slo.yaml", error=SloFileError)
    # SloFileError: invalid SLO file slo.yaml: slo.yaml:7: objectives.latency.p59:
    #   unknown field; expected one of p50, p90, p95, p99, p99_9

`error(name, problems)` builds the caller's own exception from the problems, each
one line `file:line: field: what`, sorted by line.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from gameday.errors import ConfigError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)
ErrorFactory = Callable[[str, list[str]], ConfigError]


def parse_yaml_model(
    text: str,
    model: type[M],
    *,
    name: str,
    error: ErrorFactory,
    context: dict[str, Any] | None = None,
) -> M:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(name, [f"{name}{line}: not valid YAML: {problem}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(name, [f"{name}:1: the file must be a mapping of fields"])
    lines = _lines(node)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        problems = sorted(
            (_describe(err, model, name, lines) for err in exc.errors()),
            key=lambda text: int(text.removeprefix(name).split(":")[1]),
        )
        raise error(name, problems) from None


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


def _describe(err: Any, model: type[BaseModel], name: str, lines: dict[Loc, int]) -> str:
    loc: Loc = tuple(part for part in err["loc"] if not _is_validator_tag(part))
    line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)
    field = ".".join(str(p) for p in loc) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_fields(model, loc[:-1])
        hint = f"; expected one of {', '.join(allowed)}" if allowed else ""
        return f"{name}:{line}: {field}: unknown field{hint}"
    if kind == "missing":
        return f"{name}:{line}: {field}: required field is missing"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{name}:{line}: {field}: {message}"


def _is_validator_tag(part: str | int) -> bool:
    # pydantic adds e.g. "function-before[parse_latency_ms(), float]" to some locs
    return isinstance(part, str) and "[" in part and part.endswith("]")


def _allowed_fields(model: type[BaseModel], loc: Loc) -> list[str]:
    """The field names of the model found at `loc`, walking the annotations from `model`.
    Fields excluded from output (a trap for a literal secret, say) are not offered."""
    current: Any = model
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
        return [name for name, info in current.model_fields.items() if not info.exclude]
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` -> X; `Annotated[X, ...]` -> X."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return annotation


def published_schema(model: type[BaseModel], name: str, title: str) -> dict[str, Any]:
    """The JSON Schema published as docs/NAME.schema.json for a YAML file's model."""
    schema = model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://gameday.invalid/schemas/{name}.schema.json",
        "title": title,
        **{k: v for k, v in schema.items() if k != "title"},
    }
