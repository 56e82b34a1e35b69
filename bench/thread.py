"""Benchmark 3, thread page: post pages with 50, 200 and 1,000 approved threaded comments among
100,000 other comments, concurrency 50, with and without a conditional request."""

from __future__ import annotations

import argparse
import asyncio
import pickle
import statistics
import time
from email.utils import formatdate
from typing import Any

from bench.common import Report, cpu_note, latency_summary
from bench.fixtures import add_commenters, add_comments, add_posts
from bench.loadgen import Generator, build_request
from bench.profile import profile_note
from bench.server import BenchServer
from bench.window import timed_window

SIZES = (50, 200, 1000)
TARGETS = {50: None, 200: 500, 1000: 100}   # pages/s the issue asks for (from one process)
CONCURRENCY = 50
OTHER_COMMENTS = 100_000
BROWSER = [("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
           ("Accept-Encoding", "identity"), ("User-Agent", "fedblog-bench")]


async def build_fixture(server: BenchServer, other: int) -> dict[int, int]:
    """Target posts (through the API) with approved threaded comments, filler posts, and `other`
    comments in every state around them."""
    commenters = await add_commenters(server, 2_000, port=9)
    targets = {}
    for size in SIZES:
        post = await server.create_post(f"A post with {size} comments.", f"Thread of {size}")
        targets[size] = int(post["id"])
    fillers = await add_posts(server, 500)
    plan: list[tuple[int, int, str]] = [(targets[size], size, "approved") for size in SIZES]
    # 10% of the others sit on the target posts in states the page must skip
    held = other // 10
    for i, state in enumerate(("pending", "spam", "rejected", "removed", "deleted")):
        for size in SIZES:
            plan.append((targets[size], held // 15, state))
    per_filler = (other - held) // len(fillers)
    for i, post_id in enumerate(fillers):
        plan.append((post_id, per_filler, "approved" if i % 4 else "pending"))
    await add_comments(server, plan, commenters)
    return targets


async def cold_renders(server: BenchServer, post_id: int, times: int = 7) -> list[float]:
    """One page at a time with the web processes' page caches emptied first (NOTIFY '*', as a
    settings change sends): what a page costs when it is not in memory."""
    assert server.api is not None
    found = []
    for _ in range(times):
        await server.fetchval("SELECT pg_notify('fedblog_pages', '*')")
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        response = await server.api.get(f"/posts/{post_id}", headers=dict(BROWSER))
        response.raise_for_status()
        found.append(round((time.perf_counter() - started) * 1000, 1))
    return found


def requests_for(server: BenchServer, post_id: int, conditional: dict[str, str], workdir: str) -> str:
    headers = [*BROWSER, *conditional.items()]
    data = build_request("GET", server.domain, f"/posts/{post_id}", headers)
    path = f"{workdir}/get-{post_id}-{len(conditional)}.pkl"
    with open(path, "wb") as fh:
        pickle.dump([data], fh)
    return path


async def run(opts: argparse.Namespace, limits: dict[str, float]) -> Report:
    duration = opts.duration or (4.0 if opts.quick else 20.0)
    other = 20_000 if opts.quick else OTHER_COMMENTS
    report = Report("thread", f"Thread page: {', '.join(map(str, SIZES))} approved threaded comments "
                              f"among {other:,} others, concurrency {CONCURRENCY}, {duration:.0f} s each",
                    limits=dict(limits))
    workdir = opts.workdir
    async with BenchServer("thread", workers=0, web_processes=opts.web_processes) as server:
        targets = await build_fixture(server, other)
        report.details["comments_total"] = int(await server.fetchval("SELECT count(*) FROM comments"))
        assert server.api is not None
        for size in SIZES:
            post_id = targets[size]
            first = await server.api.get(f"/posts/{post_id}", headers=dict(BROWSER))
            first.raise_for_status()
            etag = first.headers.get("etag")
            modified = first.headers.get("last-modified")
            shown = first.text.count('<li id="comment-')
            cold = await cold_renders(server, post_id)
            cases: list[tuple[str, dict[str, str]]] = [("plain", {})]
            conditional: dict[str, str] = {}
            if etag:
                conditional["If-None-Match"] = etag
            if modified:
                conditional["If-Modified-Since"] = modified
            if not conditional:  # what a browser or cache would send; the page may ignore it
                conditional = {"If-None-Match": '"bench-unknown"',
                               "If-Modified-Since": formatdate(usegmt=True)}
            cases.append(("conditional", conditional))
            for case, headers in cases:
                spec = {"host": "127.0.0.1", "port": server.port, "streams": [{
                    "name": f"{size}-{case}", "mode": "closed", "concurrency": CONCURRENCY,
                    "duration": duration, "requests": requests_for(server, post_id, headers, workdir),
                    "cycle": True, "keep_body": 64}]}
                streams, cpu, profiles = await timed_window(
                    server, Generator(spec, workdir, f"{size}-{case}"), label=f"thread-{size}-{case}",
                    profile=opts.profile and case == "plain", profile_seconds=min(duration, 15))
                s = streams[0]
                window = max(1e-3, (s["last"] or 0) - (s["first"] or 0))
                ok = sum(v for k, v in s["statuses"].items() if k in ("200", "304"))
                rate = ok / window
                lat = latency_summary(s["latencies"])
                details: dict[str, Any] = {"statuses": s["statuses"], "latency_ms": lat,
                                           "cpu": cpu, "profiles": profiles, "bytes": len(first.content),
                                           "comments_shown": shown, "etag": etag,
                                           "last_modified": modified, "sent_headers": headers}
                report.details[f"{size}-{case}"] = details
                if case == "plain":
                    target = TARGETS[size]
                    report.add(f"[{size} comments] pages/s", rate, "/s",
                               f"≥ {target}" if target else "", rate >= target if target else None)
                    report.add(f"[{size} comments] p50 / p99",
                               f"{lat['p50'] or 0:.0f} / {lat['p99'] or 0:.0f}", "ms")
                    report.add(f"[{size} comments] uncached page, median of {len(cold)}",
                               statistics.median(cold), "ms")
                    details["uncached_ms"] = cold
                    report.note(f"[{size}] page {len(first.content):,} bytes, {shown} comments shown; "
                                f"ETag {etag or 'none'}, Last-Modified {modified or 'none'}; "
                                + cpu_note(cpu))
                    for name, summary in profiles.items():
                        if name.startswith("web"):
                            report.note(f"[{size}] " + profile_note(name, summary))
                else:
                    n304 = s["statuses"].get("304", 0)
                    report.add(f"[{size} comments] conditional: answers/s (304 share)",
                               f"{rate:,.0f} ({n304 / max(1, ok):.0%})", "/s", "≥ 5,000 304s",
                               n304 / window >= 5000)
                    report.add(f"[{size} comments] conditional p99", lat["p99"], "ms")
    extra = f" --processes {opts.web_processes}" if opts.web_processes > 1 else ""
    report.note(f"{opts.web_processes} web process(es) (`fedblog serve --no-workers{extra}`); "
                "the generator and PostgreSQL share the 2 cores with it")
    return report
