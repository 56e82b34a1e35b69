"""The server under test: the real `fedblog serve --no-workers` + `fedblog worker` processes,
on a fresh PostgreSQL database created for the run and dropped after it."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.common import RESULTS_DIR, proc_rss_mb

ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def fedblog_command() -> list[str]:
    exe = Path(sys.executable).with_name("fedblog")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "fedblog.cli"]


class BenchServer:
    """One blog: its database, its web process and `workers` worker processes."""

    def __init__(self, name: str, *, workers: int = 1, delivery_concurrency: int = 256,
                 retry_scale: float = 0.01, serve_workers: bool = False,
                 log_level: str = "warning", extra_env: dict[str, str] | None = None,
                 web_processes: int = 1) -> None:
        self.name = name
        self.web_processes = web_processes
        self.workers = workers
        self.serve_workers = serve_workers
        self.port = free_port()
        self.domain = f"127.0.0.1:{self.port}"
        self.base = f"http://{self.domain}"
        self.token = secrets.token_urlsafe(24)
        self.db_name = f"fedblog_bench_{name}_{os.getpid()}_{secrets.token_hex(3)}"
        admin = ADMIN_DSN.rsplit("/", 1)[0]
        self.dsn = f"{admin}/{self.db_name}"
        self.log_level = log_level
        self.env = {
            **os.environ,
            "DATABASE_URL": self.dsn,
            "FEDBLOG_DOMAIN": self.domain,
            "FEDBLOG_SCHEME": "http",
            "FEDBLOG_ALLOW_PRIVATE_ADDRESSES": "1",
            "FEDBLOG_INBOX_HOST_RATE": "0",
            "FEDBLOG_INBOX_ACTOR_RATE": "0",
            "FEDBLOG_API_TOKEN": self.token,
            "FEDBLOG_DELIVERY_CONCURRENCY": str(delivery_concurrency),
            "FEDBLOG_RETRY_SCALE": str(retry_scale),
            **(extra_env or {}),
        }
        self.web: subprocess.Popen[bytes] | None = None
        self.worker_procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Any] = []
        self.pool: asyncpg.Pool | None = None
        self.api: httpx.AsyncClient | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def create_database(self) -> None:
        conn = await asyncpg.connect(ADMIN_DSN)
        try:
            await conn.execute(f'CREATE DATABASE "{self.db_name}"')
        finally:
            await conn.close()

    async def drop_database(self) -> None:
        conn = await asyncpg.connect(ADMIN_DSN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        finally:
            await conn.close()

    def _spawn(self, args: list[str], label: str) -> subprocess.Popen[bytes]:
        RESULTS_DIR.mkdir(exist_ok=True)
        log = open(RESULTS_DIR / f"{self.name}-{label}.log", "wb")  # noqa: SIM115
        self.logs.append(log)
        return subprocess.Popen([*fedblog_command(), "--log-level", self.log_level, *args],
                                env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    async def start(self) -> None:
        await self.create_database()
        serve = ["serve", "--port", str(self.port)]
        if not self.serve_workers:
            serve.append("--no-workers")
        if self.web_processes > 1:
            serve += ["--processes", str(self.web_processes)]
        self.web = self._spawn(serve, "web")
        self.api = httpx.AsyncClient(base_url=self.base, timeout=120,
                                     headers={"Authorization": f"Bearer {self.token}"})
        deadline = time.monotonic() + 60
        while True:
            if self.web.poll() is not None:
                raise RuntimeError(f"fedblog serve exited: see {RESULTS_DIR}/{self.name}-web.log")
            try:
                r = await self.api.get("/.well-known/nodeinfo")
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("fedblog serve did not answer within 60 s")
            await asyncio.sleep(0.2)
        for i in range(self.workers):  # after serve: migrations have run
            self.worker_procs.append(self._spawn(["worker"], f"worker{i}"))
        self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=4)
        await asyncio.sleep(1.0)  # workers connect and LISTEN
        for proc in self.worker_procs:
            if proc.poll() is not None:
                raise RuntimeError(f"fedblog worker exited: see {RESULTS_DIR}/{self.name}-worker*.log")

    async def stop(self) -> None:
        if self.api is not None:
            await self.api.aclose()
        if self.pool is not None:
            await self.pool.close()
        procs = [p for p in [self.web, *self.worker_procs] if p is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()
        try:
            await self.drop_database()
        except Exception as exc:  # noqa: BLE001 - report, do not hide the benchmark's result
            print(f"bench: could not drop {self.db_name}: {exc}", file=sys.stderr)

    async def __aenter__(self) -> BenchServer:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- what the benchmarks look at -----------------------------------------------------------

    @property
    def web_pid(self) -> int:
        assert self.web is not None
        return self.web.pid

    @property
    def web_pids(self) -> list[int]:
        """The web process and, with --processes, the uvicorn processes it started."""
        return [self.web_pid, *descendants(self.web_pid)]

    @property
    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.worker_procs]

    def rss_mb(self) -> dict[str, float]:
        out = {"web": round(sum(proc_rss_mb(p) for p in self.web_pids), 1)}
        for i, pid in enumerate(self.worker_pids):
            out[f"worker{i}"] = round(proc_rss_mb(pid), 1)
        return out

    async def create_post(self, markdown: str, title: str | None = None) -> dict[str, Any]:
        assert self.api is not None
        r = await self.api.post("/api/v1/posts", json={"markdown": markdown, "title": title,
                                                       "language": "en"})
        r.raise_for_status()
        return dict(r.json())

    async def fetchval(self, query: str, *args: Any) -> Any:
        assert self.pool is not None
        return await self.pool.fetchval(query, *args)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        assert self.pool is not None
        return list(await self.pool.fetch(query, *args))

    async def execute(self, query: str, *args: Any) -> str:
        assert self.pool is not None
        return str(await self.pool.execute(query, *args))

    async def copy(self, table: str, columns: list[str], records: list[tuple[Any, ...]]) -> None:
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            await conn.copy_records_to_table(table, records=records, columns=columns)


async def postgres_pids(server: BenchServer) -> list[int]:
    """The PostgreSQL backends serving this benchmark's database, plus the shared background
    processes (WAL writer, checkpointer…): what PostgreSQL spends on this run."""
    rows = await server.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " OR backend_type <> 'client backend'")
    return [int(r["pid"]) for r in rows]
