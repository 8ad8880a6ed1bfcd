"""The target's Locust files, found and imported in a subprocess before any load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gameday.errors import ConfigError
from gameday.load.config import LoadConfig
from gameday.load.engine import _locust_argv
from gameday.load.locustfiles import PLUGIN_LOCUSTFILE, check_locustfiles, locustfile_paths

ROOT = Path(__file__).resolve().parents[3]
GOOD = """
from locust import HttpUser, FastHttpUser, task

class Browser(HttpUser):
    @task
    def look(self):
        self.client.get("/")

class Buyer(FastHttpUser):
    @task
    def buy(self):
        self.client.post("/orders")

class Base(HttpUser):
    abstract = True
"""


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_check_returns_the_user_classes_the_files_define(tmp_path: Path) -> None:
    assert check_locustfiles([_file(tmp_path, "shop.py", GOOD)]) == ["Browser", "Buyer"]


def test_the_reference_locust_file_defines_the_reference_classes() -> None:
    classes = check_locustfiles([ROOT / "scenarios" / "locustfile.py"])
    assert classes == ["Abuser", "Autocompleter", "Prober", "Reader", "Searcher", "Writer"]


@pytest.mark.parametrize(
    ("text", "exception"),
    [
        ("import locust\nimport no_such_module_here\n", "ModuleNotFoundError: No module named"),
        ("from locust import task\ndef broken(:\n", "SyntaxError"),
        ("import locust\nraise RuntimeError('the config is missing\\nsecond line')\n",
         "RuntimeError: the config is missing"),
    ],
    ids=["missing-import", "syntax", "raises"],
)  # fmt: skip
def test_a_file_that_fails_to_import_is_one_line_holding_the_exception(
    tmp_path: Path, text: str, exception: str
) -> None:
    bad = _file(tmp_path, "bad.py", text)
    with pytest.raises(ConfigError) as raised:
        check_locustfiles([_file(tmp_path, "shop.py", GOOD), bad])
    message = str(raised.value)
    assert "\n" not in message
    assert f"Locust file {bad} failed to import" in message and exception in message


def test_the_check_never_imports_locust_in_the_calling_process(tmp_path: Path) -> None:
    shop = _file(tmp_path, "shop.py", GOOD)
    code = (
        "import sys\nfrom gameday.load.locustfiles import check_locustfiles\n"
        f"assert check_locustfiles([{str(shop)!r}]) == ['Browser', 'Buyer']\n"
        "sys.exit('locust' in sys.modules or 'gevent' in sys.modules)\n"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_module_name_is_found_without_running_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "shoppkg"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('must not run')\n")
    (package / "load.py").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    assert locustfile_paths(["shoppkg.load"]) == [(package / "load.py").resolve()]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("nowhere/locustfile.py", "Locust file nowhere/locustfile.py not found"),
        ("no_such_pkg.load", "Locust module 'no_such_pkg.load' not found"),
    ],
)
def test_a_locust_file_that_is_not_there_is_one_line(entry: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        locustfile_paths([entry])


def test_locust_gets_the_plugin_first_then_the_targets_files(tmp_path: Path) -> None:
    shop = _file(tmp_path, "shop.py", GOOD)
    argv = _locust_argv(LoadConfig(locustfiles=[str(shop)]), tmp_path)
    assert argv[argv.index("-f") + 1] == f"{PLUGIN_LOCUSTFILE},{shop}"
    default = _locust_argv(LoadConfig(), tmp_path)
    assert default[default.index("-f") + 1].endswith(
        "plugin/locustfile.py," + str(ROOT / "scenarios" / "locustfile.py")
    )
