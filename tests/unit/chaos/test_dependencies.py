"""The harness keeps one list of the target's dependencies, the stack registry's:
the matrix faults exactly those, each through a proxy of its name. The service keeps
its own (it never imports the harness); this test keeps the two equal."""

from __future__ import annotations

from gameday import stack
from gameday.chaos import matrix
from gameday.settings import StackSettings
from gameday.stack.registry import build_components
from service.deps import guards


def test_the_matrix_faults_the_stack_registrys_dependencies() -> None:
    assert matrix.DEPENDENCIES == tuple(stack.DEPENDENCIES)
    assert set(stack.DEPENDENCIES) <= set(stack.COMPONENT_NAMES)


def test_each_dependency_is_reached_through_a_proxy_of_its_name() -> None:
    components = {c.name: c for c in build_components(StackSettings())}
    for name in stack.DEPENDENCIES:
        assert name in {p.name for p in components[name].proxies()}, name


def test_the_service_guards_the_same_dependencies_as_the_harness_knows() -> None:
    assert set(guards.DEPENDENCIES) == set(stack.DEPENDENCIES)
