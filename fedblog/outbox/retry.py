"""When to try a delivery again, when to give up, and when to pause a whole host."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum


class Outcome(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GIVE_UP = "give_up"
    GONE = "gone"


def classify(status: int | None) -> Outcome:
    """None means no answer at all (timeout, refused, reset): worth retrying."""
    if status is None:
        return Outcome.RETRY
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status == 410:
        return Outcome.GONE
    # 401 usually means the receiver could not fetch our key just then: Mastodon retries it.
    if status == 501:
        return Outcome.GIVE_UP
    if status in (401, 408, 429) or status >= 500:
        return Outcome.RETRY
    return Outcome.GIVE_UP


@dataclass(frozen=True)
class RetryPolicy:
    """Mastodon's schedule: attempt n waits (n**4 + 15) s plus jitter, for 16 attempts, except
    the first retry, which comes after `first_retry` s plus up to as much again of jitter: most
    failures are passing (a restart, a 502 from a proxy), and a follower should have the post in
    seconds, not after the ≥ 16 s Mastodon's first step waits.

    That horizon is about 2.6 days. `scale` shrinks every delay (tests use 0.001).
    """

    max_attempts: int = 16
    scale: float = 1.0
    first_retry: float = 2.0
    max_retry_after: float = 24 * 3600
    breaker_threshold: int = 10         # consecutive failures of a host before it is paused
    breaker_base_pause: float = 60.0
    breaker_max_pause: float = 6 * 3600

    def delay(self, attempt: int, *, retry_after: float | None = None,
              rng: random.Random | None = None) -> float:
        rng = rng or random.Random()
        if attempt <= 1:
            base = self.first_retry + rng.uniform(0, self.first_retry)
        else:
            base = attempt**4 + 15 + rng.uniform(0, 10 * (attempt + 1))
        if retry_after is not None:
            base = max(base, min(retry_after, self.max_retry_after))
            # Retry-After is the peer's own word: scale it only in tests.
        return base * self.scale

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def pause_for(self, consecutive_failures: int) -> float | None:
        """How long to pause a failing host, or None while under the threshold."""
        over = consecutive_failures - self.breaker_threshold
        if over < 0:
            return None
        pause: float = min(self.breaker_base_pause * 2.0 ** min(over, 20), self.breaker_max_pause)
        return pause * self.scale

    def horizon_seconds(self) -> float:
        return sum(n**4 + 15 for n in range(1, self.max_attempts)) * self.scale
