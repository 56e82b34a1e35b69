"""Benchmark 2, inbox flood: 60 s of signed Create(Note) replies from 500 actors at concurrency
50, 5% duplicates; each actor's key fetched once from the fake peers."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from bench.common import Report, cpu_note, latency_summary
from bench.loadgen import Generator
from bench.peers import Peers
from bench.profile import profile_note
from bench.server import BenchServer, free_port
from bench.signing import actor_docs_file, make_actors, make_keys, presign
from bench.window import timed_window

ACTORS = 500
ACTOR_HOSTS = 50
CONCURRENCY = 50
DUP_SHARE = 0.05
MAX_POOL = 300_000


def stream_spec(name: str, files: list[str], *, duration: float, concurrency: int) -> dict[str, Any]:
    return {"name": name, "mode": "closed", "concurrency": concurrency, "duration": duration,
            "requests": files, "cycle": False, "keep_body": 256,
            "tags": ["duplicate", "accepted"]}


async def setup_actors(peers: Peers, ports: list[int], workdir: str) -> tuple[list[str], list[dict[str, Any]]]:
    keys = await asyncio.to_thread(make_keys)
    actors = make_actors(ACTORS, ports, keys)
    await peers.command(cmd="actors", file=actor_docs_file(actors, f"{workdir}/actors.json"))
    return keys, actors


async def run(opts: argparse.Namespace, limits: dict[str, float]) -> Report:
    duration = opts.duration or (10.0 if opts.quick else 60.0)
    report = Report("inbox", f"Inbox flood: {duration:.0f} s of signed Create(Note) replies, "
                             f"{ACTORS} actors, concurrency {CONCURRENCY}, {DUP_SHARE:.0%} duplicates",
                    limits=dict(limits))
    ports = Peers.port_range(ACTOR_HOSTS, base=opts.base_port + 5000)
    workdir = opts.workdir
    async with Peers(ports, free_port()) as peers, BenchServer(
            "inbox", workers=opts.workers, web_processes=opts.web_processes) as server:
        keys, actors = await setup_actors(peers, ports, workdir)
        posts = [await server.create_post(f"Thread starter {i}", f"Heated thread {i}") for i in range(3)]
        targets = [p["ap_id"] for p in posts]
        blog_actor = f"{server.base}/users/blog"
        common: dict[str, Any] = {"keys": keys, "actors": actors, "host": server.domain, "path": "/inbox",
                                  "targets": targets, "blog_actor": blog_actor, "dup_share": DUP_SHARE,
                                  "workdir": workdir}

        # calibration: a short burst sizes the pre-signed pool, and makes the blog fetch every
        # actor's key once (the timed window then measures the steady state)
        warm_n = 2_000 if opts.quick else 6_000
        files = await asyncio.to_thread(presign, count=warm_n, name="warm", **common)
        warm, _, _ = await timed_window(
            server, Generator({"host": "127.0.0.1", "port": server.port, "streams": [
                stream_spec("warm", files, duration=5.0, concurrency=CONCURRENCY)]}, workdir, "warm"),
            label="inbox-warm", profile=False, profile_seconds=0)
        w = warm[0]
        warm_rate = w["statuses"].get("202", 0) / max(0.5, (w["last"] or 0) - (w["first"] or 0))
        pool = int(min(MAX_POOL, max(10_000, warm_rate * duration * 3.0)))
        t_sign = time.time()
        files = await asyncio.to_thread(presign, count=pool, name="flood", **common)
        sign_s = time.time() - t_sign
        await asyncio.sleep(2)  # let the processor drain the warm-up

        before = int(await server.fetchval("SELECT count(*) FROM inbox_activities"))
        comments_before = int(await server.fetchval("SELECT count(*) FROM comments"))
        t0 = time.time()
        streams, cpu, profiles = await timed_window(
            server, Generator({"host": "127.0.0.1", "port": server.port, "streams": [
                stream_spec("flood", files, duration=duration, concurrency=CONCURRENCY)]},
                workdir, "flood"),
            label="inbox", profile=opts.profile, profile_seconds=min(duration, 30),
            extra={"peers": [peers.pid]})
        s = streams[0]
        first, last = s["first"] or t0, s["last"] or time.time()
        window = max(1e-3, last - first)
        stored_in_window = int(await server.fetchval(
            "SELECT count(*) FROM inbox_activities WHERE received_at >= to_timestamp($1)"
            " AND received_at <= to_timestamp($2)", first - 0.5, last + 0.5))
        after = int(await server.fetchval("SELECT count(*) FROM inbox_activities"))
        comments_in_window = int(await server.fetchval(
            "SELECT count(*) FROM comments WHERE received_at >= to_timestamp($1)"
            " AND received_at <= to_timestamp($2)", first, last))
        backlog_end = int(await server.fetchval(
            "SELECT count(*) FROM inbox_activities WHERE state = 'received'"))
        # the processor: how long until everything stored is processed (limit 120 s)
        drain_start = time.time()
        while time.time() - drain_start < 120:
            left = int(await server.fetchval(
                "SELECT count(*) FROM inbox_activities WHERE state = 'received'"))
            if left == 0:
                break
            await asyncio.sleep(1)
        drain_s = time.time() - drain_start
        left = int(await server.fetchval("SELECT count(*) FROM inbox_activities WHERE state = 'received'"))
        comments_after = int(await server.fetchval("SELECT count(*) FROM comments"))
        dup_rows = int(await server.fetchval(
            "SELECT count(*) - count(DISTINCT activity_id) FROM inbox_activities"))
        dup_comments = int(await server.fetchval("SELECT count(*) - count(DISTINCT ap_id) FROM comments"))
        states = {r["state"]: int(r["n"]) for r in await server.fetch(
            "SELECT state, count(*) AS n FROM comments GROUP BY state")}
        inbox_states = {r["state"]: int(r["n"]) for r in await server.fetch(
            "SELECT state, count(*) AS n FROM inbox_activities GROUP BY state")}
        stats = await peers.command(cmd="stats")
        gets = stats["gets"]

    lat = latency_summary(s["latencies"])
    accepted = s["tags"].get("accepted", 0)
    duplicates_answered = s["tags"].get("duplicate", 0)
    rate = stored_in_window / window
    report.details.update({
        "window_s": window, "sent": s["sent"], "statuses": s["statuses"], "tags": s["tags"],
        "errors": s["errors"], "exhausted_at": s["exhausted_at"], "pool": pool,
        "presign_s": sign_s, "warm_rate": warm_rate, "stored_in_window": stored_in_window,
        "stored_total_delta": after - before, "comments_in_window": comments_in_window,
        "comments_delta": comments_after - comments_before, "backlog_at_end": backlog_end,
        "drain_s": drain_s, "left_unprocessed": left, "comment_states": states,
        "inbox_states": inbox_states, "latency_ms": lat, "cpu": cpu, "profiles": profiles,
        "key_fetches": {"paths": len(gets), "max_per_path": max(gets.values(), default=0),
                        "total": sum(gets.values())},
    })
    report.add("accepted and durably stored (inbox_activities rows)", rate, "/s", "≥ 4,000",
               rate >= 4000)
    report.add("202 latency p50", lat["p50"], "ms")
    report.add("202 latency p99", lat["p99"], "ms", "≤ 50 ms", (lat["p99"] or 1e9) <= 50)
    report.add("answers: 202 accepted / 202 duplicate / other",
               f"{accepted:,} / {duplicates_answered:,} / "
               f"{sum(v for k, v in s['statuses'].items() if k != '202'):,}", "")
    report.add("duplicates stored (inbox rows / comments)", f"{dup_rows} / {dup_comments}", "", "0",
               dup_rows == 0 and dup_comments == 0)
    report.add("accepted but not stored", accepted - stored_in_window, "", "0",
               accepted - stored_in_window <= 0)
    report.add("processed into comments during the window", comments_in_window / window, "/s")
    report.add("unprocessed backlog at the end / drained after", f"{backlog_end:,} / {drain_s:.0f}",
               "rows / s")
    report.add("key fetches: actors fetched / fetched more than once",
               f"{len(gets)} / {sum(1 for v in gets.values() if v > 1)}", "", "500 / 0",
               len(gets) == ACTORS and max(gets.values(), default=0) == 1)
    report.note(f"window {window:.1f} s, {s['sent']:,} requests from a pre-signed pool of {pool:,} "
                f"(signed in {sign_s:.0f} s before the window; pool sized from a 5 s warm-up at "
                f"{warm_rate:.0f}/s that also made the blog fetch every key)"
                + (" — the pool ran out before the window ended" if s["exhausted_at"] else ""))
    report.note(f"comment states after: {states}; inbox states: {inbox_states}")
    report.note(cpu_note(cpu))
    for name, summary in profiles.items():
        report.note(profile_note(name, summary))
    report.note("generator: one process, raw asyncio HTTP/1.1 keep-alive, 50 connections; "
                "all processes share the machine's 2 cores")
    return report
