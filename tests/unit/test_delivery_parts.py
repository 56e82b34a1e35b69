"""The delivery worker's parts on their own: lease arithmetic, host slots, host memory and the
classification of an attempt's answer. No I/O."""

from __future__ import annotations

from typing import Any

from fedblog.federation.client import DeliveryResult
from fedblog.outbox.attempt import outcome_of
from fedblog.outbox.host_memory import HostMemory
from fedblog.outbox.host_slots import HostSlots
from fedblog.outbox.leases import Leases
from fedblog.outbox.retry import Outcome
from fedblog.storage.outbox import Delivery

NO_DB: Any = None


def _job(n: int, host: str = "a.example") -> Delivery:
    return Delivery(id=n, activity_pk=1, inbox=f"https://{host}/inbox", host=host, attempts=1,
                    signer="blog", activity_id="https://blog.example/activities/1",
                    reaches_blocked=False)


def test_a_lease_covers_both_schemes_timing_out_and_must_still_do_so_to_start() -> None:
    leases = Leases(NO_DB, "w", attempt_seconds=15.0)
    assert leases.seconds == 40.0
    assert leases.long_enough(claimed_at=100.0, now=109.0)      # 31 s left >= 31 needed
    assert not leases.long_enough(claimed_at=100.0, now=109.5)
    assert Leases(NO_DB, "w", attempt_seconds=15.0, seconds=90.0).seconds == 90.0


def test_slots_park_over_the_cap_and_pass_over_parked_jobs_whose_lease_is_too_short() -> None:
    slots = HostSlots(cap=1)
    assert slots.admit(_job(1), 0.0)
    assert not slots.admit(_job(2), 0.0) and not slots.admit(_job(3), 5.0)
    assert slots.parked_count == 2
    slots.free("a.example")
    assert slots.busy == {}
    job, passed = slots.next_parked("a.example", lambda claimed_at: claimed_at > 1.0)
    assert job is not None and job.id == 3 and [p.id for p in passed] == [2]
    assert slots.parked == {} and slots.parked_count == 0
    assert slots.next_parked("a.example", lambda claimed_at: True) == (None, [])


def test_slots_drain_unparks_everything() -> None:
    slots = HostSlots(cap=1)
    for n in range(3):
        slots.admit(_job(n, f"h{n % 2}.example"), 0.0)
    assert sorted(job.id for job in slots.drain()) == [2]
    assert slots.parked == {} and slots.parked_count == 0


def test_a_host_success_is_news_once_a_minute_or_when_the_scheme_changes() -> None:
    memory = HostMemory(NO_DB)
    assert memory.succeeded("a.example", "cavage", now=0.0)
    assert not memory.succeeded("a.example", "cavage", now=59.0)
    assert memory.succeeded("a.example", "rfc9421", now=59.5)
    assert memory.schemes["a.example"] == "rfc9421"
    assert memory.succeeded("a.example", "rfc9421", now=120.0)
    memory.forget_healthy(["a.example"])
    assert memory.succeeded("a.example", "rfc9421", now=121.0)


def test_an_answer_becomes_an_outcome() -> None:
    def result(status: int | None, error: str | None = None) -> DeliveryResult:
        return DeliveryResult(status, error, None, "cavage")

    assert outcome_of(result(202)) is Outcome.DELIVERED
    assert outcome_of(result(410, "HTTP 410")) is Outcome.GONE
    assert outcome_of(result(None, "ConnectError: refused")) is Outcome.RETRY
    assert outcome_of(result(None, "forbidden target: blocked")) is Outcome.GIVE_UP
