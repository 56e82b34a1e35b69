"""Signed deliveries over a minimal HTTP/1.1 keep-alive client, one small pool per host.

httpx stays the client for fetches. For deliveries -- thousands of small POSTs to thousands of
hosts -- its per-request machinery costs about three times the RSA signature (measured in
`bench/clientlab.py`); this client sends one pre-built request and reads the answer with
`httptools` (llhttp, the parser uvicorn uses), and nothing else. What it keeps from the httpx path:

- every connection goes to an address it resolved and checked itself (no private, loopback or
  link-local targets unless allowed; no second resolution for a rebinding DNS to answer);
- TLS with the shared verifying context, SNI and hostname checks for https;
- a short connect timeout (the caller sets the deadline of the whole exchange);
- bounded reads: at most `max_head` bytes of status line and headers, at most `max_body` bytes of
  body (beyond that the status is kept and the connection closed); an answer the connection
  cannot be reused after (no length, HTTP/1.0, `Connection: close`) is not read at all;
- no redirects: a 3xx is an answer like any other;
- idle connections reused per host (at most `max_idle_per_host`, closed after `idle_expiry`);
  at most `max_per_host` connections per host at once;
- a kept-alive connection the peer closed before answering (not a single byte back) is retried
  once on a fresh connection; any other failure is the caller's normal retry.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import httptools
import httpx

from fedblog.federation.addresses import ForbiddenAddress, public_addresses


class RawPostError(Exception):
    """The exchange failed before a usable answer arrived (the name says where)."""


class ConnectError(RawPostError):
    """No connection: refused, unreachable, forbidden, timed out, or the client is closed."""


class WriteError(RawPostError):
    """The request could not be sent whole."""


class ReadError(RawPostError):
    """The answer broke off or never came."""


class RemoteProtocolError(RawPostError):
    """Not HTTP/1.1 as it must be: a header that cannot be sent, or an answer that cannot be read."""


class _Stale(ReadError):
    """A reused connection closed before a single byte of the answer: safe to try again."""


@dataclass(frozen=True)
class RawResponse:
    status: int
    retry_after: str | None


@dataclass(frozen=True)
class Target:
    """An inbox URL parsed once: what to sign, where to connect, what to send."""

    url: str                 # normalised as httpx would send it: the URL the signature covers
    key: tuple[str, str, int]  # (scheme, host as ASCII, port)
    authority: str           # the Host header
    request_target: str      # path and query


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one request at a time, answers parsed by llhttp."""

    def __init__(self, poster: RawPoster, key: tuple[str, str, int]) -> None:
        self.poster = poster
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[RawResponse] | None = None
        self.closed = False
        self.reusable = False
        self.idle_since = 0.0
        self.requests = 0
        self._seen = 0           # bytes of the current answer received
        self._body = 0
        self._head = 0
        self._head_done = False
        self._retry_after: str | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            self.close()  # unasked-for bytes on an idle connection: it is not ours to reuse
            return
        self._seen += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(RemoteProtocolError("unexpected protocol upgrade"))
            return
        except httptools.HttpParserError as exc:
            self._fail(RemoteProtocolError(f"malformed answer: {exc}"))
            return
        if not self._head_done and self._seen > self.poster.max_head:
            # (a read is at most a few hundred kB: checked after parsing it, not byte by byte)
            self._fail(RemoteProtocolError(f"answer head larger than {self.poster.max_head} bytes"))

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            if self._seen == 0 and self.requests > 1:
                waiter.set_exception(_Stale("the peer closed a kept-alive connection"))
            else:
                reason = f": {exc}" if exc else ""
                waiter.set_exception(ReadError(f"connection closed before a full answer{reason}"))

    # llhttp callbacks
    def on_message_begin(self) -> None:
        if self.waiter is None or self.waiter.done():
            self.close()  # bytes after the answer: the stream is out of step, do not reuse
            return
        self._head_done = False
        self._head = 0
        self._body = 0
        self._retry_after = None

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head += len(name) + len(value) + 4
        if len(name) == 11 and name.lower() == b"retry-after":
            self._retry_after = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            return  # interim answer (103 Early Hints...): the real one follows
        self._head_done = True
        if self._head > self.poster.max_head:
            self._fail(RemoteProtocolError(f"answer head larger than {self.poster.max_head} bytes"))
            return
        if not self.parser.should_keep_alive():
            # No length, HTTP/1.0 or Connection: close: the body can only be read to the end of
            # the connection, and the connection is not reused. The status is all we need.
            self._finish(keep=False)

    def on_body(self, body: bytes) -> None:
        self._body += len(body)
        if self._body > self.poster.max_body:
            self._finish(keep=False)  # the status stands; the rest is not read

    def on_message_complete(self) -> None:
        if self._head_done:
            self._finish(keep=self.parser.should_keep_alive())

    # the request
    async def request(self, data: bytes) -> RawResponse:
        assert self.transport is not None and self.waiter is None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[RawResponse] = loop.create_future()
        self.waiter = waiter
        self.requests += 1
        self._seen = 0
        self.reusable = False
        try:
            if self.closed or self.transport.is_closing():
                raise (_Stale if self.requests > 1 else WriteError)("connection closed before sending")
            try:
                self.transport.write(data)
            except (OSError, RuntimeError) as exc:
                raise WriteError(str(exc)) from exc
            return await waiter
        finally:
            self.waiter = None
            if not waiter.done():
                waiter.cancel()
            elif not waiter.cancelled():
                waiter.exception()  # retrieved, so asyncio does not log it

    def _finish(self, *, keep: bool) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        self.reusable = keep
        waiter.set_result(RawResponse(self.parser.get_status_code(), self._retry_after))
        if not keep:
            self.close()

    def _fail(self, exc: RawPostError) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True


