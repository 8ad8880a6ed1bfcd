"""The latency experiment `gameday init` writes for a dependency: +N ms on its
Toxiproxy proxy for `fault_s` seconds, judged by the SLO file (docs/experiments.md).

    latency_experiment("postgres", latency_ms=300, fault_s=20)   # a Chaos Toolkit dict

The same shape as the shipped experiments (experiments/opensearch-latency.json): a
stop condition, the SLOs as steady state, the fault, its removal by the arguments that
injected it, and the same removal as a rollback. Its configuration declares the keys
gameday's providers read (gameday.chaos.configuration), as the shipped ones do.
"""

from __future__ import annotations

from typing import Any

from gameday.chaos.configuration import CONFIGURATION_KEYS

__all__ = ["latency_experiment"]


def _probe(name: str, func: str, arguments: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "probe",
        "name": name,
        "tolerance": True,
        **extra,
        "provider": {
            "type": "python",
            "module": "gameday.chaos.probes",
            "func": func,
            "arguments": arguments,
        },
    }


def _fault(name: str, func: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "action",
        "name": name,
        "provider": {
            "type": "python",
            "module": "gameday.chaos.faults",
            "func": func,
            "arguments": arguments,
        },
    }


def latency_experiment(dependency: str, *, latency_ms: int, fault_s: float) -> dict[str, Any]:
    """+latency_ms on every answer of the dependency's proxy for ${fault_s} seconds."""
    latency = {"proxy": dependency, "latency_ms": latency_ms, "jitter_ms": 0}
    removal = {"proxy": dependency, "fault": "latency", "latency_ms": latency_ms}
    removed = f"{dependency}-latency-removed"
    return {
        "version": "1.0.0",
        "title": f"{dependency}: +{latency_ms} ms",
        "description": (
            f"Adds {latency_ms} ms to every answer of {dependency} (through its Toxiproxy proxy) "
            "for fault_s seconds, under load: the SLOs are judged inside the fault window and "
            "the time to recover after it. Written by `gameday init`; docs/experiments.md."
        ),
        "tags": [dependency, "latency"],
        "configuration": {
            "p95_max_ms": 500,
            "error_rate_max": 0.001,
            "window_s": 10,
            "fault_s": fault_s,
            # Declared for a plain `chaos run --var KEY=VALUE`; `gameday run` gives them.
            **dict.fromkeys(CONFIGURATION_KEYS),
        },
        "extensions": [{"name": "gameday", "warmup_s": 10, "recovery_s": 20}],
        "controls": [
            {
                "name": "stop-condition",
                "provider": {
                    "type": "python",
                    "module": "chaosaddons.controls.safeguards",
                    "arguments": {
                        "probes": [
                            _probe(
                                "error-rate-below-50pct-over-30s",
                                "error_rate_below",
                                {"threshold": 0.5, "window_s": 30},
                                frequency=2,
                            )
                        ]
                    },
                },
            }
        ],
        "steady-state-hypothesis": {
            "title": "The SLOs hold (p95 and error rate over the last window)",
            "probes": [
                _probe(
                    "slo-holds",
                    "slo_holds",
                    {
                        "window_s": "${window_s}",
                        "p95_max_ms": "${p95_max_ms}",
                        "error_rate_max": "${error_rate_max}",
                    },
                )
            ],
        },
        "method": [
            {
                **_fault(f"{dependency}-latency", "add_latency", latency),
                "pauses": {"after": "${fault_s}"},
            },
            {**_fault(removed, "remove_fault", removal), "pauses": {"after": 10}},
        ],
        "rollbacks": [_fault(removed, "remove_fault", removal)],
    }
