"""A profile's dependencies as Toxiproxy proxies: check them, create or update them
(idempotently), and clear their faults. Only the profile's proxies are touched: others
on the same server (another target's, another test's) are left alone.

    with connect(profile, source="targets/shop.yaml") as client:
        apply_proxies(client, profile)   # {"postgres": "created", "redis": "unchanged"}
        check_proxies(client, profile)   # [ProxyCheck(name="postgres", state="ok", ...)]
        reset_proxies(client, profile)   # toxics removed, every proxy enabled
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import httpx

from gameday.errors import ListenPortTaken, ToxiproxyError, ToxiproxyUnreachable
from gameday.target.dependencies import Dependency
from gameday.target.profile import TargetProfile
from gameday.toxiproxy import Proxy, ToxiproxyClient

CheckState = Literal["ok", "missing", "differs"]
Action = Literal["created", "updated", "unchanged"]
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}
_ANY = {"", "0.0.0.0", "::", "[::]"}


@dataclass(frozen=True)
class ProxyCheck:
    name: str
    wanted: Dependency
    found: Proxy | None

    @property
    def state(self) -> CheckState:
        if self.found is None:
            return "missing"
        same = same_address(self.found.listen, self.wanted.listen) and same_address(
            self.found.upstream, self.wanted.upstream
        )
        return "ok" if same else "differs"


def connect(profile: TargetProfile, *, source: str) -> ToxiproxyClient:
    """A client for the profile's Toxiproxy server, once it has answered."""
    url = profile.toxiproxy.url
    client = ToxiproxyClient(url, timeout_s=profile.toxiproxy.timeout_s)
    try:
        client.version()
    except ToxiproxyError as exc:
        client.close()
        cause = exc.__cause__
        reason = type(cause).__name__ if isinstance(cause, httpx.HTTPError) else str(exc)
        raise ToxiproxyUnreachable(
            url,
            reason,
            fix=f"start it (toxiproxy-server -port {httpx.URL(url).port or 8474}, or "
            f"`gameday stack up` for the local stack) or correct toxiproxy.url in {source}",
        ) from None
    return client


def check_proxies(client: ToxiproxyClient, profile: TargetProfile) -> list[ProxyCheck]:
    return _checks(client.proxies(), profile)


def _checks(found: dict[str, Proxy], profile: TargetProfile) -> list[ProxyCheck]:
    return [
        ProxyCheck(name=name, wanted=dependency, found=found.get(name))
        for name, dependency in profile.dependencies.items()
    ]


def apply_proxies(client: ToxiproxyClient, profile: TargetProfile) -> dict[str, Action]:
    """Create missing proxies and correct differing ones; leave matching ones (their
    enabled state and toxics) alone, so a second apply changes nothing."""
    actions: dict[str, Action] = {}
    found = client.proxies()
    for check in _checks(found, profile):
        if check.state == "ok":
            actions[check.name] = "unchanged"
            continue
        holder = _other_proxy_listening(found, check.name, check.wanted.listen)
        if holder is not None:
            raise ListenPortTaken(check.name, check.wanted.listen, f"Toxiproxy's proxy {holder}")
        wanted = Proxy(name=check.name, listen=check.wanted.listen, upstream=check.wanted.upstream)
        try:
            # One proxy per call, so a failure names its proxy.
            client.populate([wanted])
        except ToxiproxyError as exc:
            if "address already in use" in str(exc):
                raise ListenPortTaken(check.name, check.wanted.listen, "another process") from None
            raise
        actions[check.name] = "created" if check.state == "missing" else "updated"
    return actions


def reset_proxies(client: ToxiproxyClient, profile: TargetProfile) -> dict[str, list[str]]:
    """Remove every toxic of the profile's proxies and enable them: name -> the toxics
    removed. A missing proxy is left out of the answer (check_proxies reports it)."""
    removed: dict[str, list[str]] = {}
    found = client.proxies()
    for name in profile.dependencies:
        proxy = found.get(name)
        if proxy is None:
            continue
        for toxic in proxy.toxics:
            client.remove_toxic(name, toxic.name)
        if not proxy.enabled:
            client.set_enabled(name, True)
        removed[name] = [t.name for t in proxy.toxics]
    return removed


def same_address(a: str, b: str) -> bool:
    """host:port equality as Toxiproxy reports it back (it writes `localhost:N` as
    `127.0.0.1:N` once listening)."""
    host_a, _, port_a = a.rpartition(":")
    host_b, _, port_b = b.rpartition(":")
    if port_a != port_b:
        return False
    if host_a == host_b:
        return True
    return (host_a in _LOOPBACK and host_b in _LOOPBACK) or (host_a in _ANY and host_b in _ANY)


def _other_proxy_listening(found: dict[str, Proxy], name: str, listen: str) -> str | None:
    return next(
        (p.name for p in found.values() if p.name != name and same_address(p.listen, listen)),
        None,
    )
