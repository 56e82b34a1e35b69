"""The `fedblog` command: serve | worker | migrate | token | status | backup | restore.

Every command checks what it needs before it starts (the settings, the listening port, the
database) and says what is wrong in one line on stderr with a non-zero exit: 2 for a setting,
1 for anything else."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import uvicorn

try:  # uvicorn[standard] brings uvloop on Linux: the worker runs on it too
    from uvloop import new_event_loop
except ImportError:  # pragma: no cover - other platforms
    from asyncio import new_event_loop  # type: ignore[assignment]

from fedblog import __version__
from fedblog.app import create_app
from fedblog.blog.operations import Operations, RecentError, Snapshot
from fedblog.config import ConfigError, Settings, redacted_url
from fedblog.runtime import database_url
from fedblog.services import open_services, run_queues, watch_blocks
from fedblog.storage import backup as backup_store
from fedblog.storage import operations as ops_store
from fedblog.storage import tokens as tokens_store
from fedblog.storage.db import Database, migrate
from fedblog.storage.embedded import EmbeddedPostgres
from fedblog.web.api.auth import create_token


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fedblog", description="A blog that lives in the fediverse.")
    parser.add_argument("--version", action="version", version=f"fedblog {__version__}")
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warning", "error"])
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web server (and queue workers)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--processes", type=int, default=1,
                       help="web processes sharing the port (each also runs queue workers "
                            "unless --no-workers); use about one per core")
    serve.add_argument("--no-workers", action="store_true",
                       help="do not process the inbox and delivery queues in this process")

    worker = commands.add_parser("worker", help="process the inbox and delivery queues only")
    worker.add_argument("--concurrency", type=int, default=None,
                        help="deliveries in flight at once (default FEDBLOG_DELIVERY_CONCURRENCY)")

    commands.add_parser("migrate", help="apply pending database migrations")

    token = commands.add_parser("token", help="API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="print a new API token")
    create.add_argument("--label", default="")
    revoke = token_commands.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", type=int)
    token_commands.add_parser("list", help="list tokens (ids, labels, dates; never the tokens)")

    commands.add_parser("status", help="queue depths, failing hosts and the last errors")
    backup = commands.add_parser("backup", help="write the whole database (with the blog's keys) "
                                                "to FILE (pg_dump's custom format)")
    backup.add_argument("file", type=Path)
    restore = commands.add_parser("restore", help="replace the database with a backup; stop "
                                                  "every fedblog process first")
    restore.add_argument("file", type=Path)
    return parser


class StartupError(Exception):
    """Something outside fedblog stops it from starting; the message is the one line to print."""


@dataclass(frozen=True)
class DatabaseInfo:
    settings: Settings       # with database_url set, the embedded one's when it runs
    description: str         # for the log: the URL without its password, or the embedded folder


@contextmanager
def _database(settings: Settings) -> Iterator[DatabaseInfo]:
    """DATABASE_URL, or the embedded PostgreSQL started here for the whole command."""
    if settings.database_url:
        yield DatabaseInfo(settings, redacted_url(settings.database_url))
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    try:
        url = embedded.start()
    except Exception as exc:
        raise StartupError(f"the embedded PostgreSQL in {embedded.pgdata} did not start: "
                           f"{type(exc).__name__}: {exc}".splitlines()[0]) from exc
    try:
        yield DatabaseInfo(replace(settings, database_url=url),
                           f"embedded PostgreSQL in {embedded.pgdata}")
    finally:
        embedded.stop()


async def _ready_database(info: DatabaseInfo, *, migrate_it: bool = True) -> str:
    """Reach the database (one line when it cannot be) and apply pending migrations."""
    dsn = info.settings.database_url
    assert dsn is not None
    try:
        await ops_store.check_connection(dsn)
    except ops_store.DatabaseUnavailable as exc:
        raise StartupError(f"cannot connect to the database {info.description}: {exc}") from exc
    if migrate_it:
        try:
            await migrate(dsn)
        except Exception as exc:
            raise StartupError(f"migrating the database failed: {type(exc).__name__}: {exc}"
                               .splitlines()[0]) from exc
    return dsn


def _check_port(host: str, port: int) -> None:
    """Fail before anything starts when the address is taken (uvicorn would find out only after
    the application started)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def startup_summary(settings: Settings, database: str, args: argparse.Namespace) -> str:
    if args.no_workers:
        workers = "none here (--no-workers; run `fedblog worker`)"
    elif args.processes > 1:
        workers = f"inbox and delivery in each of {args.processes} processes"
    else:
        workers = "inbox and delivery in this process"
    return (f"fedblog {__version__}: @{settings.username}@{settings.host} at {settings.base_url}/"
            f" | desk {settings.base_url}/desk/ | database {database} | workers: {workers}"
            f" | listening on {args.host}:{args.port}")


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def format_status(snapshot: Snapshot, errors: list[RecentError], readiness: str) -> str:
    inbox, d = snapshot.inbox, snapshot.deliveries
    lines = [
        f"database     {readiness}",
        f"inbox        {inbox.received} to process ({inbox.retrying} after an error), "
        f"{inbox.waiting} waiting for a parent"
        + (f"; oldest {_age(inbox.oldest_age)} old" if inbox.received else ""),
        f"deliveries   {d.queued} queued ({d.due} due, {d.retrying} retrying, "
        f"{d.paused} held by paused hosts)"
        + (f"; oldest {_age(d.oldest_age)} old, most overdue {_age(d.lag)}" if d.queued else ""),
        (f"             {d.by_state.get('delivered', 0)} delivered, "
         f"{d.by_state.get('failed', 0)} given up"),
        f"hosts        {snapshot.hosts_failing} failing, {snapshot.hosts_paused} paused",
    ]
    for host in snapshot.failing_hosts[:20]:
        paused = (f", paused until {host.paused_until:%Y-%m-%d %H:%M:%S} UTC"
                  if host.paused and host.paused_until else "")
        last = (f", last failure {host.last_failure_at:%Y-%m-%d %H:%M:%S}"
                if host.last_failure_at else "")
        lines.append(f"  {host.host}  {host.consecutive_failures} failures in a row{paused}{last}")
    lines.append("last errors" + ("" if errors else "  none"))
    for error in errors:
        at = f"{error.at:%Y-%m-%d %H:%M:%S}" if error.at else "-"
        lines.append(f"  {at}  {error.kind:<8}  {error.where}  {error.error}"[:300])
    return "\n".join(lines)


