"""`detect_within` in the SLO file: alert selectors parsed (bad ones rejected in one
line naming the expected form), inherited from experiment_defaults, judged per alert."""

from __future__ import annotations

import pytest

from gameday.slo import parse_slo
from gameday.slo.alerts import AlertSelector
from gameday.slo.errors import SloFileError
from gameday.slo.evaluate import judge_detection
from gameday.slo.model import ExperimentObjectives


def test_a_selector_is_a_name_with_optional_equality_labels() -> None:
    plain = AlertSelector.parse("BreakerOpen")
    assert (plain.name, plain.labels) == ("BreakerOpen", {})
    narrowed = AlertSelector.parse('BreakerOpen{dependency="opensearch", severity=critical}')
    assert narrowed.labels == {"dependency": "opensearch", "severity": "critical"}
    assert narrowed.matches("BreakerOpen", {"dependency": "opensearch", "severity": "critical"})
    assert not narrowed.matches("BreakerOpen", {"dependency": "postgres", "severity": "critical"})
    assert not narrowed.matches("Other", {"dependency": "opensearch", "severity": "critical"})
    assert str(narrowed) == 'BreakerOpen{dependency="opensearch", severity="critical"}'


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("breaker open", "is not an alert"),
        ('BreakerOpen{dependency!="x"}', "only = is supported"),
        ("BreakerOpen{", "is not an alert"),
    ],
)
def test_a_bad_selector_is_refused_naming_the_expected_form(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        AlertSelector.parse(text)


def test_the_slo_file_rejects_a_bad_alert_in_one_line() -> None:
    with pytest.raises(SloFileError) as caught:
        parse_slo("experiments:\n  x:\n    detect_within: {'breaker open': 60s}\n")
    assert "is not an alert" in str(caught.value) and "\n" not in str(caught.value)


def test_detect_within_is_inherited_and_every_alert_name_is_listed() -> None:
    slo = parse_slo(
        "experiment_defaults: {detect_within: {ServiceErrorRateHigh: 1m}}\n"
        "experiments:\n  a: {rto: 10s}\n"
        "  b: {detect_within: {'BreakerOpen{dependency=\"opensearch\"}': 20s}}\n"
    )
    assert slo.for_experiment("a").detect_within == {"ServiceErrorRateHigh": 60.0}
    assert slo.for_experiment("b").detect_within == {'BreakerOpen{dependency="opensearch"}': 20.0}
    assert slo.detect_within_alerts() == {"ServiceErrorRateHigh", "BreakerOpen"}


def test_the_first_matching_alert_is_judged_against_its_bound() -> None:
    wanted = ExperimentObjectives(detect_within={"A": 10.0, 'B{x="1"}': 5.0, "C": 5.0})
    seen = [("A", {}, 12.0), ("A", {}, 8.0), ("B", {"x": "2"}, 1.0), ("B", {"x": "1"}, 4.0)]
    results = judge_detection(wanted, seen, name="f", phase="fault:f")
    assert [(r.name, r.passed, r.measured, r.target) for r in results] == [
        ("f detects A", True, 8.0, 10.0),
        ('f detects B{x="1"}', True, 4.0, 5.0),
        ("f detects C", False, None, 5.0),
    ]
    assert results[2].note == "never fired"
    assert judge_detection(ExperimentObjectives(), seen, name="f", phase="fault:f") == []