class _HostPool:
    __slots__ = ("active", "idle", "slots")

    def __init__(self, max_connections: int) -> None:
        self.idle: deque[_Connection] = deque()
        self.slots = asyncio.Semaphore(max_connections)
        self.active = 0


class RawPoster:
    """POSTs pre-built requests to many hosts, each over its own small keep-alive pool."""

    def __init__(self, *, allow_private: bool, ssl_context: ssl.SSLContext,
                 max_per_host: int = 16, max_idle_per_host: int = 16, idle_expiry: float = 30.0,
                 max_head: int = 64 * 1024, max_body: int = 64 * 1024, max_hosts: int = 4096,
                 max_targets: int = 16384) -> None:
        self.allow_private = allow_private
        self.ssl_context = ssl_context
        self.max_per_host = max_per_host
        self.max_idle_per_host = max_idle_per_host
        self.idle_expiry = idle_expiry
        self.max_head = max_head
        self.max_body = max_body
        self.max_hosts = max_hosts
        self.max_targets = max_targets
        self._pools: OrderedDict[tuple[str, str, int], _HostPool] = OrderedDict()
        self._targets: OrderedDict[str, Target] = OrderedDict()
        self._swept = time.monotonic()
        self._closed = False

    def target(self, url: str) -> Target:
        """The URL parsed and normalised (as httpx does), remembered for the next delivery."""
        found = self._targets.get(url)
        if found is not None:
            return found
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.raw_host:
            raise ConnectError(f"cannot POST to {url!r}")
        host = parsed.raw_host.decode("ascii")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        found = Target(str(parsed), (parsed.scheme, host, port), parsed.netloc.decode("ascii"),
                       parsed.raw_path.decode("ascii"))
        self._targets[url] = found
        if len(self._targets) > self.max_targets:
            self._targets.popitem(last=False)
        return found

    async def post(self, target: Target, headers: Sequence[tuple[str, str]], body: bytes, *,
                   connect_timeout: float) -> RawResponse:
        """Send one POST; `headers` are sent as given (plus Host when absent, Content-Length)."""
        if self._closed:
            raise ConnectError("the delivery client is closed")
        lines = [f"POST {target.request_target} HTTP/1.1\r\n"]
        if not any(name.lower() == "host" for name, _ in headers):
            lines.append(f"Host: {target.authority}\r\n")
        for name, value in headers:
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
                raise RemoteProtocolError(f"refusing to send header {name!r}")
            lines.append(f"{name}: {value}\r\n")
        lines.append(f"Content-Length: {len(body)}\r\n\r\n")
        try:
            data = "".join(lines).encode("latin-1") + body
        except UnicodeEncodeError as exc:
            raise RemoteProtocolError(f"a header cannot be sent: {exc}") from exc

        now = time.monotonic()
        if now - self._swept > self.idle_expiry / 2:
            self._sweep(now)
        pool = self._pools.get(target.key)
        if pool is None:
            pool = self._pools[target.key] = _HostPool(self.max_per_host)
            if len(self._pools) > self.max_hosts:
                self._evict()
        else:
            self._pools.move_to_end(target.key)
        async with pool.slots:
            pool.active += 1
            try:
                return await self._exchange(pool, target, data, connect_timeout)
            finally:
                pool.active -= 1

    async def _exchange(self, pool: _HostPool, target: Target, data: bytes,
                        connect_timeout: float) -> RawResponse:
        conn = self._take_idle(pool)
        if conn is None:
            conn = await self._connect(target, connect_timeout)
        try:
            try:
                response = await conn.request(data)
            except _Stale:
                # The peer dropped the kept-alive connection before answering anything:
                # once more on a fresh one (any further failure is the caller's retry).
                conn.close()
                conn = await self._connect(target, connect_timeout)
                response = await conn.request(data)
        finally:
            if conn.reusable and not conn.closed and not self._closed \
                    and len(pool.idle) < self.max_idle_per_host:
                conn.idle_since = time.monotonic()
                pool.idle.append(conn)
            else:
                conn.close()
        return response

    def _take_idle(self, pool: _HostPool) -> _Connection | None:
        deadline = time.monotonic() - self.idle_expiry
        while pool.idle:
            conn = pool.idle.pop()  # the most recently used: the others may expire
            if not conn.closed and conn.idle_since > deadline:
                return conn
            conn.close()
        return None

    async def _addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to, every one of them checked (unless private is allowed)."""
        if self.allow_private:
            return [host]
        try:
            return await public_addresses(host, port)
        except ForbiddenAddress as exc:  # the admin reads delivery errors: give the detail
            raise ConnectError(exc.detail) from exc

    async def _connect(self, target: Target, timeout: float) -> _Connection:
        scheme, host, port = target.key
        loop = asyncio.get_running_loop()
        tls = self.ssl_context if scheme == "https" else None
        last: BaseException | None = None
        try:
            async with asyncio.timeout(timeout):
                for address in await self._addresses(host, port):
                    try:
                        _, conn = await loop.create_connection(
                            lambda: _Connection(self, target.key), address, port, ssl=tls,
                            server_hostname=host if tls is not None else None)
                        return conn
                    except (OSError, ssl.SSLError) as exc:
                        last = exc
        except TimeoutError:  # this block's own deadline (the caller's arrives as a cancellation)
            raise ConnectError(f"cannot connect to {host}:{port} within {timeout} s") from None
        raise ConnectError(f"cannot connect to {host}:{port}: {last}")

    def _sweep(self, now: float) -> None:
        """Close connections idle for too long; forget hosts with nothing open."""
        self._swept = now
        deadline = now - self.idle_expiry
        for key in list(self._pools):
            pool = self._pools[key]
            while pool.idle and (pool.idle[0].closed or pool.idle[0].idle_since <= deadline):
                pool.idle.popleft().close()
            if not pool.idle and pool.active == 0:
                del self._pools[key]

    def _evict(self) -> None:
        for key in list(self._pools):
            if len(self._pools) <= self.max_hosts:
                return
            pool = self._pools[key]
            if pool.active == 0:
                while pool.idle:
                    pool.idle.pop().close()
                del self._pools[key]

    def idle_connections(self, url: str) -> int:
        """How many kept-alive connections wait for the URL's host (tests, diagnostics)."""
        pool = self._pools.get(self.target(url).key)
        return sum(1 for c in pool.idle if not c.closed) if pool else 0

    async def aclose(self) -> None:
        self._closed = True
        for pool in self._pools.values():
            while pool.idle:
                pool.idle.pop().close()
        self._pools.clear()
        await asyncio.sleep(0)  # let the transports finish closing
