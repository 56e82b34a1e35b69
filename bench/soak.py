"""Benchmark 4, soak: 3 minutes of one post per second to 1,000 followers, 500 signed inbox
POSTs per second and 200 page views per second, all at once."""

from __future__ import annotations

import argparse
import asyncio
import pickle
import time
from typing import Any

from bench.common import CpuMeter, Report, cpu_note, latency_summary, percentile
from bench.fixtures import add_commenters, add_comments, add_followers
from bench.inbox import ACTOR_HOSTS, setup_actors
from bench.loadgen import Generator, build_request
from bench.peers import Peers
from bench.profile import Profiler, profile_note
from bench.server import BenchServer, free_port
from bench.signing import presign
from bench.thread import BROWSER
from bench.window import groups

FOLLOWERS = 1_000
FOLLOWER_HOSTS = 250
INBOX_RATE = 500
PAGE_RATE = 200

LAG_SQL = (
    "SELECT coalesce(extract(epoch FROM now() - min(next_attempt_at)), 0) FROM deliveries"
    " WHERE state = 'queued' AND next_attempt_at <= now()"
    " AND (locked_until IS NULL OR locked_until < now())")
INBOX_LAG_SQL = (
    "SELECT count(*) AS n, coalesce(extract(epoch FROM now() - min(received_at)), 0) AS age"
    " FROM inbox_activities WHERE state = 'received'")


