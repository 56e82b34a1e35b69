"""Token buckets (pure)."""

from __future__ import annotations

from fedblog.inbox.ratelimit import TokenBuckets


def test_burst_then_refill() -> None:
    buckets = TokenBuckets(rate=2, burst=3)
    assert [buckets.take("h", 0.0) for _ in range(3)] == [None, None, None]
    wait = buckets.take("h", 0.0)
    assert wait is not None and 0.4 < wait <= 0.5
    assert buckets.take("other", 0.0) is None
    assert buckets.take("h", 0.5) is None
    assert buckets.take("h", 0.5) is not None


def test_zero_rate_means_unlimited_and_keys_are_bounded() -> None:
    assert TokenBuckets(rate=0, burst=0).take("x", 0) is None
    buckets = TokenBuckets(rate=1, burst=1, max_keys=10)
    for i in range(100):
        buckets.take(str(i), 0)
    assert len(buckets._buckets) == 10
