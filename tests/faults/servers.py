"""A raw HTTP inbox on 127.0.0.1 that misbehaves on command (asyncio, no framework)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Literal, Self

Mode = Literal["ok", "reset", "slow", "status"]


class Closed(Exception):
    """The answer closed the connection (raised by `answer` to end it)."""


class LoopbackServer:
    """A raw HTTP/1.1 server on 127.0.0.1 (a free port): each request on a keep-alive
    connection is handed to `answer`, which subclasses write."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def answer(self, head: bytes, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                await self.answer(await reader.readuntil(b"\r\n\r\n"), reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError, Closed):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


class RawInbox(LoopbackServer):
    def __init__(self, mode: Mode = "ok", *, status: int = 202, delay: float = 30.0) -> None:
        super().__init__()
        self.mode: Mode = mode
        self.status = status
        self.delay = delay
        self.posts: Counter[str] = Counter()      # path -> POSTs that were answered 2xx
        self.attempts: Counter[str] = Counter()   # path -> POSTs seen at all

    async def answer(self, head: bytes, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        lines = head.decode("latin-1").split("\r\n")
        path = lines[0].split(" ")[1]
        length = next((int(line.split(":", 1)[1]) for line in lines
                       if line.lower().startswith("content-length:")), 0)
        await reader.readexactly(length)
        self.attempts[path] += 1
        if self.mode == "reset":
            writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 100\r\n\r\npart")
            await writer.drain()
            writer.transport.abort()
            raise Closed
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        status = 202 if self.mode in ("ok", "slow") else self.status
        if 200 <= status < 300:
            self.posts[path] += 1
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()


class ActorHost(RawInbox):
    """Many actors on one host sharing one RSA key: serves their documents, counts their POSTs."""

    def __init__(self, public_key_pem: str) -> None:
        super().__init__("ok")
        self.public_key_pem = public_key_pem

    def actor_id(self, name: str) -> str:
        return f"{self.base_url}/users/{name}"

    def document(self, name: str) -> bytes:
        actor = self.actor_id(name)
        return json.dumps({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": actor, "type": "Person", "preferredUsername": name,
            "inbox": f"{actor}/inbox",
            "publicKey": {"id": f"{actor}#main-key", "owner": actor,
                          "publicKeyPem": self.public_key_pem},
        }).encode()

    async def answer(self, head: bytes, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        length = next((int(line.split(":", 1)[1]) for line in lines
                       if line.lower().startswith("content-length:")), 0)
        await reader.readexactly(length)
        if method == "GET" and path.startswith("/users/"):
            body = self.document(path.split("/")[2])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/activity+json\r\n"
                         + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        else:
            self.attempts[path] += 1
            self.posts[path] += 1
            writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
