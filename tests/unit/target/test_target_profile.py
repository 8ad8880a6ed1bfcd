"""The target profile's model and loader: strict fields, one-line errors naming the
file, the line and the field, no literal token, and the published schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from gameday.target import TargetProfileError, load_profile, parse_profile, render_schema
from gameday.target.proxies import same_address

ROOT = Path(__file__).resolve().parents[3]

MINIMAL = "name: shop\nbase_url: http://127.0.0.1:8080\ntraffic:\n  locustfile: shop.py\n"


def make_profile(extra: str = "") -> str:
    return MINIMAL + extra


def _error(text: str) -> str:
    with pytest.raises(TargetProfileError) as caught:
        parse_profile(text, name="shop.yaml")
    message = str(caught.value)
    assert "\n" not in message, "the CLI prints the error as one line"
    return message


def test_a_minimal_profile_takes_the_defaults() -> None:
    profile = parse_profile(make_profile())
    assert profile.health_endpoint == "http://127.0.0.1:8080/"
    assert profile.toxiproxy.url == "http://127.0.0.1:21474"
    assert profile.dependencies == {} and profile.auth is None


def test_an_unknown_top_level_field_names_the_file_line_and_the_valid_fields() -> None:
    message = _error(make_profile("base_ulr: http://x\n"))
    assert message.startswith("invalid target profile shop.yaml: shop.yaml:5: base_ulr: ")
    assert "unknown field; expected one of version, name, base_url, health_url, auth," in message


def test_an_unknown_field_inside_a_dependency_lists_that_objects_fields() -> None:
    text = make_profile("dependencies:\n  db:\n    listen: 127.0.0.1:1\n    upstrem: h:2\n")
    expected = (
        "shop.yaml:8: dependencies.db.upstrem: unknown field; expected one of listen, upstream"
    )
    assert expected in _error(text)


def test_a_wrong_type_names_the_line_and_the_field() -> None:
    text = make_profile("  mixes: {m: {A: lots}}\n")
    assert "shop.yaml:5: traffic.mixes.m.A: Input should be a valid integer" in _error(text)


def test_a_bad_address_says_what_an_address_is() -> None:
    text = make_profile("dependencies:\n  db: {listen: 5432, upstream: 127.0.0.1:5432}\n")
    assert "shop.yaml:6: dependencies.db.listen: Input should be a valid string" in _error(text)
    text = make_profile("dependencies:\n  db: {listen: 'db:x', upstream: 127.0.0.1:5432}\n")
    assert "dependencies.db.listen: 'db:x' is not an address; expected host:port" in _error(text)


def test_a_missing_required_field_is_named() -> None:
    message = _error("name: shop\ntraffic: {locustfile: a.py}\n")
    assert "shop.yaml:1: base_url: required field is missing" in message


def test_a_literal_token_is_refused_and_not_echoed() -> None:
    text = make_profile("auth:\n  header: Authorization\n  token: s3cr3t-t0ken\n")
    message = _error(text)
    assert "shop.yaml:7: auth.token: a literal token is not allowed in the profile" in message
    assert "s3cr3t-t0ken" not in message


def test_a_token_pasted_as_the_environment_variable_is_refused_and_not_echoed() -> None:
    message = _error(make_profile("auth:\n  env: eyJhbGciOi.J9.abc\n"))
    assert "shop.yaml:6: auth.env: not an environment variable name" in message
    assert "eyJhbGciOi" not in message


def test_a_header_with_its_value_written_in_is_refused_and_not_echoed() -> None:
    message = _error(make_profile("auth:\n  header: 'Authorization: Bearer abc'\n  env: T\n"))
    assert "shop.yaml:6: auth.header: not a header name" in message
    assert "Bearer abc" not in message


def test_auth_takes_exactly_one_source() -> None:
    message = _error(make_profile("auth:\n  env: TOKEN\n  file: /run/token\n"))
    assert "shop.yaml:5: auth: give exactly one of env, file, command for the token" in message


def test_a_token_command_may_be_one_string_split_as_a_shell_would() -> None:
    profile = parse_profile(make_profile("auth:\n  command: vault read -field=token 'a b'\n"))
    assert profile.auth is not None
    assert profile.auth.command == ["vault", "read", "-field=token", "a b"]


def test_an_entry_point_must_be_module_colon_function() -> None:
    message = _error(make_profile("hooks:\n  seed: mypackage.seed\n"))
    assert "shop.yaml:6: hooks.seed: 'mypackage.seed' is not an entry point" in message


def test_a_ledger_url_needs_an_id_placeholder() -> None:
    message = _error(make_profile("ledger:\n  http_get: http://x/items/\n"))
    assert "shop.yaml:6: ledger.http_get: 'http://x/items/' has no {id}" in message


def test_signals_take_one_source_and_promql_only_from_prometheus() -> None:
    breaker = "  breakers:\n    db: {metric: m, query: 'max(m)', values: {0: closed}}\n"
    message = _error(make_profile("signals:\n  metrics_url: http://x/metrics\n" + breaker))
    assert "shop.yaml:5: signals: breakers db: query is PromQL, which needs prometheus_url" in (
        message
    )
    parse_profile(make_profile("signals:\n  prometheus_url: http://prom:9090\n" + breaker))


def test_a_breaker_state_is_closed_half_open_or_open() -> None:
    text = make_profile(
        "signals:\n  metrics_url: http://x/m\n  breakers:\n"
        "    db: {metric: m, values: {0: closed, 1: halfopen}}\n"
    )
    assert "signals.breakers.db.values.1: Input should be 'closed', 'half-open' or 'open'" in (
        _error(text)
    )


def test_a_resilience4j_style_breaker_maps_each_state_to_its_series() -> None:
    profile = parse_profile(
        make_profile(
            "signals:\n  prometheus_url: http://prom:9090\n  breakers:\n"
            "    payments:\n      metric: resilience4j_circuitbreaker_state\n"
            "      labels: {name: payments}\n"
            "      states: {closed: {state: closed}, half-open: {state: half_open},"
            " open: {state: open}}\n"
        )
    )
    assert profile.signals is not None
    assert profile.signals.breakers["payments"].states == {
        "closed": {"state": "closed"},
        "half-open": {"state": "half_open"},
        "open": {"state": "open"},
    }


def test_a_process_is_found_one_way() -> None:
    message = _error(make_profile("processes:\n  db: {restart: [pg_ctl, start]}\n"))
    assert "shop.yaml:6: processes.db: give exactly one of pid_file, pid_command, systemd_unit" in (
        message
    )


def test_two_dependencies_cannot_listen_on_one_address() -> None:
    text = make_profile(
        "dependencies:\n  a: {listen: 127.0.0.1:1, upstream: h:2}\n"
        "  b: {listen: 127.0.0.1:1, upstream: h:3}\n"
    )
    assert "dependencies a and b both listen on 127.0.0.1:1" in _error(text)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(TargetProfileError, match=r"missing.yaml: cannot read"):
        load_profile(tmp_path / "missing.yaml")


def test_invalid_yaml_names_its_line() -> None:
    assert "shop.yaml:2: not valid YAML" in _error("name: shop\n\tbase_url: x\n")


def test_locust_file_paths_are_read_from_the_profiles_folder(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    path = tmp_path / "t" / "shop.yaml"
    path.write_text(make_profile().replace("shop.py", "[../load/shop.py, shop_locust]"))
    assert load_profile(path).locustfiles() == [tmp_path / "load" / "shop.py", "shop_locust"]


@pytest.mark.parametrize(
    ("found", "wanted", "same"),
    [
        ("127.0.0.1:1", "localhost:1", True),
        ("[::]:1", "0.0.0.0:1", True),
        ("127.0.0.1:1", "127.0.0.1:2", False),
        ("10.0.0.1:1", "127.0.0.1:1", False),
    ],
    ids=["localhost-is-loopback", "any-is-any", "other-port", "other-host"],
)
def test_addresses_compare_as_toxiproxy_reports_them(found: str, wanted: str, same: bool) -> None:
    assert same_address(found, wanted) is same


def test_the_committed_json_schema_equals_the_generated_one() -> None:
    committed = (ROOT / "docs" / "target.schema.json").read_text()
    assert committed == render_schema(), (
        "docs/target.schema.json is stale: regenerate it with "
        "python -c 'import gameday.target as t, sys; sys.stdout.write(t.render_schema())'"
        " > docs/target.schema.json"
    )


def test_the_reference_profile_validates_against_the_published_schema() -> None:
    schema = json.loads((ROOT / "docs" / "target.schema.json").read_text())
    jsonschema.validate(yaml.safe_load((ROOT / "targets" / "reference.yaml").read_text()), schema)


def test_the_published_schema_rejects_a_literal_token_too() -> None:
    schema = json.loads((ROOT / "docs" / "target.schema.json").read_text())
    data = yaml.safe_load(make_profile("auth: {env: T, token: abc}\n"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)
