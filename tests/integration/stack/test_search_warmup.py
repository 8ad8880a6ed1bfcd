"""`stack up` ends by warming the search engine (gameday/stack/warmup.py), against the
session stack's real OpenSearch."""

from __future__ import annotations

import re

from gameday.settings import StackSettings
from gameday.stack import warmup


def test_the_warm_up_searches_in_rounds_until_a_round_is_quick(stack: StackSettings) -> None:
    lines: list[str] = []
    warmup.warm_search(stack, lines.append)
    (line,) = lines
    match = re.fullmatch(r"search     warm in ([0-9.]+)s \(([0-9]+) rounds\)", line)
    assert match, line
    assert int(match.group(2)) >= warmup.MIN_ROUNDS


def test_without_the_service_index_there_is_nothing_to_warm(stack: StackSettings) -> None:
    lines: list[str] = []
    warmup.warm_search(stack, lines.append, alias="no-such-alias")
    assert lines == []
