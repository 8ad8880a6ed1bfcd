"""The rate limiter's lease book: what a worker may hold and spend without Redis."""

from __future__ import annotations

from service.security.leases import LeaseBook
from service.security.ratelimit import Decision, Quota

ALLOWED = Decision("allowed", limit="caller", quota=Quota(100, 1000), remaining=500, reset_s=2.0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_lease_is_spent_one_token_per_request_with_the_tokens_left_in_remaining() -> None:
    clock = FakeClock()
    book = LeaseBook(ttl_s=1.0, clock=clock)
    book.keep("t", "alice", tokens=2, allowed=ALLOWED)
    clock.now += 0.5
    first, second = book.spend("t", "alice"), book.spend("t", "alice")
    assert first is not None and second is not None
    assert (first.remaining, second.remaining) == (501, 500)
    assert first.reset_s == 1.5 and first.limit == "caller"
    assert book.spend("t", "alice") is None


def test_unspent_tokens_are_dropped_after_the_ttl() -> None:
    clock = FakeClock()
    book = LeaseBook(ttl_s=1.0, clock=clock)
    book.keep("t", "alice", tokens=5, allowed=ALLOWED)
    clock.now += 1.0
    assert book.spend("t", "alice") is None
    assert book.held("t") == 0


def test_a_tenant_never_holds_more_than_lease_minus_one_unspent_tokens() -> None:
    book = LeaseBook(ttl_s=1.0, clock=FakeClock())
    assert book.wanted("t", lease=20) == 20
    book.begin("t", 20)  # a round trip in flight for alice asks for 19 more than it needs
    assert book.wanted("t", lease=20) == 1  # bob, meanwhile, asks for his own token only
    book.end("t", 20)
    book.keep("t", "alice", tokens=19, allowed=ALLOWED)
    assert book.held("t") == 19
    assert book.wanted("t", lease=20) == 1
    for _ in range(10):
        book.spend("t", "alice")
    assert book.wanted("t", lease=20) == 11
    assert book.wanted("other-tenant", lease=20) == 20
