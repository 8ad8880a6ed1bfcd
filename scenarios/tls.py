"""How Locust's clients verify HTTPS. ``gameday run --tls`` exports GAMEDAY_CA_BUNDLE
(the stack's CA): the users then verify the service's certificate with it. Without it,
Locust's default stays (FastHttpUser does not verify certificates).

    class GamedayUser(FastHttpUser):
        insecure = CLIENT_TLS.insecure
        ssl_context_factory = CLIENT_TLS.context_factory
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClientTls:
    insecure: bool
    context_factory: Any  # staticmethod wrapping () -> SSLContext, or None


def client_tls(env: dict[str, str] | None = None) -> ClientTls:
    bundle = (os.environ if env is None else env).get("GAMEDAY_CA_BUNDLE")
    if not bundle:
        return ClientTls(insecure=True, context_factory=None)
    return ClientTls(insecure=False, context_factory=staticmethod(_verifying(bundle)))


def _verifying(bundle: str) -> Callable[[], ssl.SSLContext]:
    def make() -> ssl.SSLContext:
        import gevent.ssl  # Locust's process only; gevent's context for gevent sockets

        context: ssl.SSLContext = gevent.ssl.create_default_context(cafile=bundle)
        return context

    return make
