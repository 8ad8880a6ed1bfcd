"""Random module order, tests inside a module in the order they are written.

pytest-randomly (a dev pin in pyproject.toml) shuffles the test modules, the classes
in a module and the tests in a class or module, from one seed that it prints in the
header (``Using --randomly-seed=N``), and reseeds ``random`` before each test. This
plugin keeps the module shuffle and puts each module's tests back in the order they
were collected: some integration modules are one story told on an expensive fixture
(``tests/integration/stack/test_pg_replica.py`` starts a private primary and replica,
promotes the replica, then stops them), so a module is the unit of independence.
The seed is printed again at the end of the run, next to the failures.

Rerun an order: ``pytest --randomly-seed=N``. Switch it off: ``pytest -p no:randomly``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_COLLECTED_AT = pytest.StashKey[int]()
_collected = 0


def pytest_itemcollected(item: pytest.Item) -> None:
    global _collected
    item.stash[_COLLECTED_AT] = _collected
    _collected += 1


# pytest-randomly shuffles in a hook wrapper, before every plain implementation;
# tryfirst puts this one right after it, before pytest groups tests by fixture.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("randomly"):
        return
    module_at: dict[Path, int] = {}
    for item in items:
        module_at.setdefault(item.path, len(module_at))
    items.sort(key=lambda item: (module_at[item.path], item.stash[_COLLECTED_AT]))


@pytest.hookimpl(trylast=True)  # after the failures and the short summary
def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if config.pluginmanager.hasplugin("randomly"):
        seed = config.getoption("randomly_seed")
        terminalreporter.write_line(
            f"random module order: rerun this order with --randomly-seed={seed}"
        )
