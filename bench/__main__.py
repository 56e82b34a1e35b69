"""python -m bench [fanout|inbox|thread|soak ...] [--quick] [--profile] ...

With no benchmark named, all four run, one after the other. Each prints its table; all of them
go to bench/results/<time>-<names>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench import fanout, inbox, soak, thread
from bench.common import ROOT, Report, machine_info, machine_limits, raise_nofile, save_results

BENCHMARKS = {"fanout": fanout.run, "inbox": inbox.run, "thread": thread.run, "soak": soak.run}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="BENCHMARK",
                        help="fanout, inbox, thread, soak (default: all)")
    parser.add_argument("--quick", action="store_true", help="a short smoke version of each")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the server processes during the timed window")
    parser.add_argument("--workers", type=int, default=1,
                        help="`fedblog worker` processes beside `fedblog serve --no-workers`")
    parser.add_argument("--web-processes", type=int, default=1,
                        help="`fedblog serve --processes N` (web processes sharing the port)")
    parser.add_argument("--concurrency", type=int, default=2048,
                        help="FEDBLOG_DELIVERY_CONCURRENCY for the workers")
    parser.add_argument("--base-port", type=int, default=20000,
                        help="first loopback port of the fake peers (one port = one host)")
    parser.add_argument("--posts", type=int, default=None, help="fan-out: posts per scenario")
    parser.add_argument("--delays", default="0,50", help="fan-out: remote delays in ms")
    parser.add_argument("--duration", type=float, default=None,
                        help="override the timed window (s) of inbox, thread and soak")
    opts = parser.parse_args(argv)
    unknown = [n for n in opts.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    return opts


def product_state() -> dict[str, Any]:
    """Which code was measured: the commit, and files changed since (others work meanwhile)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"commit": git("rev-parse", "HEAD"),
            "changed": git("status", "--short", "--", "fedblog", "sql").splitlines()}


async def main_async(opts: argparse.Namespace) -> list[Report]:
    names = opts.names or list(BENCHMARKS)
    limits = machine_limits()
    print(f"machine: {machine_info()}; RSA-2048 on one core: "
          f"{limits['rsa2048_signs_per_s']:,} signs/s, {limits['rsa2048_verifies_per_s']:,} "
          f"verifies/s", flush=True)
    state = product_state()
    print(f"product: {state['commit'][:10]}, {len(state['changed'])} uncommitted file(s) under "
          f"fedblog/ and sql/", flush=True)
    reports = []
    for name in names:
        started = time.time()
        opts.workdir = tempfile.mkdtemp(prefix=f"fedblog-bench-{name}-")
        try:
            report = await BENCHMARKS[name](opts, limits)
        finally:  # pre-signed requests can take hundreds of MB
            shutil.rmtree(opts.workdir, ignore_errors=True)
        report.details["wall_s"] = round(time.time() - started, 1)
        reports.append(report)
        print(report.table(), flush=True)
        print(flush=True)
    return reports


def main(argv: list[str] | None = None) -> int:
    opts = parse(sys.argv[1:] if argv is None else argv)
    raise_nofile()
    reports = asyncio.run(main_async(opts))
    meta: dict[str, Any] = {"argv": sys.argv[1:], "machine": machine_info(),
                            "options": {k: v for k, v in vars(opts).items() if k != "workdir"},
                            "product": product_state()}
    path = save_results(reports, meta)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
