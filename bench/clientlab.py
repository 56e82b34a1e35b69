"""Outside the product: how fast can one Python process sign and POST deliveries to thousands of
hosts, with httpx used in different ways? (No database: this is the HTTP client's ceiling.)

    python -m bench.clientlab [--hosts 2500] [--rounds 8] [--concurrency 512]

Each variant runs in its own process against the fake peers (0 ms delay, no faults) and sends
rounds × hosts signed POSTs (draft-cavage, fedblog's own signer with a loaded RSA-2048 key).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

from bench.common import Report, machine_limits, raise_nofile, save_results
from bench.peers import Peers
from bench.server import free_port

VARIANTS = {
    "sign-only": "sign every request, send nothing (the RSA + header cost alone)",
    "one-client": "one httpx.AsyncClient, limits as fedblog's runtime.http_client (keep-alive 100)",
    "one-client-keepalive": "one httpx.AsyncClient, keep-alive for every host",
    "per-host": "one small httpx.AsyncClient per host (max 4 connections each)",
    "per-host-shared-tls": "per-host clients sharing one SSLContext (verify=ctx)",
    "per-host-shared-tls-uvloop": "per-host clients sharing one SSLContext, on uvloop",
    "per-host-tuned-uvloop": "per-host httpx clients, shared SSLContext, keep-alive 16, signed by hand "
                             "(no httpx.Auth flow), prebuilt headers, on uvloop: httpx at its leanest",
    "raw-uvloop": "raw asyncio HTTP/1.1 (no httpx), per-host keep-alive, on uvloop",
    "rawpost-uvloop": "fedblog's delivery transport (federation/rawpost.py: checked addresses, "
                      "llhttp parsing, bounded reads), on uvloop",
}


async def lab(variant: str, ports: list[int], rounds: int, concurrency: int) -> dict[str, Any]:
    import httpx

    from fedblog.federation.client import HttpSignatureAuth
    from fedblog.federation.keys import generate_rsa_pem, load_signing_key
    from fedblog.federation.signatures import HttpRequestParts, sign_request_cavage

    private_pem, public_pem = generate_rsa_pem()
    key = load_signing_key("http://127.0.0.1:1/users/blog#main-key", private_pem, public_pem)
    body = json.dumps({"@context": "https://www.w3.org/ns/activitystreams", "type": "Create",
                       "id": "x", "object": {"id": "http://127.0.0.1:1/posts/1", "type": "Note",
                                             "content": "<p>" + "word " * 120 + "</p>"}}).encode()
    jobs = [(r, p) for r in range(rounds) for p in ports]
    sem = asyncio.Semaphore(concurrency)
    ok = 0
    clients: dict[int, Any] = {}
    import ssl

    import certifi
    shared_tls = ssl.create_default_context(cafile=certifi.where())
    raw: dict[int, list[Any]] = {}

    def client_for(port: int) -> httpx.AsyncClient:
        if variant.startswith("one-client"):
            if 0 not in clients:
                keep = 100 if variant == "one-client" else len(ports) + 16
                clients[0] = httpx.AsyncClient(limits=httpx.Limits(
                    max_connections=max(100, concurrency * 2), max_keepalive_connections=keep,
                    keepalive_expiry=30), trust_env=False, timeout=60)
            return clients[0]
        if port not in clients:
            extra = {"verify": shared_tls} if "shared-tls" in variant or "tuned" in variant else {}
            size = 16 if "tuned" in variant else 4
            clients[port] = httpx.AsyncClient(limits=httpx.Limits(
                max_connections=size, max_keepalive_connections=size, keepalive_expiry=30),
                trust_env=False, timeout=60, **extra)
        return clients[port]

    from fedblog.federation.rawpost import RawPoster
    poster = RawPoster(allow_private=True, ssl_context=shared_tls)

    async def raw_post(port: int, data: bytes) -> int:
        pool = raw.setdefault(port, [])
        if pool:
            reader, writer = pool.pop()
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if length:
            await reader.readexactly(length)
        pool.append((reader, writer))
        return status

    async def one(round_: int, port: int) -> None:
        nonlocal ok
        async with sem:
            url = f"http://127.0.0.1:{port}/inbox"
            if variant == "sign-only":
                sign_request_cavage(HttpRequestParts("POST", url, (("Content-Type", "application/activity+json"),), body),
                                    key_id=key.key_id, private_key=key.private_key, now=time.time())
                ok += 1
                await asyncio.sleep(0)
                return
            if variant == "raw-uvloop":
                signed = sign_request_cavage(HttpRequestParts(
                    "POST", url, (("Content-Type", "application/activity+json"),), body),
                    key_id=key.key_id, private_key=key.private_key, now=time.time())
                head = "".join(f"{k}: {v}\r\n" for k, v in signed.headers)
                data = (f"POST /inbox HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n"
                        ).encode() + body
                if await raw_post(port, data) < 300:
                    ok += 1
                return
            if variant == "rawpost-uvloop":
                target = poster.target(url)
                signed = sign_request_cavage(HttpRequestParts(
                    "POST", target.url, (("Content-Type", "application/activity+json"),
                                         ("User-Agent", "fedblog")), body),
                    key_id=key.key_id, private_key=key.private_key, now=time.time())
                answer = await poster.post(target, signed.headers, body, connect_timeout=5)
                if 200 <= answer.status < 300:
                    ok += 1
                return
            if "tuned" in variant:
                signed = sign_request_cavage(HttpRequestParts(
                    "POST", url, (("Content-Type", "application/activity+json"),
                                  ("User-Agent", "fedblog")), body),
                    key_id=key.key_id, private_key=key.private_key, now=time.time())
                response = await client_for(port).post(url, content=body, headers=signed.headers)
                if response.is_success:
                    ok += 1
                return
            response = await client_for(port).post(
                url, content=body, headers={"Content-Type": "application/activity+json"},
                auth=HttpSignatureAuth(key, "cavage"))
            if response.is_success:
                ok += 1

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    await asyncio.gather(*(one(r, p) for r, p in jobs))
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    for c in clients.values():
        await c.aclose()
    await poster.aclose()
    return {"variant": variant, "requests": len(jobs), "ok": ok, "seconds": elapsed,
            "per_s": ok / elapsed, "cpu_ms_per_request": 1000 * cpu / max(1, len(jobs))}


def child(args: argparse.Namespace) -> None:
    raise_nofile()
    ports = Peers.port_range(args.hosts, base=args.base_port)
    coro = lab(args.variant, ports, args.rounds, args.concurrency)
    if args.variant.endswith("uvloop"):
        import uvloop
        result = uvloop.run(coro)
    else:
        result = asyncio.run(coro)
    print(json.dumps(result))


async def parent(args: argparse.Namespace) -> Report:
    limits = machine_limits()
    report = Report("clientlab", f"HTTP client ceiling: {args.rounds} rounds × {args.hosts:,} hosts, "
                                 f"concurrency {args.concurrency}, signed POSTs, no database",
                    limits=limits)
    ports = Peers.port_range(args.hosts, base=args.base_port)
    async with Peers(ports, free_port()) as peers:
        for variant, what in VARIANTS.items():
            if args.only and variant not in args.only.split(","):
                continue
            await peers.command(cmd="reset")
            try:
                out = subprocess.run(
                    [sys.executable, "-m", "bench.clientlab", "--child", "--variant", variant,
                     "--hosts", str(args.hosts), "--rounds", str(args.rounds),
                     "--concurrency", str(args.concurrency), "--base-port", str(args.base_port)],
                    capture_output=True, text=True, env=os.environ, timeout=args.variant_timeout,
                    check=False)
            except subprocess.TimeoutExpired:
                report.add(f"{variant}: {what}", f"> {args.variant_timeout:.0f} s", "(timed out)")
                continue
            if out.returncode != 0:
                report.note(f"{variant} failed: {out.stderr[-400:]}")
                continue
            res = json.loads(out.stdout.strip().splitlines()[-1])
            stats = await peers.command(cmd="stats")
            res["peer_connections"] = stats["connections"]
            report.details[variant] = res
            report.add(f"{variant}: {what}", res["per_s"], "/s")
            report.add(f"{variant}: CPU per request; connections opened",
                       f"{res['cpu_ms_per_request']:.2f} ms; {stats['connections']:,}", "")
            print(f"{variant}: {res['per_s']:.0f}/s, {res['cpu_ms_per_request']:.2f} ms CPU each",
                  file=sys.stderr, flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--variant", default="one-client")
    parser.add_argument("--hosts", type=int, default=2500)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=512)
    parser.add_argument("--base-port", type=int, default=20000)
    parser.add_argument("--variant-timeout", type=float, default=300)
    parser.add_argument("--only", default="", help="comma-separated variants")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    raise_nofile()
    report = asyncio.run(parent(args))
    print(report.table())
    print(f"results: {save_results([report], {'argv': sys.argv[1:]})}")


if __name__ == "__main__":
    main()
