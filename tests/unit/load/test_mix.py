from __future__ import annotations

import pytest

from gameday.errors import ConfigError
from gameday.load.mix import check_mix


def test_a_mix_of_defined_classes_passes() -> None:
    check_mix({"Reader": 3, "Writer": 1}, ["Reader", "Writer", "Admin"])


def test_an_unknown_class_is_one_line_naming_the_classes_the_files_define() -> None:
    with pytest.raises(ConfigError) as raised:
        check_mix({"Raeder": 3, "Writer": 1}, ["Writer", "Reader"], name="browse")
    message = str(raised.value)
    assert "\n" not in message
    assert "mix 'browse' names user class 'Raeder'" in message
    assert message.endswith("they define: Reader, Writer")


def test_an_empty_mix_names_the_classes_to_choose_from() -> None:
    with pytest.raises(ConfigError, match="names no user class; give one or more of: Reader"):
        check_mix({}, ["Reader"])


def test_a_weight_below_one_is_refused() -> None:
    with pytest.raises(ConfigError, match="gives Reader a weight below 1"):
        check_mix({"Reader": 0}, ["Reader"])
