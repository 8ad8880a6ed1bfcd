"""What every stack component provides to the supervisor.

A component knows how to tell whether it is installed, how to prepare its data
directory once, the command that runs it in the foreground, how to check its
health through a real protocol call, and which Toxiproxy proxies front it.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gameday.settings import StackSettings
from gameday.toxiproxy import Proxy

CHECK_TIMEOUT_S = 3.0

Report = Callable[[str], None]  # receives one progress line at a time


@dataclass
class Health:
    healthy: bool
    version: str | None = None
    error: str | None = None
    role: str | None = None  # a clustered node's: "elected cluster manager", "follows node-0"


@dataclass
class Launch:
    """How to start a component: argv, extra env, the user to run as."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    cwd: Path | None = None
    group: int | None = None  # a group id of its own (a search node's: partitions match it)


class Component(ABC):
    name: str
    stop_signal: int = signal.SIGTERM
    # A dependency of the target service, reached through a proxy of the same name:
    # the registry's DEPENDENCIES, which `gameday matrix` faults.
    dependency: bool = False
    # The StackSettings flag that turns this component on (`pg_replica`, one of the
    # registry's OPT_IN_FLAGS); None: always part of the stack.
    enabled_by: str | None = None

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings

    @classmethod
    def instances(cls, settings: StackSettings) -> list[Component]:
        """The processes of this component (OpenSearch: one per search node)."""
        return [cls(settings)]

    @classmethod
    def all_names(cls) -> list[str]:
        """Every name an instance may have (pid files, `--only`)."""
        return [cls.name]

    @property
    @abstractmethod
    def port(self) -> int:
        """The port the server itself listens on (never given to clients)."""

    @property
    def listen_ports(self) -> list[int]:
        """Every port the component binds; all must be free before it starts."""
        return [self.port]

    def proxies(self) -> list[Proxy]:
        """Toxiproxy proxies in front of this component (client-facing)."""
        return []

    @property
    def proxy_port(self) -> int | None:
        proxies = self.proxies()
        return int(proxies[0].listen.rsplit(":", 1)[1]) if proxies else None

    @abstractmethod
    def missing(self) -> str | None:
        """None when installed, else a one-line fix (usually `make bootstrap`)."""

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Create the data directory on first start."""

    @abstractmethod
    def launch(self) -> Launch: ...

    @abstractmethod
    async def check(self) -> Health:
        """A real protocol round trip, bounded by CHECK_TIMEOUT_S."""

    async def after_healthy(self) -> None:  # noqa: B027 - optional hook
        """One-off set-up that needs the server up (create a database...)."""

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir / self.name

    @property
    def log_path(self) -> Path:
        return self.settings.logs_dir / f"{self.name}.log"

    async def checked(self) -> Health:
        try:
            return await asyncio.wait_for(self.check(), CHECK_TIMEOUT_S)
        except TimeoutError:
            return Health(healthy=False, error=f"no answer within {CHECK_TIMEOUT_S:.0f}s")
        except Exception as exc:  # any failure of the probe means unhealthy
            return Health(healthy=False, error=f"{type(exc).__name__}: {exc}")


def proxy(name: str, listen_port: int, upstream_port: int, host: str = "127.0.0.1") -> Proxy:
    return Proxy(name=name, listen=f"{host}:{listen_port}", upstream=f"{host}:{upstream_port}")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def which(binary: str, *extra_dirs: Path) -> str | None:
    for directory in extra_dirs:
        candidate = directory / binary
        if candidate.exists():
            return str(candidate)
    return shutil.which(binary)
