"""`stack up` ends by warming the search engine: the reference profile's warm-up hook
(service/gameday_hooks.py -> service/search/warmup.py), called through the profile by
gameday/stack/warmup.py, against the session stack's real OpenSearch."""

from __future__ import annotations

import re
from pathlib import Path

from gameday.settings import StackSettings
from gameday.stack import warmup
from service.search.warmup import MIN_ROUNDS


def test_the_warm_up_searches_in_rounds_until_a_round_is_quick(stack: StackSettings) -> None:
    lines: list[str] = []
    warmup.warm_up(stack, lines.append)
    (line,) = lines
    match = re.fullmatch(r"search     warm in ([0-9.]+)s \(([0-9]+) rounds\)", line)
    assert match, line
    assert int(match.group(2)) >= MIN_ROUNDS


def test_without_the_service_index_there_is_nothing_to_warm(stack: StackSettings) -> None:
    lines: list[str] = []
    warmup.warm_up(stack, lines.append, alias="no-such-alias")
    assert lines == []


def test_a_profile_whose_hook_cannot_be_imported_is_reported_not_fatal(
    stack: StackSettings, tmp_path: Path
) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "name: p\nbase_url: http://127.0.0.1:1\ntraffic:\n  locustfile: x.py\n"
        "hooks:\n  warmup: no_such_module_xyz:warmup\n"
    )
    lines: list[str] = []
    warmup.warm_up(stack, lines.append, profile_path=profile)
    (line,) = lines
    assert line.startswith("search     warm-up skipped: hooks.warmup: cannot import")
