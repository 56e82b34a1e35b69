"""Per-host delivery memory: the signature scheme that worked and the circuit breaker."""

from __future__ import annotations

from fedblog.storage.db import Connection


async def signature_scheme(conn: Connection, host: str) -> str:
    value = await conn.fetchval("SELECT signature_scheme FROM hosts WHERE host = $1", host)
    return str(value) if value else "cavage"


async def schemes(conn: Connection, hosts: list[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT host, signature_scheme FROM hosts WHERE host = ANY($1::text[])", hosts
    )
    return {r["host"]: r["signature_scheme"] for r in rows}


async def record_success(conn: Connection, host: str, scheme: str) -> None:
    await conn.execute(
        "INSERT INTO hosts (host, signature_scheme, consecutive_failures, last_success_at)"
        " VALUES ($1, $2, 0, now()) ON CONFLICT (host) DO UPDATE SET"
        " signature_scheme = EXCLUDED.signature_scheme, consecutive_failures = 0,"
        " paused_until = NULL, last_success_at = now()",
        host, scheme,
    )


async def record_failure(conn: Connection, host: str) -> int:
    """Count a failure; returns the host's consecutive failures including this one."""
    return int(await conn.fetchval(
        "INSERT INTO hosts (host, consecutive_failures, last_failure_at) VALUES ($1, 1, now())"
        " ON CONFLICT (host) DO UPDATE SET consecutive_failures = hosts.consecutive_failures + 1,"
        " last_failure_at = now() RETURNING consecutive_failures",
        host,
    ))


async def pause(conn: Connection, host: str, seconds: float) -> None:
    await conn.execute(
        "UPDATE hosts SET paused_until = now() + make_interval(secs => $2) WHERE host = $1",
        host, seconds,
    )
