"""The open model for any user class: one arrival scheduler per Locust process.

Under an open shape (`--rate`), Locust runs one `OpenArrivals` user per process; it
issues arrivals evenly spaced at the process's share of the planned rate
(`gameday.load.arrival_clock`), whatever the response times. Each arrival:

- picks a user class of the mix by the mix's weights,
- picks one of a few instances of that class (each made once, with its own client and
  connections, its `on_start` called once; `on_stop` when the schedule ends),
- runs ONE task on it: one of its `@arrival` methods if it has any (by their weights),
  else one of its Locust tasks, weighted as Locust weights them; `wait_time` is not used.

The arrival's intended start is kept for its greenlet, so the capture counts the
latency of its first request from when it was due, not from when it was sent: an
arrival that waits for a free slot (at most `LoadConfig.max_in_flight` in flight per
process) is charged for the wait. Arrivals that start more than 10 ms late, or find
every slot taken, are counted as late starts.
"""

from __future__ import annotations  # noqa: I001  (locust first, see below)

import locust  # noqa: F401  (first: it monkey-patches the standard library)

import itertools
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar, overload

import gevent
from gevent.lock import BoundedSemaphore
from gevent.queue import SimpleQueue
from locust import TaskSet, User, task
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopUser

from gameday.load.arrival_clock import ArrivalClock
from gameday.load.config import LoadConfig
from gameday.load.shapes import OPEN
from gameday.plugin import capture, readiness
from gameday.rundir import ArrivalError

INSTANCES_PER_CLASS = 16  # simulated clients per user class and process, each its own pool
LATE_S = 0.01
DRAIN_S = 5.0  # in-flight arrivals may finish this long after the last one was due
ARRIVAL_WEIGHT = "gameday_arrival_weight"
# How an arrival's task may end without being an error (Locust's own control flow).
_ENDED = (InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopUser)

F = TypeVar("F", bound=Callable[..., Any])


@overload
def arrival(weight: F) -> F: ...


@overload
def arrival(weight: int = 1) -> Callable[[F], F]: ...


def arrival(weight: Any = 1) -> Any:
    """Marks a method of a user class as what one open-model arrival runs.

        class Shopper(HttpUser):
            @task
            def browse(self):            # closed model: a session of several pages
                for page in range(5):
                    self.client.get(f"/items?page={page}")
                    time.sleep(1)

            @arrival                     # open model: one arrival is one page
            def one_page(self):
                self.client.get("/items?page=1")

            @arrival(3)                  # weights as @task's: three times as often
            def item(self):
                self.client.get("/items/42")

    A class without `@arrival` methods runs its Locust tasks, one per arrival. The
    method need not be a task, and a task may be an arrival too (`@arrival @task`).
    Closed-model runs ignore the marker."""
    if callable(weight):
        setattr(weight, ARRIVAL_WEIGHT, 1)
        return weight

    def mark(func: F) -> F:
        setattr(func, ARRIVAL_WEIGHT, int(weight))
        return func

    return mark


def arrival_tasks(user_class: type[User]) -> list[Any]:
    """What arrivals of `user_class` choose from, repeated by weight (as Locust's `tasks`):
    its @arrival methods if any, else its tasks (functions or TaskSet classes)."""
    marked: dict[str, Any] = {}
    for klass in reversed(user_class.__mro__):
        for name, value in vars(klass).items():
            weight = getattr(value, ARRIVAL_WEIGHT, None)
            if callable(value) and weight is not None:
                marked[name] = value
            elif name in marked:  # overridden without the marker
                del marked[name]
    if marked:
        return [f for f in marked.values() for _ in range(getattr(f, ARRIVAL_WEIGHT))]
    return list(user_class.tasks)


