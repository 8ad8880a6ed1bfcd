"""Reading an SLO file: YAML -> `SloFile`, with errors that name the line and
the field (gameday.yamlfile, shared with the target profile).

    load_slo(Path("slo.yaml"))
    # SloFileError: invalid SLO file slo.yaml: slo.yaml:7: objectives.latency.p59:
    #   unknown field; expected one of p50, p90, p95, p99, p99_9
"""

from __future__ import annotations

from pathlib import Path

from gameday.slo.errors import SloFileError
from gameday.slo.model import SloFile
from gameday.yamlfile import parse_yaml_model


def load_slo(path: Path) -> SloFile:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SloFileError(path, [f"{path}: cannot read: {exc.strerror}"]) from None
    return parse_slo(text, name=str(path))


def parse_slo(text: str, *, name: str = "slo.yaml") -> SloFile:
    return parse_yaml_model(text, SloFile, name=name, error=SloFileError)
