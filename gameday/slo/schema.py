"""The published JSON Schema of the SLO file (docs/slo.schema.json).

    python -c "import gameday.slo as s, sys; sys.stdout.write(s.render_schema())" \
        > docs/slo.schema.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from gameday.slo.model import SloFile

SCHEMA_ID = "https://gameday.invalid/schemas/slo.schema.json"


def slo_json_schema() -> dict[str, Any]:
    schema = SloFile.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "gameday SLO file",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def render_schema() -> str:
    return json.dumps(slo_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_schema())
