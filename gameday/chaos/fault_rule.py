"""A fault declared once, beside the provider that injects it: the rule its name
follows on the timeline and the arguments `gameday matrix` gives it.

    LATENCY = FaultRule(add_latency, "{proxy}-latency-{latency_ms}ms-{stream}",
                        matrix={"latency_ms": 1000})
    LATENCY.name(proxy="redis", latency_ms=1000)      # "redis-latency-1000ms-downstream"
    LATENCY.name(proxy="redis", latency_ms=1000, toxicity=0.5)  # "...-downstream-50pct"

The rule names the provider's arguments in braces; one it leaves out takes the
provider's default, and a toxicity below 1 adds `-NNpct`. Values known only once
the fault is in place (a worker's pid) are passed to `name` beside the arguments.
The providers name what they inject by their rule, and the rollbacks remove a fault
by the same arguments (`remove_fault`), so no name is spelled twice.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gameday.errors import ConfigError


class FaultArgumentsError(ConfigError):
    """The arguments given cannot name the fault (one its rule needs is missing)."""


@dataclass(frozen=True)
class FaultRule:
    provider: Callable[..., object]
    rule: str
    matrix: Mapping[str, Any] | None = None  # None: not one of the matrix's faults

    @property
    def func(self) -> str:
        return self.provider.__name__

    def name(self, **values: Any) -> str:
        parameters = inspect.signature(self.provider).parameters
        fields = {k: p.default for k, p in parameters.items() if p.default is not p.empty}
        fields.update(values)
        try:
            name = self.rule.format(**fields)
        except KeyError as exc:
            raise FaultArgumentsError(
                f"{self.func} needs {exc.args[0]!r} to name its fault ({self.rule}); "
                f"give the same arguments as the action that injected it"
            ) from None
        toxicity = fields.get("toxicity", 1.0)
        return name if toxicity >= 1.0 else f"{name}-{int(toxicity * 100)}pct"
