"""The published JSON Schema of the target profile (docs/target.schema.json).

    python -c "import gameday.target as t, sys; sys.stdout.write(t.render_schema())" \
        > docs/target.schema.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from gameday.target.profile import TargetProfile

SCHEMA_ID = "https://gameday.invalid/schemas/target.schema.json"


def target_json_schema() -> dict[str, Any]:
    schema = TargetProfile.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "gameday target profile",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def render_schema() -> str:
    return json.dumps(target_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_schema())
