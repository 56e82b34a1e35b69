"""The `fedblog` command: serve | worker | migrate | token create."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

import uvicorn

try:  # uvicorn[standard] brings uvloop on Linux: the worker runs on it too
    from uvloop import new_event_loop
except ImportError:  # pragma: no cover - other platforms
    from asyncio import new_event_loop  # type: ignore[assignment]

from fedblog import __version__
from fedblog.app import create_app
from fedblog.config import ConfigError, Settings
from fedblog.runtime import database_url
from fedblog.services import open_services, watch_blocks
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
    return parser


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
        await asyncio.gather(services.processor.run(stop), services.delivery.run(stop),
                             watch_blocks(services, stop))


def _serve_processes(settings: Settings, args: argparse.Namespace) -> int:
    """Several uvicorn processes on one port. An embedded PostgreSQL is started here, once,
    and handed to them as DATABASE_URL."""
    embedded = None if settings.database_url else EmbeddedPostgres(settings.data_dir)
    if embedded is not None:
        os.environ["DATABASE_URL"] = embedded.start()
    if args.no_workers:
        os.environ["FEDBLOG_NO_WORKERS"] = "1"
    try:
        uvicorn.run("fedblog.app:app_from_env", factory=True, host=args.host, port=args.port,
                    log_level=args.log_level, proxy_headers=True, workers=args.processes)
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"fedblog: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        if args.processes > 1:
            return _serve_processes(settings, args)
        app = create_app(settings, run_workers=not args.no_workers)
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                    proxy_headers=True)
    elif args.command == "worker":
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(_worker(settings, args.concurrency))
    elif args.command == "migrate":
        asyncio.run(_migrate(settings))
    elif args.command == "token":
        return asyncio.run(_token(settings, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
