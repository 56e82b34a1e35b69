"""The real blog server on 127.0.0.1 for end-to-end tests, with an API client."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette

from fedblog.app import create_app
from fedblog.config import Settings
from fedblog.services import Services

TOKEN = "test-token-1234-abcdef"


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BlogServer:
    """fedblog served by uvicorn in the test's event loop; stop() and start() again keep the data."""

    def __init__(self, database_url: str, *, port: int | None = None, run_workers: bool = True,
                 **overrides: Any) -> None:
        self.port = port or free_port()
        defaults: dict[str, Any] = {"allow_private_addresses": True, "retry_scale": 0.002}
        self.settings = replace(
            Settings(), domain=f"127.0.0.1:{self.port}", scheme="http", api_token=TOKEN,
            database_url=database_url, **{**defaults, **overrides},
        )
        self.run_workers = run_workers
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.api = httpx.AsyncClient(base_url=self.base_url,
                                     headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    @property
    def actor(self) -> str:
        return f"{self.base_url}/users/{self.settings.username}"

    @property
    def inbox(self) -> str:
        return f"{self.actor}/inbox"

    @property
    def shared_inbox(self) -> str:
        return f"{self.base_url}/inbox"

    @property
    def app(self) -> Starlette:
        assert self._server is not None
        app: Starlette = self._server.config.app
        return app

    @property
    def services(self) -> Services:
        found: Services = self.app.state.services
        return found

    async def start(self) -> None:
        app = create_app(self.settings, run_workers=self.run_workers)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on")
        self._server = _QuietServer(config)
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):
            if self._server.started:
                return
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        raise RuntimeError("blog server did not start")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = None

    async def __aenter__(self) -> BlogServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
        await self.api.aclose()

    async def fetch_as2(self, url: str) -> httpx.Response:
        return await self.api.get(url, headers={"Accept": "application/activity+json"})

    async def post(self, markdown: str, **fields: Any) -> dict[str, Any]:
        response = await self.api.post("/api/v1/posts", json={"markdown": markdown, **fields})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def wait_until(self, query: str, *args: Any, expect: Any = True,
                         timeout: float = 10.0) -> Any:
        """Poll a SQL value until it equals `expect` (queue states, counts)."""
        value = None
        for _ in range(int(timeout / 0.05)):
            async with self.services.runtime.db.connection() as conn:
                value = await conn.fetchval(query, *args)
            if value == expect:
                return value
            await asyncio.sleep(0.05)
        raise AssertionError(f"{query} stayed {value!r}, expected {expect!r}")
