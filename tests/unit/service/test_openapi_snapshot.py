"""The OpenAPI document's paths and schemas are pinned: a change to the API contract
(a route, a parameter, a field, a constraint) shows up here, not in a client.

The snapshot was taken from the service before the hot routes stopped going through
FastAPI's dependency solving (service/routing.py, issue 17). A deliberate change to the
API regenerates it:

    .venv/bin/python -c "import json; from service.main import create_app; \\
    from service.settings import Settings; d = create_app(Settings.from_env()).openapi(); \\
    print(json.dumps({'paths': d['paths'], 'schemas': d['components']['schemas']}, \\
    indent=1, sort_keys=True))" > tests/unit/service/snapshots/openapi.json
"""

from __future__ import annotations

import json
from pathlib import Path

from service.main import create_app
from service.settings import Settings

SNAPSHOT = Path(__file__).parent / "snapshots" / "openapi.json"


def test_openapi_paths_and_schemas_match_the_committed_snapshot() -> None:
    document = create_app(Settings.from_env()).openapi()
    pinned = json.loads(SNAPSHOT.read_text())
    assert sorted(document["paths"]) == sorted(pinned["paths"])
    for path, operations in pinned["paths"].items():
        assert document["paths"][path] == operations, path
    assert document["components"]["schemas"] == pinned["schemas"]
