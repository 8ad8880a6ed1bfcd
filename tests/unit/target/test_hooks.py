"""call_hook: a profile's hooks are imported from 'module:function' and called with a
HookContext; every failure is one ConfigError line naming the profile field."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.errors import ConfigError
from gameday.target import HookContext, HookFailed, call_hook, load_profile, parse_profile

CONTEXT = HookContext(base_url="http://127.0.0.1:8080", tenants=["t1", "t2"], seed=7)


@pytest.fixture
def hooks_module(tmp_path: Path) -> Iterator[str]:
    """A module of hooks beside the profile, under a name no other test uses."""
    name = f"shop_hooks_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        "def token(context):\n"
        "    return f'tok-{context.tenants[0]}-{context.seed}'\n"
        "def options(context):\n"
        "    return {'tenants': list(context.tenants), 'url': context.base_url}\n"
        "def seed(context):\n"
        "    raise RuntimeError('the bulk API said 500\\nand a second line')\n"
        "def warmup(context):\n"
        "    return None\n"
        "def bad_token(context):\n"
        "    return 42\n"
        "NOT_CALLABLE = 3\n"
    )
    yield name
    sys.modules.pop(name, None)
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


def _profile(folder: Path, hooks: str) -> Path:
    path = folder / "shop.yaml"
    path.write_text(
        "name: shop\nbase_url: http://127.0.0.1:8080\ntraffic:\n  locustfile: shop.py\n"
        f"hooks:\n{hooks}"
    )
    return path


def _failure(path: Path, name: str) -> str:
    with pytest.raises(HookFailed) as caught:
        call_hook(load_profile(path), name, CONTEXT)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message, "the CLI prints the error as one line"
    assert isinstance(caught.value, ConfigError)  # the CLI's exit 2
    return message


def test_a_hook_beside_the_profile_is_called_with_the_context(
    tmp_path: Path, hooks_module: str
) -> None:
    path = _profile(tmp_path, f"  token: {hooks_module}:token\n  options: {hooks_module}:options\n")
    profile = load_profile(path)
    assert call_hook(profile, "token", CONTEXT) == "tok-t1-7"
    assert call_hook(profile, "options", CONTEXT) == {
        "tenants": ["t1", "t2"],
        "url": "http://127.0.0.1:8080",
    }


def test_a_hook_that_raises_is_one_line_naming_the_field_and_the_entry_point(
    tmp_path: Path, hooks_module: str
) -> None:
    message = _failure(_profile(tmp_path, f"  seed: {hooks_module}:seed\n"), "seed")
    assert message == f"hooks.seed ({hooks_module}:seed) failed: the bulk API said 500"


def test_a_token_hook_that_returns_no_string_is_refused(tmp_path: Path, hooks_module: str) -> None:
    message = _failure(_profile(tmp_path, f"  token: {hooks_module}:bad_token\n"), "token")
    assert message == f"hooks.token ({hooks_module}:bad_token) returned int, expected a token (str)"


def test_a_module_that_cannot_be_imported_names_the_field(tmp_path: Path) -> None:
    message = _failure(_profile(tmp_path, "  warmup: no_such_pkg_xyz.hooks:warmup\n"), "warmup")
    assert message.startswith("hooks.warmup: cannot import 'no_such_pkg_xyz.hooks'")
    assert "install the target's package where gameday runs" in message


def test_a_missing_function_names_the_field(tmp_path: Path, hooks_module: str) -> None:
    message = _failure(_profile(tmp_path, f"  warmup: {hooks_module}:nope\n"), "warmup")
    assert message == (
        f"hooks.warmup: module '{hooks_module}' has no 'nope' ({hooks_module}:nope): "
        "fix the entry point in the profile"
    )


def test_an_attribute_that_is_not_callable_is_refused(tmp_path: Path, hooks_module: str) -> None:
    message = _failure(_profile(tmp_path, f"  warmup: {hooks_module}:NOT_CALLABLE\n"), "warmup")
    assert message == f"hooks.warmup: {hooks_module}:NOT_CALLABLE is not callable"


def test_a_hook_the_profile_does_not_name_says_how_to_add_it() -> None:
    profile = parse_profile(
        "name: shop\nbase_url: http://127.0.0.1:8080\ntraffic:\n  locustfile: shop.py\n"
    )
    with pytest.raises(HookFailed, match=r"target profile shop has no hooks.options: add"):
        call_hook(profile, "options", CONTEXT)


def test_the_context_is_strict_about_its_types() -> None:
    with pytest.raises(ValueError, match="duration_s"):
        HookContext(base_url="http://x", duration_s=-1)
