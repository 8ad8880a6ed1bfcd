"""The published JSON Schema of the target profile (docs/target.schema.json).

    python -c "import gameday.target as t, sys; sys.stdout.write(t.render_schema())" \
        > docs/target.schema.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from gameday.target.profile import TargetProfile
from gameday.yamlfile import published_schema


def target_json_schema() -> dict[str, Any]:
    return published_schema(TargetProfile, "target", "gameday target profile")


def render_schema() -> str:
    return json.dumps(target_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_schema())