class _Client:
    """One simulated client: an instance of a user class, and its TaskSets (made once)."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.tasksets: dict[type[TaskSet], TaskSet] = {}

    def run(self, chosen: Any, rng: random.Random | float, parent: Any = None) -> None:
        """Runs one task; `rng` (or its seed, made into a generator only if a TaskSet
        needs one: 8 µs an arrival otherwise) chooses within TaskSets."""
        parent = self.user if parent is None else parent
        if isinstance(chosen, type) and issubclass(chosen, TaskSet):
            taskset = self.tasksets.get(chosen)
            if taskset is None:
                taskset = self.tasksets[chosen] = chosen(parent)
                taskset.on_start()
            if not isinstance(rng, random.Random):
                rng = random.Random(rng)
            self.run(rng.choice(taskset.tasks), rng, taskset)
            return
        chosen(parent)


class _Kind:
    """A user class of the mix, with its simulated clients."""

    def __init__(self, user_class: type[User], tasks: list[Any]) -> None:
        self.name = user_class.__name__
        self.user_class = user_class
        self.tasks = tasks
        self.clients: list[_Client] = []


class OpenArrivals(User):
    """The open model's scheduler, one per Locust process (`configure` makes the run's)."""

    abstract = True
    config: LoadConfig = LoadConfig()
    mix: dict[type[User], int] = {}
    _process_counter = 0

    @task
    def arrivals(self) -> None:
        config = self.config
        OpenArrivals._process_counter += 1
        rng = random.Random(f"{config.seed}:arrivals:{OpenArrivals._process_counter}")
        kinds = [_Kind(cls, arrival_tasks(cls)) for cls in self.mix]
        # summed once: `choices(weights=...)` sums them on every call, same draws either way
        cum_weights = list(itertools.accumulate(self.mix.values()))
        _start_clients(kinds, self.environment)
        capture.ready_then_wait(self.environment)  # the run's clock starts (readiness)
        clock = ArrivalClock(
            lambda t_s: OPEN[config.shape](t_s, config), processes=config.worker_processes
        )
        pool = _Runners(config.max_in_flight)
        start = time.monotonic()
        current_second = int(time.time())
        try:
            while (at_s := clock.next_s()) is not None:
                now_second = int(time.time())
                if now_second != current_second:
                    current_second = now_second
                    capture.recorder.note_generator(
                        now_second, target_rps=clock.rate_at(at_s) or 0.0, in_flight=len(pool)
                    )
                intended = start + at_s
                delay = intended - time.monotonic()
                if delay > 0:
                    gevent.sleep(delay)
                if delay < -LATE_S or pool.full():
                    capture.recorder.note_generator(int(time.time()), late_starts=1)
                kind = rng.choices(kinds, cum_weights=cum_weights)[0]
                client = kind.clients[rng.randrange(len(kind.clients))]
                chosen = rng.choice(kind.tasks)
                task_seed = rng.random()
                pool.submit(kind.name, client, chosen, task_seed, intended)
            pool.drain(timeout_s=DRAIN_S)
        finally:
            _stop_clients(kinds)
        capture.state.schedule_done = True
        readiness.schedule_done(self.environment)  # a worker tells the master
        gevent.sleep(1e9)  # the run is over: wait here until Locust stops the user


class _Runners:
    """Runs arrivals, at most `size` at once, on long-lived greenlets (made as the
    concurrency first needs them), fed through a queue. Chosen over `gevent.pool.Pool`
    (a greenlet spawned per arrival) for its cost: 30 against 61 µs of CPU per arrival
    at 4,000 arrivals/s in bench/arrival_cost.py."""

    def __init__(self, size: int) -> None:
        self._slots = BoundedSemaphore(size)
        self._arrivals: SimpleQueue[tuple[Any, ...]] = SimpleQueue()
        self._idle = 0  # runners waiting for an arrival that none has been promised
        self._runners: list[gevent.Greenlet] = []
        self._size = size

    def __len__(self) -> int:
        return self._size - int(self._slots.counter)

    def full(self) -> bool:
        return bool(self._slots.locked())

    def submit(self, *arrival: Any) -> None:
        """Runs `_arrive(*arrival)` on a free runner, first waiting for a slot if none is."""
        self._slots.acquire()
        if self._idle:
            self._idle -= 1
        else:
            self._runners.append(gevent.spawn(self._run))
        self._arrivals.put(arrival)

    def drain(self, timeout_s: float) -> None:
        """Waits up to `timeout_s` for the arrivals in flight, then ends every runner."""
        with gevent.Timeout(timeout_s, False):
            for _ in range(self._size):
                self._slots.acquire()
        gevent.killall(self._runners)

    def _run(self) -> None:
        while True:
            arrival = self._arrivals.get()
            try:
                _arrive(*arrival)
            except (gevent.GreenletExit, SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:  # a gevent.Timeout a task let out: the arrival's
                # end, not the runner's (a runner gone would leave its slot taken for good)
                capture.event(ArrivalError(arrival=arrival[0], error=repr(exc)[:200]))
            finally:
                self._slots.release()
                self._idle += 1


def _start_clients(kinds: list[_Kind], environment: Any) -> None:
    """Each kind's instances, made now, their on_start run concurrently (a login may be
    slow); one whose on_start failed is still used (its requests show the failure).

    Between two on_starts the event loop runs what it has pending (`gevent.idle`), so a
    worker keeps sending Locust's heartbeats while CPU-bound on_starts run: 48 of the
    reference service's (about 27 ms of CPU each) in one uninterrupted batch took 15-17 s
    of wall time per worker with 32 workers on 2 cores, the master marked every worker
    missing after 3 s without a heartbeat and stopped the test with 0 requests sent."""
    for kind in kinds:
        kind.clients = [_Client(kind.user_class(environment)) for _ in range(INSTANCES_PER_CLASS)]
    started = []
    for kind in kinds:
        for client in kind.clients:
            started.append(gevent.spawn(_call, kind.name, client.user.on_start))
            gevent.idle()  # returns once the loop has no other work: the on_start has run
            # or is waiting on I/O (a slow login still overlaps with the next ones)
    gevent.joinall(started)


def _stop_clients(kinds: list[_Kind]) -> None:
    gevent.joinall(
        [gevent.spawn(_call, kind.name, client.user.on_stop) for kind in kinds
         for client in kind.clients]
    )  # fmt: skip


def _call(kind: str, method: Callable[[], Any]) -> None:
    try:
        method()
    except _ENDED:
        pass
    except Exception as exc:
        capture.event(ArrivalError(arrival=kind, error=repr(exc)[:200]))


def _arrive(kind: str, client: _Client, chosen: Any, seed: float, intended: float) -> None:
    capture.intend(intended)
    try:
        client.run(chosen, seed)
    except _ENDED:
        pass
    except Exception as exc:  # one failed arrival must not stop the schedule
        capture.event(ArrivalError(arrival=kind, error=repr(exc)[:200]))
    finally:
        capture.forget_intended()


def open_arrivals(config: LoadConfig, mix: dict[type[User], int]) -> type[OpenArrivals]:
    """The run's scheduler class (Locust spawns one per process)."""
    return type("OpenArrivals", (OpenArrivals,), {"abstract": False, "config": config, "mix": mix})
