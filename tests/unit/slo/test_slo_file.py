"""The SLO file: the shipped defaults, errors that name the line and the
field, human durations, and the published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from gameday.slo import SloFile, SloFileError, load_slo, parse_slo, render_schema

ROOT = Path(__file__).resolve().parents[3]


def test_the_shipped_slo_file_holds_the_production_readiness_values() -> None:
    slo = load_slo(ROOT / "slo.yaml")
    assert slo.overall.latency.p95 == 500.0
    assert slo.overall.error_rate_pct == 0.1
    assert slo.availability_pct == 99.95
    assert slo.error_budget_fraction == pytest.approx(0.0005)
    assert slo.limits.rto == 3600.0
    assert slo.limits.rpo == 900.0
    effective = [slo.for_experiment(name) for name in slo.experiments]
    assert all(e.rto is not None and e.rto < 3600.0 for e in effective)
    # The restore drill destroys the data dir: the WAL not archived yet is lost by design,
    # held to a tight RPO instead of none (the unarchived writes are listed, not counted).
    drill = "postgres-data-destroyed"
    assert (slo.for_experiment(drill).rpo, slo.for_experiment(drill).max_lost_writes) == (
        15.0,
        None,
    )
    kept = [slo.for_experiment(name) for name in slo.experiments if name != drill]
    assert all(e.rpo == 0.0 and e.max_lost_writes == 0 for e in kept)


def test_a_named_experiment_takes_what_it_leaves_unset_from_the_defaults() -> None:
    slo = parse_slo(
        "experiment_defaults: {rto: 60s, rpo: 0s, max_lost_writes: 0}\n"
        "experiments:\n"
        "  redis-down:\n"
        "    rto: 20s\n"
        "    endpoints: {GET /v1/search: {error_rate_pct: 0}}\n"
    )
    named = slo.for_experiment("redis-down")
    assert (named.rto, named.rpo, named.max_lost_writes) == (20.0, 0.0, 0)
    assert named.endpoints["GET /v1/search"].error_rate_pct == 0
    assert slo.for_experiment("other").rto == 60.0


def test_a_typo_in_a_percentile_names_the_line_the_field_and_the_valid_names() -> None:
    text = "version: 1\noverall:\n  error_rate_pct: 0.1\n  latency:\n    p95: 500ms\n    p59: 1s\n"
    with pytest.raises(SloFileError) as caught:
        parse_slo(text, name="slo.yaml")
    assert (
        "slo.yaml:6: overall.latency.p59: unknown field; expected one of p50, p90, p95, p99, p99_9"
        in str(caught.value)
    )


def test_an_unknown_top_level_field_is_an_error_not_ignored() -> None:
    with pytest.raises(
        SloFileError, match=r"slo.yaml:2: objectivs: unknown field; expected one of"
    ):
        parse_slo("version: 1\nobjectivs: {}\n")


def test_an_unknown_field_inside_a_named_experiment_lists_that_objects_fields() -> None:
    text = "experiments:\n  os-down:\n    rto: 30s\n    rtoo: 10s\n"
    with pytest.raises(SloFileError) as caught:
        parse_slo(text)
    assert "slo.yaml:4: experiments.os-down.rtoo: unknown field; expected one of rto, rpo" in str(
        caught.value
    )


def test_a_bad_duration_lists_the_valid_forms_with_its_line() -> None:
    with pytest.raises(SloFileError) as caught:
        parse_slo("limits:\n  rto: 1 hour\n")
    message = str(caught.value)
    assert "slo.yaml:2: limits.rto: invalid duration '1 hour'" in message
    assert "30s, 5m, 1h30m" in message


def test_a_missing_required_field_is_named() -> None:
    with pytest.raises(
        SloFileError, match=r"slo.yaml:3: experiments.x.breaker.dependency: required"
    ):
        parse_slo("experiments:\n  x:\n    breaker:\n      open_within: 5s\n")


def test_invalid_yaml_names_its_line() -> None:
    with pytest.raises(SloFileError, match=r"slo.yaml:2: not valid YAML"):
        parse_slo("version: 1\n\toverall: {}\n")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25), ("90", 90.0)],
    ids=["seconds", "minutes", "hours-and-minutes", "milliseconds", "bare-number"],
)
def test_durations_accept_human_forms(text: str, seconds: float) -> None:
    assert parse_slo(f"sustained_window: {text}\n").sustained_window == seconds


@pytest.mark.parametrize(
    ("text", "latency_ms"),
    [("500ms", 500.0), ("1.5s", 1500.0), ("250", 250.0)],
    ids=["ms", "seconds", "bare-number-is-ms"],
)
def test_latency_thresholds_are_milliseconds(text: str, latency_ms: float) -> None:
    assert parse_slo(f"overall:\n  latency:\n    p99: {text}\n").overall.latency.p99 == latency_ms


def test_an_empty_file_means_the_defaults() -> None:
    assert parse_slo("") == SloFile()


def test_the_committed_json_schema_equals_the_generated_one() -> None:
    committed = (ROOT / "docs" / "slo.schema.json").read_text()
    assert committed == render_schema(), (
        "docs/slo.schema.json is stale: regenerate it with "
        "python -c 'import gameday.slo as s, sys; sys.stdout.write(s.render_schema())'"
    )


def test_the_shipped_slo_file_validates_against_the_published_schema() -> None:
    schema = json.loads((ROOT / "docs" / "slo.schema.json").read_text())
    jsonschema.validate(yaml.safe_load((ROOT / "slo.yaml").read_text()), schema)


def test_the_published_schema_rejects_a_typo_too() -> None:
    schema = json.loads((ROOT / "docs" / "slo.schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"overall": {"latency": {"p59": 3}}}, schema)