async def _status(settings: Settings) -> int:
    with _database(settings) as info:
        dsn = await _ready_database(info, migrate_it=False)
        db = await Database.connect(dsn, min_size=1, max_size=1)
        try:
            operations = Operations(db)
            readiness = await operations.readiness(timeout=10)
            state = ("ok" if readiness.ready
                     else f"{readiness.detail or readiness.database}; "
                          f"migrations {readiness.migrations}")
            print(format_status(await operations.snapshot(hosts=20),
                                await operations.last_errors(10),
                                f"{info.description}: {state}"))
        finally:
            await db.close()
    return 0


async def _backup(settings: Settings, file: Path) -> int:
    with _database(settings) as info:
        dsn = await _ready_database(info, migrate_it=False)
        tools = backup_store.tools_for(await backup_store.server_major(dsn))
        backup_store.backup(dsn, file, tools)
    print(f"backed up {info.description} to {file} ({file.stat().st_size} bytes)")
    return 0


async def _restore(settings: Settings, file: Path) -> int:
    with _database(settings) as info:
        dsn = await _ready_database(info, migrate_it=False)
        tools = backup_store.tools_for(await backup_store.server_major(dsn))
        await backup_store.restore(dsn, file, tools)
        applied = await migrate(dsn)
    print(f"restored {file} into {info.description}"
          + (f"; then applied {', '.join(applied)}" if applied else ""))
    return 0


async def _migrate(settings: Settings) -> None:
    async with database_url(settings) as dsn:
        applied = await migrate(dsn)
    print("applied: " + ", ".join(applied) if applied else "database is up to date")


