"""create_app(settings): the routes, the error handlers and the lifespan that owns everything."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from fedblog.config import Settings
from fedblog.runtime import database_url
from fedblog.services import open_services, run_queues, watch_blocks
from fedblog.web import activitypub, desk, feeds, front, health, inbox, media, metrics, post_page, wellknown
from fedblog.web.api import blocks as api_blocks
from fedblog.web.api import comments as api_comments
from fedblog.web.api import followers as api_followers
from fedblog.web.api import openapi
from fedblog.web.api import posts as api_posts
from fedblog.web.api import quotes as api_quotes
from fedblog.web.api import settings as api_settings
from fedblog.web.errors import not_found
from fedblog.web.pagecache import PageCache, ReadYourWrites, watch_pages
from fedblog.web.responses import json_error, wants_as2
from fedblog.web.templating import STATIC

log = logging.getLogger(__name__)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/api/") or wants_as2(request) or exc.status_code != 404:
        return json_error(exc.status_code, exc.detail or "error",
                          headers=dict(exc.headers) if exc.headers else None)
    return not_found(request)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_error(500, "internal error; it has been logged")


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("queue worker stopped", exc_info=task.exception())


def app_from_env() -> Starlette:
    """The app as `fedblog serve --processes N` starts it in each process."""
    return create_app(Settings.from_env(), run_workers=not os.environ.get("FEDBLOG_NO_WORKERS"))


def create_app(settings: Settings | None = None, *, run_workers: bool = True,
               transport: httpx.AsyncBaseTransport | None = None) -> Starlette:
    """`transport` replaces the outbound network (tests); `run_workers` runs queue workers here."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with database_url(settings) as dsn, \
                open_services(settings, dsn, transport=transport) as services:
            app.state.services = services
            app.state.metrics = metrics.Metrics(settings.metrics_token)
            await services.blocks.reload()
            stop = asyncio.Event()
            app.state.pages = PageCache(services.thread_states, services.runtime.urls)
            tasks = [asyncio.create_task(watch_blocks(services, stop)),
                     asyncio.create_task(watch_pages(app.state.pages, stop))]
            app.state.workers = workers = health.WorkerTasks(expected=run_workers)
            if run_workers:
                tasks += [asyncio.create_task(run_queues(services, stop))]
                workers.tasks["queues"] = tasks[-1]
                for task in tasks:
                    task.add_done_callback(_report_crash)
            try:
                yield
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                # A blocklist import under way ends before the database goes.
                await services.blocks.wait_for_imports()

    routes = [
        *health.routes, *metrics.routes,
        *wellknown.routes, *inbox.routes, *feeds.routes, *front.routes, *post_page.routes,
        Mount("/static", StaticFiles(directory=STATIC), name="static"), *activitypub.routes,
        *media.routes,
        *desk.routes, *openapi.routes, *api_posts.routes, *api_followers.routes,
        *api_settings.routes, *api_comments.routes, *api_quotes.routes, *api_blocks.routes,
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, Exception: server_error},
        middleware=[Middleware(ReadYourWrites)],
    )
