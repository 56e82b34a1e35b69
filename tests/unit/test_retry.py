"""The retry policy and circuit breaker (pure)."""

from __future__ import annotations

import itertools
import random

import pytest

from fedblog.federation.client import parse_retry_after
from fedblog.outbox.retry import Outcome, RetryPolicy, classify


@pytest.mark.parametrize(("status", "outcome"), [
    (200, Outcome.DELIVERED), (202, Outcome.DELIVERED), (None, Outcome.RETRY),
    (500, Outcome.RETRY), (503, Outcome.RETRY), (429, Outcome.RETRY), (408, Outcome.RETRY),
    (400, Outcome.GIVE_UP), (401, Outcome.RETRY), (501, Outcome.GIVE_UP), (403, Outcome.GIVE_UP),
    (404, Outcome.GIVE_UP), (410, Outcome.GONE),
])
def test_classify(status: int | None, outcome: Outcome) -> None:
    assert classify(status) is outcome


def test_delays_grow_like_mastodons_and_honour_retry_after() -> None:
    policy = RetryPolicy()
    rng = random.Random(1)
    delays = [policy.delay(n, rng=rng) for n in range(1, 17)]
    assert all(b > a for a, b in itertools.pairwise(delays))
    # The first retry comes within seconds (a passing failure), then Mastodon's schedule.
    assert 2 <= delays[0] <= 4
    assert 2**4 + 15 <= delays[1] <= 2**4 + 15 + 30
    assert policy.delay(1, retry_after=3600, rng=rng) >= 3600
    assert policy.delay(1, retry_after=10**9, rng=rng) <= policy.max_retry_after + 1
    assert 2 * 86400 < policy.horizon_seconds() < 3 * 86400
    assert policy.exhausted(16) and not policy.exhausted(15)


def test_circuit_breaker_pauses_after_the_threshold_and_caps() -> None:
    policy = RetryPolicy()
    assert policy.pause_for(9) is None
    assert policy.pause_for(10) == 60
    assert policy.pause_for(11) == 120
    assert policy.pause_for(1000) == policy.breaker_max_pause


def test_retry_after_parsing() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
