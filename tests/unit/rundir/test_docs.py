"""docs/run-data.md documents every field of every run-directory model and every event
type: a field added to gameday.rundir without a word in the page fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from gameday.rundir import (
    EVENT_TYPES,
    EventBase,
    Exemplar,
    ExperimentOutcome,
    GeneratorInfo,
    GeneratorReport,
    LedgerEntry,
    Reconciliation,
    RollbackOutcome,
    RunRecord,
    SteadyStateWait,
    UnconfirmedWrite,
)

DOC = Path(__file__).resolve().parents[3] / "docs" / "run-data.md"

# Each model is documented in the section of the file it is written to; a subclass
# documents only the fields it adds.
SECTIONS: dict[type[BaseModel], str] = {
    RunRecord: "run.json",
    GeneratorInfo: "run.json",
    GeneratorReport: "generator.json",
    Exemplar: "exemplars.jsonl",
    LedgerEntry: "ledger.jsonl",
    UnconfirmedWrite: "unconfirmed.jsonl",
    ExperimentOutcome: "experiment.json",
    RollbackOutcome: "experiment.json",
    SteadyStateWait: "experiment.json",
    Reconciliation: "reconciliation.json",
}


def _section(title: str) -> str:
    """The text under `## `title`` up to the next `## ` heading."""
    text = DOC.read_text()
    match = re.search(rf"^## `{re.escape(title)}`\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/run-data.md has no section ## `{title}`"
    return match.group(1)


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text) is not None


def _record_fields() -> list[tuple[str, str, str]]:
    cases = []
    for model, section in SECTIONS.items():
        fields = list(model.model_fields)
        if model is GeneratorReport:  # the rest is run.json's generator
            fields = [f for f in fields if f not in GeneratorInfo.model_fields]
        cases += [(model.__name__, section, field) for field in fields]
    return cases


@pytest.mark.parametrize(
    ("model", "section", "field"),
    _record_fields(),
    ids=[f"{m}.{f}" for m, _, f in _record_fields()],
)
def test_every_record_field_is_documented(model: str, section: str, field: str) -> None:
    assert _mentions(_section(section), field), (
        f"{model}.{field} is not documented in docs/run-data.md, section `{section}`"
    )


def _event_rows() -> dict[str, str]:
    rows: dict[str, str] = {}
    for line in _section("events.jsonl").splitlines():
        match = re.match(r"^\| `([a-z_]+)` \|(.*)\|$", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_the_events_table_lists_exactly_the_event_types_written() -> None:
    assert sorted(_event_rows()) == sorted(EVENT_TYPES)


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
def test_every_field_of_every_event_type_is_documented(kind: str) -> None:
    row = _event_rows().get(kind, "")
    own = [f for f in EVENT_TYPES[kind].model_fields if f not in EventBase.model_fields]
    missing = [f for f in own if not _mentions(row, f)]
    assert not missing, f"event {kind}: fields {missing} are not in its docs/run-data.md row"


def test_the_fields_every_event_carries_are_documented() -> None:
    section = _section("events.jsonl")
    assert all(_mentions(section, f) for f in EventBase.model_fields)