async def run(opts: argparse.Namespace, limits: dict[str, float]) -> Report:
    duration = opts.duration or (20.0 if opts.quick else 180.0)
    report = Report("soak", f"Soak: {duration:.0f} s of 1 post/s to {FOLLOWERS:,} followers "
                            f"({FOLLOWER_HOSTS} hosts), {INBOX_RATE} signed inbox POSTs/s, "
                            f"{PAGE_RATE} page views/s", limits=dict(limits))
    follower_ports = Peers.port_range(FOLLOWER_HOSTS, base=opts.base_port + 7000)
    actor_ports = Peers.port_range(ACTOR_HOSTS, base=opts.base_port + 5000)
    workdir = opts.workdir
    async with Peers(follower_ports + actor_ports, free_port()) as peers, BenchServer(
            "soak", workers=opts.workers, delivery_concurrency=opts.concurrency,
            retry_scale=0.01, web_processes=opts.web_processes) as server:
        await peers.command(cmd="config", delay=0.05, p5xx=0.01, ptimeout=0.01)
        await add_followers(server, follower_ports, FOLLOWERS)
        keys, actors = await setup_actors(peers, actor_ports, workdir)
        commenters = await add_commenters(server, 1_000, port=9)
        thread200 = await server.create_post("The popular post.", "Thread of 200")
        thread50 = await server.create_post("Another post.", "Thread of 50")
        await add_comments(server, [(int(thread200["id"]), 200, "approved"),
                                    (int(thread50["id"]), 50, "approved"),
                                    (int(thread200["id"]), 2_000, "pending"),
                                    (int(thread50["id"]), 8_000, "spam")], commenters)
        # the two posts above went to the followers: let that settle before the window
        await asyncio.sleep(3)
        common: dict[str, Any] = {
            "keys": keys, "actors": actors, "host": server.domain, "path": "/inbox",
            "targets": [thread200["ap_id"], thread50["ap_id"]],
            "blog_actor": f"{server.base}/users/blog", "dup_share": 0.05, "workdir": workdir}
        # warm-up: every actor's key fetched once, before the window
        warm_files = await asyncio.to_thread(presign, count=1_500, name="soak-warm", **common)
        warm = Generator({"host": "127.0.0.1", "port": server.port, "streams": [{
            "name": "warm", "mode": "closed", "concurrency": 50, "duration": 10,
            "requests": warm_files, "cycle": False, "keep_body": 64}]}, workdir, "soak-warm")
        await warm.start()
        warm.go()
        await warm.wait()
        inbox_files = await asyncio.to_thread(presign, count=int(INBOX_RATE * duration) + 1_000,
                                              name="soak", **common)
        pages = [f"/posts/{thread200['id']}"] * 6 + [f"/posts/{thread50['id']}"] * 2 + ["/"] * 2
        page_file = f"{workdir}/soak-pages.pkl"
        with open(page_file, "wb") as fh:
            pickle.dump([build_request("GET", server.domain, p, BROWSER) for p in pages], fh)
        while int(await server.fetchval("SELECT count(*) FROM inbox_activities WHERE state = 'received'")):
            await asyncio.sleep(1)

        gen = Generator({"host": "127.0.0.1", "port": server.port, "streams": [
            {"name": "inbox", "mode": "open", "rate": INBOX_RATE, "duration": duration,
             "requests": inbox_files, "cycle": False, "keep_body": 256, "conns": 64,
             "max_conns": 512, "tags": ["duplicate", "accepted"]},
            {"name": "pages", "mode": "open", "rate": PAGE_RATE, "duration": duration,
             "requests": [page_file], "cycle": True, "keep_body": 64, "conns": 32,
             "max_conns": 512},
        ]}, workdir, "soak")
        await gen.start()
        await peers.command(cmd="reset")
        meter = CpuMeter()
        extra = {"peers": [peers.pid]}
        meter.start(await groups(server, **extra))
        rss_start = server.rss_mb()
        profiler = None
        if opts.profile:
            webs = server.web_pids[1:] or [server.web_pid]
            profiler = Profiler("soak", {**{f"web{i}": p for i, p in enumerate(webs)}, **{
                f"worker{i}": p for i, p in enumerate(server.worker_pids)}}, seconds=min(60, duration))
            await profiler.start()
        t0 = time.time()
        gen.go()
        waiting = asyncio.create_task(gen.wait())
        posts: list[tuple[dict[str, Any], float, float]] = []
        lags: list[float] = []
        inbox_lags: list[tuple[int, float]] = []
        rss_max: dict[str, float] = {}
        tick = 0
        while time.time() - t0 < duration:
            tick += 1
            ts = time.time()
            post = await server.create_post(f"Soak post {tick}.", f"Soak {tick}")
            posts.append((post, ts, time.time()))
            lags.append(float(await server.fetchval(LAG_SQL)))
            row = (await server.fetch(INBOX_LAG_SQL))[0]
            inbox_lags.append((int(row["n"]), float(row["age"])))
            for k, v in server.rss_mb().items():
                rss_max[k] = max(rss_max.get(k, 0.0), v)
            await asyncio.sleep(max(0.0, t0 + tick - time.time()))
        streams = await waiting
        t_end = time.time()
        rss_end = server.rss_mb()
        cpu = meter.stop(await groups(server, **extra))
        elapsed = max(1e-3, t_end - t0)
        gen_pct = round(100 * streams[0]["cpu_seconds"] / elapsed, 1)
        cpu = {**{k: v for k, v in cpu.items() if k not in ("rest of machine", "machine total")},
               "generator": gen_pct, "rest of machine": round(max(0.0, cpu["rest of machine"] - gen_pct), 1),
               "machine total": cpu["machine total"]}
        profiles = await profiler.wait() if profiler is not None else {}
        # let the last posts go out, then look at what the peers saw
        post_ids = [p["ap_id"] for p, _, _ in posts]
        for _ in range(60):
            queued = int(await server.fetchval(
                "SELECT count(*) FROM deliveries d JOIN outbox_activities a ON a.id = d.activity"
                " WHERE d.state = 'queued' AND a.object_id = ANY($1::text[])", post_ids))
            if queued == 0:
                break
            await asyncio.sleep(1)
        stats = await peers.command(cmd="stats")
        after_lag = await server.fetch(INBOX_LAG_SQL)
        dup_inbox = int(await server.fetchval(
            "SELECT count(*) - count(DISTINCT activity_id) FROM inbox_activities"))

    inbox, page = streams[0], streams[1]
    start_of = {p["ap_id"]: ts for p, ts, _ in posts}
    clean_all: list[float] = []
    dup = 0
    for act in stats["acts"].values():
        if act["type"] != "Create" or act["obj"] not in start_of:
            continue
        times = [first - start_of[act["obj"]] for n, oks, first in act["hosts"].values()
                 if first is not None and n == 1]
        dup += sum(max(0, oks - 1) for _, oks, _ in act["hosts"].values())
        if times:
            clean_all.append(max(times))
    page_lat = latency_summary(page["latencies"])
    page_late = latency_summary(page["lateness"])
    inbox_lat = latency_summary(inbox["latencies"])
    inbox_window = max(1e-3, (inbox["last"] or 0) - (inbox["first"] or 0))
    page_window = max(1e-3, (page["last"] or 0) - (page["first"] or 0))
    enqueue = [1000 * (te - ts) for _, ts, te in posts]
    lag_max = max(lags, default=0.0)
    inbox_age_max = max((a for _, a in inbox_lags), default=0.0)
    inbox_n_max = max((n for n, _ in inbox_lags), default=0)
    rss_growth = {k: round(rss_end.get(k, 0) - rss_start.get(k, 0), 1) for k in rss_start}
    report.details.update({
        "posts": len(posts), "lags": lags, "inbox_lags": inbox_lags, "rss_start": rss_start,
        "rss_end": rss_end, "rss_max": rss_max, "page_latency_ms": page_lat,
        "page_latency_from_intended_ms": page_late, "inbox_latency_ms": inbox_lat,
        "inbox_statuses": inbox["statuses"], "page_statuses": page["statuses"],
        "inbox_sent": inbox["sent"], "page_sent": page["sent"], "cpu": cpu, "profiles": profiles,
        "post_all_clean_hosts_s": clean_all, "duplicates": dup, "enqueue_ms": enqueue,
        "inbox_after": [dict(r) for r in after_lag], "dup_inbox_rows": dup_inbox,
    })
    report.add("delivery queue lag, max (oldest due, unclaimed)", lag_max, "s", "≤ 5 s", lag_max <= 5)
    report.add("inbox processing backlog, max (oldest unprocessed / rows)",
               f"{inbox_age_max:.1f} / {inbox_n_max:,}", "s / rows")
    report.add("page p99 (send → answer)", page_lat["p99"], "ms", "≤ 100 ms",
               (page_lat["p99"] or 1e9) <= 100)
    report.add("page p99 (intended send → answer)", page_late["p99"], "ms")
    report.add("pages served", page_lat["n"] / page_window, "/s", f"{PAGE_RATE}")
    report.add("inbox 202s", inbox_lat["n"] / inbox_window, "/s", f"{INBOX_RATE}")
    report.add("inbox 202 p50 / p99", f"{inbox_lat['p50'] or 0:.0f} / {inbox_lat['p99'] or 0:.0f}", "ms")
    report.add("post enqueue p50 / max", f"{percentile(enqueue, 50) or 0:.0f} / {max(enqueue, default=0):.0f}",
               "ms")
    report.add("post reached all (non-faulted) hosts, p50 / max",
               f"{percentile(clean_all, 50) or 0:.2f} / {max(clean_all, default=0):.2f}", "s")
    report.add("duplicate deliveries / duplicate inbox rows", f"{dup} / {dup_inbox}", "", "0",
               dup == 0 and dup_inbox == 0)
    for name in rss_start:
        report.add(f"RSS {name}: start → end (max)",
                   f"{rss_start[name]:.0f} → {rss_end.get(name, 0):.0f} ({rss_max.get(name, 0):.0f})",
                   "MB", "flat", abs(rss_growth[name]) < max(20.0, 0.2 * rss_start[name]))
    report.note(f"{len(posts)} posts; inbox answers {inbox['statuses']}; pages {page['statuses']}; "
                f"peers: 50 ms delay, 1% 5xx, 1% timeouts")
    report.note(cpu_note(cpu))
    for name, summary in profiles.items():
        report.note(profile_note(name, summary))
    return report