async def _token(settings: Settings, args: argparse.Namespace) -> int:
    async with database_url(settings) as dsn:
        await migrate(dsn)
        db = await Database.connect(dsn, min_size=1, max_size=1)
        try:
            if args.token_command == "create":
                print(await create_token(db, args.label))
                return 0
            async with db.connection() as conn:
                if args.token_command == "revoke":
                    if not await tokens_store.revoke(conn, args.id):
                        print(f"fedblog: no active token {args.id}", file=sys.stderr)
                        return 1
                    print(f"revoked token {args.id}")
                    return 0
                for row in await tokens_store.all_tokens(conn):
                    state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "active"
                    print(f"{row['id']}\t{row['label'] or '-'}\t{row['created_at']:%Y-%m-%d}\t{state}")
                return 0
        finally:
            await db.close()


async def _worker(settings: Settings, concurrency: int | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with database_url(settings) as dsn, open_services(settings, dsn) as services:
        if concurrency:
            services.delivery.concurrency = concurrency
        logging.getLogger("fedblog").info("worker %s running", services.delivery.name)
        await services.blocks.reload()
        await asyncio.gather(run_queues(services, stop),
                             watch_blocks(services, stop))


def _serve_processes(settings: Settings, args: argparse.Namespace) -> int:
    """Several uvicorn processes on one port. The database (an embedded PostgreSQL is started
    by the caller, once) is handed to them as DATABASE_URL."""
    assert settings.database_url is not None
    os.environ["DATABASE_URL"] = settings.database_url
    if args.no_workers:
        os.environ["FEDBLOG_NO_WORKERS"] = "1"
    uvicorn.run("fedblog.app:app_from_env", factory=True, host=args.host, port=args.port,
                log_level=args.log_level, proxy_headers=True, workers=args.processes)
    return 0


class _OneLineStartupFailure(logging.Filter):
    """uvicorn logs a failed application start-up as the whole traceback Starlette formatted;
    keep its last line (what failed and why). `--log-level debug` keeps the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Traceback (most recent call"):
            lines = [line for line in record.msg.splitlines() if line.strip()]
            record.msg, record.args = "application start-up failed: %s", (lines[-1].strip(),)
        return True


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    _check_port(args.host, args.port)
    if args.log_level != "debug":
        logging.getLogger("uvicorn.error").addFilter(_OneLineStartupFailure())
    for warning in settings.warnings(bind_host=args.host):
        logging.getLogger("fedblog").warning("%s", warning)
    with _database(settings) as info:
        asyncio.run(_ready_database(info))
        logging.getLogger("fedblog").info("%s", startup_summary(settings, info.description, args))
        if args.processes > 1:
            return _serve_processes(info.settings, args)
        app = create_app(info.settings, run_workers=not args.no_workers)
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                    proxy_headers=True)
    return 0


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "serve":
        return _serve(settings, args)
    if args.command == "status":
        return asyncio.run(_status(settings))
    if args.command == "backup":
        return asyncio.run(_backup(settings, args.file))
    if args.command == "restore":
        return asyncio.run(_restore(settings, args.file))
    for warning in settings.warnings():
        logging.getLogger("fedblog").warning("%s", warning)
    with _database(settings) as info:
        asyncio.run(_ready_database(info, migrate_it=args.command == "worker"))
        if args.command == "worker":
            with asyncio.Runner(loop_factory=new_event_loop) as runner:
                runner.run(_worker(info.settings, args.concurrency))
        elif args.command == "migrate":
            try:
                asyncio.run(_migrate(info.settings))
            except Exception as exc:
                raise StartupError(f"migrating the database failed: {type(exc).__name__}: {exc}"
                                   .splitlines()[0]) from exc
        elif args.command == "token":
            return asyncio.run(_token(info.settings, args))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level == "debug":
        logging.getLogger("pgserver").setLevel(logging.DEBUG)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"fedblog: {exc}", file=sys.stderr)
        return 2
    try:
        return _run(settings, args)
    except (StartupError, backup_store.BackupError) as exc:
        print(f"fedblog: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
