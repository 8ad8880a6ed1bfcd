"""User classes (closed model) and the open-model arrival scheduler."""

from __future__ import annotations

import locust  # noqa: F401  (first: it monkey-patches the standard library)

import random
import time
from typing import Any

import gevent
from gevent.pool import Pool
from locust import FastHttpUser, between, constant_throughput, task
from locust.contrib.fasthttp import FastHttpSession

from gameday.corpus import Vocabulary
from gameday.load.config import MIXES, NOISY_TENANT, LoadConfig
from gameday.rundir import ArrivalError
from scenarios import actions, capture
from scenarios.shapes import OPEN
from scenarios.tls import client_tls

_user_counter = 0


def _actor(config: LoadConfig, salt: str) -> actions.Actor:
    global _user_counter
    _user_counter += 1
    rng = random.Random(f"{config.seed}:{salt}:{_user_counter}")
    tenants = [t for t in config.tokens if t != NOISY_TENANT]  # only the Abuser sends as it
    weights = [config.tenant_weights.get(t, 1.0) for t in tenants]
    tenant = rng.choices(tenants, weights=weights)[0]
    return actions.Actor(
        config=config,
        vocabulary=Vocabulary(seed=config.seed, size=config.vocabulary_size),
        rng=rng,
        tenant=tenant,
        token=config.tokens[tenant],
    )


_TLS = client_tls()  # the environment only: GAMEDAY_CA_BUNDLE from `gameday run --tls`


class GamedayUser(FastHttpUser):
    abstract = True
    insecure = _TLS.insecure
    ssl_context_factory = _TLS.context_factory
    config: LoadConfig = LoadConfig()
    actor: actions.Actor

    def on_start(self) -> None:
        self.actor = _actor(self.config, type(self).__name__)


class Searcher(GamedayUser):
    abstract = True
    wait_time = between(0.5, 2.0)

    @task
    def search(self) -> None:
        actions.search(self.client, self.actor)


class Autocompleter(GamedayUser):
    """Types a word: a burst of prefix requests a keystroke apart."""

    abstract = True
    wait_time = between(1.0, 3.0)

    @task
    def type_a_word(self) -> None:
        for typed in range(2, 2 + self.actor.rng.randint(2, 5)):
            actions.autocomplete(self.client, self.actor, typed=typed)
            gevent.sleep(self.actor.rng.uniform(0.08, 0.25))


class Reader(GamedayUser):
    abstract = True
    wait_time = between(0.5, 2.0)

    @task
    def read(self) -> None:
        actions.get_document(self.client, self.actor)


class Writer(GamedayUser):
    abstract = True
    wait_time = between(1.0, 3.0)

    @task
    def write(self) -> None:
        actions.write(self.client, self.actor)


class Abuser(GamedayUser):
    """The noisy neighbour: each user searches 10 times a second as the abusive tenant,
    whatever answer it gets (a runaway client that ignores Retry-After)."""

    abstract = True
    wait_time = constant_throughput(10)

    @task
    def hammer(self) -> None:
        actions.abuse_search(self.client, self.actor)


CLOSED_USERS: dict[str, type[GamedayUser]] = {
    "Abuser": Abuser,
    "Searcher": Searcher,
    "Autocompleter": Autocompleter,
    "Reader": Reader,
    "Writer": Writer,
}


class OpenModelUser(GamedayUser):
    """One per worker process: issues arrivals evenly spaced at the shape's
    rate (this process's share), whatever the response times (like wrk2 and
    k6's constant-arrival-rate, so the count is exact, not Poisson-noisy). An
    arrival that finds every in-flight slot taken waits, and its latency still
    counts from its intended start.

    Each of its 16 simulated clients (actors) has its own connections, as real clients
    do: one shared keep-alive pool sent nearly every request down one connection, so to
    one uvicorn worker, and the other workers saw almost no traffic (their breakers, for
    one, waited for half-open trials long after the busy worker's had closed)."""

    abstract = True
    concurrency = 200  # connections in each client's pool (opened only when needed)
    clients = 16

    @task
    def arrivals(self) -> None:
        config = self.config
        rate_at = OPEN[config.shape]
        mix = MIXES[config.scenario]
        kinds, weights = list(mix), list(mix.values())
        actors = [_actor(config, f"open-{i}") for i in range(self.clients)]
        sessions = [self._session() for _ in actors]
        rng = random.Random(f"{config.seed}:arrivals:{_user_counter}")
        pool = Pool(config.max_in_flight)
        start = time.monotonic()
        next_at = start
        current_second = int(time.time())
        while True:
            elapsed = time.monotonic() - start
            total_rate = rate_at(elapsed, config)
            if total_rate is None:
                break
            rate = total_rate / config.worker_processes
            now_second = int(time.time())
            if now_second != current_second:
                current_second = now_second
                capture.recorder.note_generator(now_second, target_rps=rate, in_flight=len(pool))
            next_at += 1.0 / rate
            delay = next_at - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            late = delay < -0.01 or pool.full()
            if late:
                capture.recorder.note_generator(int(time.time()), late_starts=1)
            kind = rng.choices(kinds, weights=weights)[0]
            client = rng.randrange(len(actors))  # the same draw as rng.choice(actors)
            pool.spawn(self._arrive, kind, actors[client], sessions[client], next_at)
        pool.join(timeout=5)
        pool.kill()
        gevent.sleep(1e9)  # the run is over: wait here until Locust stops the user

    def _session(self) -> FastHttpSession:
        """A client's own connection pool, made as FastHttpUser makes `self.client`."""
        return FastHttpSession(
            base_url=self.host,
            request_event=self.environment.events.request,
            network_timeout=self.network_timeout,
            connection_timeout=self.connection_timeout,
            max_redirects=self.max_redirects,
            max_retries=self.max_retries,
            insecure=self.insecure,
            concurrency=self.concurrency,
            user=self,
            ssl_context_factory=self.ssl_context_factory,
            headers=self.default_headers,
        )

    def _arrive(
        self, kind: str, actor: actions.Actor, session: FastHttpSession, intended: float
    ) -> None:
        try:
            actions.ARRIVALS[kind](session, actor, intended)
        except Exception as exc:  # one failed arrival must not stop the schedule
            capture.event(ArrivalError(arrival=kind, error=repr(exc)[:200]))

    def on_start(self) -> None:
        self.actor = _actor(self.config, "open")


def configure(config: LoadConfig) -> dict[str, Any]:
    """The user classes this run uses, with the mix's weights, ready for the
    locustfile's namespace (Locust collects classes from it)."""
    GamedayUser.config = config
    if config.model == "open":
        return {"OpenModelUser": type("OpenArrivals", (OpenModelUser,), {"abstract": False})}
    selected: dict[str, Any] = {}
    for name, weight in MIXES[config.scenario].items():
        selected[name] = type(name, (CLOSED_USERS[name],), {"abstract": False, "weight": weight})
    return selected
