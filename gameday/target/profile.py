"""The target profile: everything the harness knows about a system under test.

    profile = load_profile(Path("targets/reference.yaml"))
    profile.health_endpoint            # "http://127.0.0.1:28080/health/ready"
    profile.dependencies["postgres"]   # Dependency(listen="127.0.0.1:22432", ...)
    profile.locustfiles()              # [Path(".../scenarios/locustfile.py")]

Every object forbids unknown fields; docs/targets.md is the reference and
docs/target.schema.json the published schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from gameday.target._types import Name, Strict
from gameday.target.alerts import Alerts
from gameday.target.auth import Auth
from gameday.target.dependencies import Dependency, ToxiproxyServer
from gameday.target.hooks import Hooks
from gameday.target.ledger import Ledger
from gameday.target.processes import Process
from gameday.target.signals import Signals
from gameday.target.traffic import Traffic


class TargetProfile(Strict):
    version: Literal[1] = 1
    name: Name = Field(description="the target's name, in reports")
    base_url: str = Field(description="where the service answers, e.g. http://127.0.0.1:8080")
    health_url: str = Field(
        default="/", description="a path under base_url, or a URL; 2xx when ready"
    )
    auth: Auth | None = None
    traffic: Traffic
    slo: str | None = Field(
        default=None,
        description="the SLO file, relative to the profile's folder (gameday run --slo wins)",
    )
    toxiproxy: ToxiproxyServer = Field(default_factory=ToxiproxyServer)
    dependencies: dict[Name, Dependency] = Field(
        default_factory=dict, description="name -> its Toxiproxy proxy"
    )
    signals: Signals | None = None
    alerts: Alerts | None = None
    ledger: Ledger | None = None
    processes: dict[Name, Process] = Field(default_factory=dict)
    hooks: Hooks = Field(default_factory=Hooks)

    # The profile's folder: relative Locust file paths are read from there.
    _folder: Path = PrivateAttr(default_factory=Path.cwd)

    @field_validator("base_url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url.rstrip("/")

    @field_validator("health_url")
    @classmethod
    def _path_or_url(cls, url: str) -> str:
        if not url.startswith(("/", "http://", "https://")):
            raise ValueError(f"{url!r}: expected a path starting with / or an http(s) URL")
        return url

    @model_validator(mode="after")
    def _distinct_listen_addresses(self) -> TargetProfile:
        seen: dict[str, str] = {}
        for name, dependency in self.dependencies.items():
            if dependency.listen in seen:
                raise ValueError(
                    f"dependencies {seen[dependency.listen]} and {name} both listen on "
                    f"{dependency.listen}"
                )
            seen[dependency.listen] = name
        return self

    @property
    def health_endpoint(self) -> str:
        return self.health_url if "://" in self.health_url else self.base_url + self.health_url

    @property
    def folder(self) -> Path:
        return self._folder

    def with_folder(self, folder: Path) -> TargetProfile:
        self._folder = folder
        return self

    def slo_path(self) -> Path | None:
        return None if self.slo is None else (self._folder / self.slo).resolve()

    def locustfiles(self) -> list[Path | str]:
        """Paths resolved from the profile's folder; modules (no '/', no '.py') as given."""
        return [
            (self._folder / f).resolve() if "/" in f or f.endswith(".py") else f
            for f in self.traffic.locustfile
        ]
