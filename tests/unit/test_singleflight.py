"""Concurrent callers of the same key share one run of the work."""

from __future__ import annotations

import asyncio

import pytest

from fedblog.singleflight import SingleFlight


async def test_callers_of_one_key_share_a_run_and_others_get_their_own() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    runs: list[str] = []
    release = asyncio.Event()

    async def work(key: str) -> int:
        runs.append(key)
        await release.wait()
        return len(key)

    calls = [asyncio.create_task(flight.run(k, lambda k=k: work(k))) for k in ("ab", "ab", "abc", "ab")]
    await asyncio.sleep(0)
    calls[1].cancel()  # a waiter giving up does not stop the run the others wait for
    release.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert runs == ["ab", "abc"]
    assert results[0] == 2 and results[2] == 3 and results[3] == 2
    assert isinstance(results[1], asyncio.CancelledError)
    assert await flight.run("ab", lambda: work("ab")) == 2 and runs == ["ab", "abc", "ab"]  # done: new run


async def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    started = asyncio.Event()

    async def failing() -> int:
        started.set()
        await asyncio.sleep(0.01)
        raise ConnectionError("down")

    first = asyncio.create_task(flight.run("k", failing))
    await started.wait()
    second = asyncio.create_task(flight.run("k", failing))
    for call in (first, second):
        with pytest.raises(ConnectionError):
            await call

    async def fine() -> int:
        return 7

    assert await flight.run("k", fine) == 7
