"""The service freezes its startup heap (service.main.freeze_startup_heap): a full
collection no longer walks what startup made, and startup's garbage is collected first,
not kept forever."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from service.main import freeze_startup_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the session collects as before


def _tracked(obj: object) -> bool:
    return any(o is obj for o in gc.get_objects())  # generations 0-2, not the frozen one


def test_what_startup_left_alive_is_out_of_the_collectors_reach(thawed: None) -> None:
    alive = _Node()
    assert _tracked(alive)
    frozen = freeze_startup_heap()
    assert not _tracked(alive)
    assert frozen == gc.get_freeze_count() > 0
    assert _tracked(_Node())  # what comes after startup is collected as ever


def test_startup_garbage_is_collected_not_frozen(thawed: None) -> None:
    garbage = _Node()
    gone = weakref.ref(garbage)
    del garbage
    freeze_startup_heap()
    assert gone() is None
