"""The harness's exception tree. The CLI catches only `GamedayError` at its
boundary and prints its message as one line (exit 2).

    GamedayError
    ├── ConfigError            bad settings, flags or files
    ├── InstallError           a tool or server could not be installed
    │   └── MissingToolError   a prerequisite (java, go, mvn, apt) is absent
    ├── StackError             the local stack could not be started or stopped
    │   ├── PortInUseError     a port we need is taken by someone else
    │   └── ComponentFailed    a component died or never became healthy
    └── ToxiproxyError         the Toxiproxy API refused or failed a call
        ├── ToxiproxyUnreachable   no Toxiproxy answers at the URL
        └── ListenPortTaken        a proxy's listen port is held by something else
"""

from __future__ import annotations


class GamedayError(Exception):
    """Root of every error the harness raises on purpose."""


class ConfigError(GamedayError):
    pass


class InstallError(GamedayError):
    pass


class MissingToolError(InstallError):
    def __init__(self, tool: str, fix: str) -> None:
        super().__init__(f"{tool} is not installed: {fix}")
        self.tool = tool


class StackError(GamedayError):
    pass


class PortInUseError(StackError):
    def __init__(self, component: str, port: int) -> None:
        super().__init__(
            f"port {port} needed by {component} is already in use by another process: "
            f"stop that process or set another port (e.g. GAMEDAY_{component.upper()}_PORT)"
        )
        self.component = component
        self.port = port


class ComponentFailed(StackError):
    def __init__(self, component: str, reason: str, log: str | None = None) -> None:
        where = f" (see {log})" if log else ""
        super().__init__(f"{component} failed: {reason}{where}")
        self.component = component


class ToxiproxyError(GamedayError):
    def __init__(self, message: str, *, proxy: str | None = None) -> None:
        super().__init__(message)
        self.proxy = proxy


class ToxiproxyUnreachable(ToxiproxyError):
    def __init__(self, url: str, reason: str, *, fix: str) -> None:
        super().__init__(f"Toxiproxy at {url} is unreachable ({reason}): {fix}")
        self.url = url


class ListenPortTaken(ToxiproxyError):
    def __init__(self, proxy: str, listen: str, holder: str) -> None:
        port = listen.rpartition(":")[2]
        super().__init__(
            f"proxy {proxy}: port {port} ({listen}) is already taken by {holder}: "
            f"stop it or give {proxy} another listen address in the profile",
            proxy=proxy,
        )
        self.listen = listen
        self.port = int(port)
