"""The published JSON Schema of the SLO file (docs/slo.schema.json).

    python -c "import gameday.slo as s, sys; sys.stdout.write(s.render_schema())" \
        > docs/slo.schema.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from gameday.slo.model import SloFile
from gameday.yamlfile import published_schema


def slo_json_schema() -> dict[str, Any]:
    return published_schema(SloFile, "slo", "gameday SLO file")


def render_schema() -> str:
    return json.dumps(slo_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_schema())
