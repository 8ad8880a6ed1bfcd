"""What `gameday run` hands to the Locust processes (a JSON file in the run
directory, named by the locustfile's `--gameday-config PATH` option), and the named
mixes and shapes.

Scenario files import this module; it must stay light (pydantic only)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

# Weights per user class; one place for every named mix.
MIXES: dict[str, dict[str, int]] = {
    "search_mix": {"Searcher": 70, "Autocompleter": 15, "Reader": 10, "Writer": 5},
    "write_heavy": {"Writer": 60, "Reader": 20, "Searcher": 20},
    "autocomplete_storm": {"Autocompleter": 85, "Searcher": 15},
    "read_only": {"Searcher": 75, "Autocompleter": 15, "Reader": 10},
    # Half the traffic is one abusive tenant (NOISY_TENANT) searching far over its quota;
    # its requests are named apart ("GET abuse:/v1/search"), so the others' SLOs stand alone.
    "noisy_neighbour": {"Abuser": 50, "Searcher": 35, "Autocompleter": 10, "Reader": 5},
}
# The abusive tenant of the noisy_neighbour mix; the stack gives it a small quota
# (service.settings.env_for_stack), and no other user ever sends as it.
NOISY_TENANT = "tenant-noisy"

# The locustfile's command-line option naming the LoadConfig file.
CONFIG_OPTION = "--gameday-config"

CLOSED_SHAPES = ("steady", "ramp", "step", "spike", "soak", "diurnal")
OPEN_SHAPES = ("constant-rate", "stepped-rate")
SHAPES = CLOSED_SHAPES + OPEN_SHAPES


class LoadConfig(BaseModel):
    scenario: str = "search_mix"
    shape: str = "steady"
    target_rps: float | None = Field(default=None, gt=0)
    users: int | None = Field(default=None, ge=1)
    spawn_rate: float | None = Field(default=None, gt=0)
    duration_s: float = Field(default=60.0, gt=0)
    workers: int = Field(default=0, ge=0)
    seed: int = 42
    target_url: str = "http://127.0.0.1:28080"
    run_dir: str = "reports/run"
    tokens: dict[str, str] = Field(default_factory=dict)  # tenant -> bearer token
    tenant_weights: dict[str, float] = Field(default_factory=dict)
    zero_hit_share: float = Field(default=0.05, ge=0, le=1)
    vocabulary_size: int = 5000
    max_in_flight: int = Field(default=500, ge=1)  # open model, per worker
    step_count: int = Field(default=4, ge=1)  # step and stepped-rate shapes
    spike_factor: float = Field(default=4.0, ge=1)

    @property
    def model(self) -> Literal["open", "closed"]:
        return "open" if self.shape in OPEN_SHAPES else "closed"

    @property
    def worker_processes(self) -> int:
        return max(self.workers, 1)
