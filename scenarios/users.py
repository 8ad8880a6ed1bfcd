"""The reference service's user classes: ordinary Locust users. gameday's plugin keeps
the ones the run's mix names (targets/reference.yaml's mixes) and, under an open shape,
runs one task of theirs per arrival (`@arrival` where that differs from the task)."""

from __future__ import annotations

import locust  # noqa: F401  (first: it monkey-patches the standard library)

import random

import gevent
from locust import FastHttpUser, between, constant_throughput, task

from gameday.corpus import Vocabulary
from gameday.plugin import arrival, options
from scenarios import actions
from scenarios.tls import client_tls

_user_counter = 0


def _actor(salt: str) -> actions.Actor:
    """A simulated client: one tenant (the run's tenants by their weights), its token,
    its own random stream. The tenants come from the run's options (`tokens`: tenant ->
    token, `tenant_weights`), which the reference profile's options hook makes."""
    global _user_counter
    _user_counter += 1
    run = options()
    seed = int(run.get("seed", 42))
    tokens: dict[str, str] = dict(run.get("tokens") or {})
    weights_by_tenant: dict[str, float] = dict(run.get("tenant_weights") or {})
    rng = random.Random(f"{seed}:{salt}:{_user_counter}")
    tenants = [t for t in tokens if t != actions.NOISY_TENANT]  # only the Abuser sends as it
    if not tenants:
        raise RuntimeError("no tenant tokens in the run's options: run it with `gameday run`")
    weights = [weights_by_tenant.get(t, 1.0) for t in tenants]
    tenant = rng.choices(tenants, weights=weights)[0]
    return actions.Actor(
        vocabulary=Vocabulary(seed=seed, size=actions.VOCABULARY_SIZE),
        rng=rng,
        tenant=tenant,
        token=tokens[tenant],
        noisy_token=tokens.get(actions.NOISY_TENANT),
    )


_TLS = client_tls()  # the environment only: GAMEDAY_CA_BUNDLE from `gameday run --tls`


class GamedayUser(FastHttpUser):
    abstract = True
    insecure = _TLS.insecure
    ssl_context_factory = _TLS.context_factory
    # Open model: many arrivals share one instance; its pool opens connections as needed.
    concurrency = 200
    actor: actions.Actor

    def on_start(self) -> None:
        self.actor = _actor(type(self).__name__)


class Searcher(GamedayUser):
    wait_time = between(0.5, 2.0)

    @task
    def search(self) -> None:
        actions.search(self.client, self.actor)


class Autocompleter(GamedayUser):
    """Types a word: a burst of prefix requests a keystroke apart (one prefix an arrival)."""

    wait_time = between(1.0, 3.0)

    @task
    def type_a_word(self) -> None:
        for typed in range(2, 2 + self.actor.rng.randint(2, 5)):
            actions.autocomplete(self.client, self.actor, typed=typed)
            gevent.sleep(self.actor.rng.uniform(0.08, 0.25))

    @arrival
    def one_prefix(self) -> None:
        actions.autocomplete(self.client, self.actor)


class Reader(GamedayUser):
    wait_time = between(0.5, 2.0)

    @task
    def read(self) -> None:
        actions.get_document(self.client, self.actor)


class Writer(GamedayUser):
    wait_time = between(1.0, 3.0)

    @task
    def write(self) -> None:
        actions.write(self.client, self.actor)


class Abuser(GamedayUser):
    """The noisy neighbour: each user searches 10 times a second as the abusive tenant,
    whatever answer it gets (a runaway client that ignores Retry-After)."""

    wait_time = constant_throughput(10)

    @task
    def hammer(self) -> None:
        actions.abuse_search(self.client, self.actor)


class Prober(FastHttpUser):
    """Asks whether the process answers (`GET /health/live`: no tenant, no token, no
    dependency), the `liveness` mix: load whose cost is the harness's own, for runs that
    exercise the generator (32 workers merged on one machine, bench/distributed.py)."""

    insecure = _TLS.insecure
    ssl_context_factory = _TLS.context_factory
    wait_time = between(0.5, 2.0)

    @task
    def live(self) -> None:
        self.client.get("/health/live", name="/health/live")
