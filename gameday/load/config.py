"""What `gameday run` hands to the Locust processes (a JSON file in the run
directory, named by the plugin's `--gameday-config PATH` option), and the shapes.

    LoadConfig(
        scenario="browse",                  # the mix's name, shown in reports
        mix={"Reader": 80, "Writer": 20},   # user class -> weight (from the profile)
        locustfiles=["/srv/load/locustfile.py"],
        headers={"Authorization": "Bearer ..."},  # added to every request
        options={"tokens": {...}},          # for the Locust files: gameday.plugin.options()
        shape="constant-rate", target_rps=50, duration_s=60,
    )

The Locust plugin (gameday/plugin) imports this module; it must stay light (pydantic only)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# The plugin's command-line option naming the LoadConfig file.
CONFIG_OPTION = "--gameday-config"
# Closed model: at the planned end each user may finish the task it is in within this
# long (Locust's --stop-timeout), so a request already sent is recorded as the target
# saw it; a user still busy after it is killed. The open model drains its arrivals
# itself (gameday.plugin.arrivals).
CLOSED_STOP_TIMEOUT_S = 5

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
    # user class -> weight (the profile's mix, chosen by the plan)
    mix: dict[str, int] = Field(default_factory=dict)
    # `locust -f` files after the plugin's: paths (absolute, or from the project root)
    locustfiles: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)  # added to every request
    options: dict[str, Any] = Field(default_factory=dict)  # gameday.plugin.options()
    zero_hit_share: float = Field(default=0.05, ge=0, le=1)
    vocabulary_size: int = 5000
    max_in_flight: int = Field(default=500, ge=1)  # open model, per worker
    # Distributed runs: how long the master waits for the workers to connect (Locust's
    # --expect-workers-max-wait), and then, in the open model, for them to be ready (their
    # users' on_start done) before the run's clock starts without them
    ready_timeout_s: float = Field(default=60.0, gt=0)
    step_count: int = Field(default=4, ge=1)  # step and stepped-rate shapes
    spike_factor: float = Field(default=4.0, ge=1)
    # The live metrics endpoint (Prometheus text on http://HOST:PORT/metrics) that the
    # master or the local process serves during the load; None or 0: none.
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)

    @property
    def model(self) -> Literal["open", "closed"]:
        return "open" if self.shape in OPEN_SHAPES else "closed"

    @property
    def user_mix(self) -> dict[str, int]:
        """The mix the plugin runs (an empty one stops it with one line)."""
        return dict(self.mix)

    def locust_options(self) -> dict[str, Any]:
        """What gameday.plugin.options() gives Locust files: `options`, plus the run's
        `seed` unless `options` has one."""
        return {"seed": self.seed, **self.options}

    @property
    def worker_processes(self) -> int:
        return max(self.workers, 1)
