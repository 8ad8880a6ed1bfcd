"""The matrix faults the target profile's dependencies; the reference profile's are the
stack registry's, each reached through a proxy of its name. The service keeps its own
list (it never imports the harness); this test keeps them equal."""

from __future__ import annotations

import pytest

from gameday import stack
from gameday.app.matrix import matrix_dependencies
from gameday.app.plan import reference_profile
from gameday.errors import ConfigError
from gameday.settings import StackSettings
from gameday.stack.registry import build_components
from service.deps import guards


def test_the_matrix_faults_the_reference_profiles_dependencies_the_stacks() -> None:
    assert matrix_dependencies(reference_profile(), None) == list(stack.DEPENDENCIES)
    assert set(stack.DEPENDENCIES) <= set(stack.COMPONENT_NAMES)


def test_the_matrix_takes_the_dependencies_named_from_the_profile_only() -> None:
    profile = reference_profile()
    assert matrix_dependencies(profile, "redis, postgres") == ["redis", "postgres"]
    with pytest.raises(ConfigError, match="unknown dependency 'payments' for target reference"):
        matrix_dependencies(profile, "redis,payments")


def test_each_dependency_is_reached_through_a_proxy_of_its_name() -> None:
    components = {c.name: c for c in build_components(StackSettings())}
    for name in stack.DEPENDENCIES:
        assert name in {p.name for p in components[name].proxies()}, name


def test_the_service_guards_the_same_dependencies_as_the_harness_knows() -> None:
    assert set(guards.DEPENDENCIES) == set(stack.DEPENDENCIES)
