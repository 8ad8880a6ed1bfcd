"""Which alert a `detect_within` objective names: an alert name, optionally narrowed
by labels in PromQL's selector syntax.

    select = AlertSelector.parse('BreakerOpen{dependency="opensearch"}')
    select.name, select.labels        # "BreakerOpen", {"dependency": "opensearch"}
    select.matches("BreakerOpen", {"dependency": "opensearch", "severity": "critical"})
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_NAME = r"[A-Za-z_:][A-Za-z0-9_:]*"
_SELECTOR = re.compile(rf"^\s*({_NAME})\s*(?:\{{(.*)\}})?\s*$")
_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"?([^"]*)"?\s*$')


@dataclass(frozen=True)
class AlertSelector:
    name: str
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> AlertSelector:
        """`Name` or `Name{label="value", ...}` (equality matchers only); ValueError
        naming the expected form otherwise."""
        match = _SELECTOR.match(text)
        if match is None:
            raise ValueError(
                f"{text!r} is not an alert: expected its name, e.g. BreakerOpen, or a name "
                'with labels, e.g. BreakerOpen{dependency="opensearch"}'
            )
        labels: dict[str, str] = {}
        for part in filter(str.strip, (match.group(2) or "").split(",")):
            matcher = _MATCHER.match(part)
            if matcher is None:
                raise ValueError(
                    f"{text!r}: {part.strip()!r} is not a label matcher; expected "
                    'label="value" (only = is supported)'
                )
            labels[matcher.group(1)] = matcher.group(2)
        return cls(match.group(1), labels)

    def matches(self, alert: str, labels: Mapping[str, str]) -> bool:
        return alert == self.name and all(labels.get(k) == v for k, v in self.labels.items())

    def __str__(self) -> str:
        if not self.labels:
            return self.name
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.name}{{{inner}}}"
