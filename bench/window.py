"""One timed window: a generator process started, CPU metered, the server optionally profiled."""

from __future__ import annotations

from typing import Any

from bench.common import CpuMeter
from bench.loadgen import Generator
from bench.profile import Profiler
from bench.server import BenchServer, postgres_pids


async def groups(server: BenchServer, **extra: list[int]) -> dict[str, list[int]]:
    return {"web": server.web_pids, "workers": server.worker_pids,
            "postgres": await postgres_pids(server), **extra}


async def timed_window(server: BenchServer, gen: Generator, *, label: str, profile: bool,
                       profile_seconds: float, extra: dict[str, list[int]] | None = None
                       ) -> tuple[list[dict[str, Any]], dict[str, float], dict[str, Any]]:
    """Start the generator, run its window; returns (stream results, CPU %, profiles)."""
    extra = dict(extra or {})
    await gen.start()
    meter = CpuMeter()
    meter.start(await groups(server, **extra))
    profiler = None
    if profile:
        webs = server.web_pids[1:] or [server.web_pid]   # with --processes: the uvicorn children
        pids = {**{f"web{i}" if len(webs) > 1 else "web": p for i, p in enumerate(webs)},
                **{f"worker{i}": p for i, p in enumerate(server.worker_pids)}}
        profiler = Profiler(label, pids, seconds=profile_seconds)
        await profiler.start()
    gen.go()
    streams = await gen.wait()
    cpu = meter.stop(await groups(server, **extra))
    # the generator has exited by now: it reports its own CPU time
    elapsed = max(1e-3, max(s["last"] or 0 for s in streams) - min(s["first"] or 1e12 for s in streams))
    gen_pct = round(100 * streams[0]["cpu_seconds"] / elapsed, 1)
    cpu = {**{k: v for k, v in cpu.items() if k not in ("rest of machine", "machine total")},
           "generator": gen_pct,
           "rest of machine": round(max(0.0, cpu["rest of machine"] - gen_pct), 1),
           "machine total": cpu["machine total"]}
    profiles = await profiler.wait() if profiler is not None else {}
    return streams, cpu, profiles
