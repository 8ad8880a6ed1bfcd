"""Reading a target profile: YAML -> `TargetProfile`, with one-line errors that name
the file, the line and the field (gameday.yamlfile, as the SLO file's).

    load_profile(Path("targets/shop.yaml"))
    # TargetProfileError: invalid target profile targets/shop.yaml:
    #   targets/shop.yaml:4: auth.token: a literal token is not allowed in the profile: ...
"""

from __future__ import annotations

from pathlib import Path

from gameday.target.errors import TargetProfileError
from gameday.target.profile import TargetProfile
from gameday.yamlfile import parse_yaml_model


def load_profile(path: Path) -> TargetProfile:
    try:
        text = path.read_text()
    except OSError as exc:
        raise TargetProfileError(path, [f"{path}: cannot read: {exc.strerror}"]) from None
    return parse_profile(text, name=str(path)).with_folder(path.resolve().parent)


def parse_profile(text: str, *, name: str = "profile.yaml") -> TargetProfile:
    return parse_yaml_model(text, TargetProfile, name=name, error=TargetProfileError)
