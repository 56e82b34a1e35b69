"""Outbound HTTP: every request signed, every target checked, every response bounded."""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal, TypeVar
from urllib.parse import urljoin

import httpx

from fedblog.federation.addresses import ForbiddenAddress, check_url
from fedblog.federation.hosts import url_host_or_empty
from fedblog.federation.keys import SigningKey
from fedblog.federation.pool import HostClients
from fedblog.federation.rawpost import RawPostError, RawResponse
from fedblog.federation.signatures import (
    HttpRequestParts,
    sign_request_cavage,
    sign_request_rfc9421,
)

Scheme = Literal["cavage", "rfc9421"]
AS2_ACCEPT = (
    'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
)
JSON_TYPES = ("application/activity+json", "application/ld+json", "application/json",
              "application/jrd+json")
# Only what can be decompressed with a bound on the output (Mastodon answers gzip).
ACCEPT_ENCODING = "gzip, deflate"


class BoundedDecoder:
    """Decompresses a response body as it arrives, never producing more than `limit` bytes in
    all (a compression bomb is refused after `limit` bytes, not after it was inflated)."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        self.limit = limit
        self.size = 0
        coding = content_encoding.strip().lower()
        if coding in ("", "identity"):
            self._inflate: zlib._Decompress | None = None
        elif coding in ("gzip", "x-gzip"):
            self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self._inflate = None  # zlib-wrapped or raw: decided by the first bytes
        else:
            raise FetchError(f"unsupported Content-Encoding {coding!r}")
        self._coding = coding

    def feed(self, chunk: bytes) -> bytes:
        if self._coding == "deflate" and self._inflate is None:
            # RFC 9110 says zlib-wrapped; some servers send raw deflate (as httpx allows)
            wrapped = len(chunk) >= 2 and (chunk[0] & 0x0F) == 8 and (chunk[0] << 8 | chunk[1]) % 31 == 0
            self._inflate = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        if self._inflate is None:
            out = chunk
        else:
            try:
                # never more than one byte past the limit, whatever the input expands to
                out = self._inflate.decompress(chunk, self.limit - self.size + 1)
            except zlib.error as exc:
                raise FetchError("the body is not validly compressed", detail=str(exc)) from exc
        self.size += len(out)
        if self.size > self.limit:
            raise FetchError(f"larger than {self.limit} bytes")
        return out

    def flush(self) -> bytes:
        if self._inflate is None:
            return b""
        out = self._inflate.flush(self.limit - self.size + 1)
        self.size += len(out)
        if self.size > self.limit:
            raise FetchError(f"larger than {self.limit} bytes")
        return out


async def _whole(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def read_bounded(response: httpx.Response, limit: int, url: str, *,
                       identity_only: bool = False) -> bytes:
    """The response's body, decoded, of at most `limit` bytes: read raw (still encoded) and
    inflated here within the limit. httpx's own aiter_bytes inflates each raw chunk whole
    (≈ 64 KiB of gzip may become 64 MiB) before anyone can look at its size."""
    encoding = response.headers.get("content-encoding", "identity")
    if identity_only and encoding.strip().lower() != "identity":
        raise FetchError(f"{url} is compressed, and was asked not to be")
    chunks = response.aiter_raw()
    if response.is_stream_consumed:  # a body given whole (httpx.MockTransport), decoded
        chunks, encoding = _whole(response.content), "identity"
    decoder = BoundedDecoder(encoding, limit)
    buffer = bytearray()
    try:
        async for chunk in chunks:
            buffer.extend(decoder.feed(chunk))
        buffer.extend(decoder.flush())
    except FetchError as exc:
        raise FetchError(f"{url}: {exc}", detail=f"{url}: {exc.detail}") from exc
    return bytes(buffer)


class FetchError(Exception):
    """A remote document could not be fetched; `status` is the HTTP status when there was one.

    `str()` may be shown to whoever caused the fetch (an unauthenticated sender, whose keyId
    it was): it never carries a DNS answer, an address or a connection error. Those are in
    `detail`, for the log."""

    def __init__(self, message: str, status: int | None = None, *,
                 detail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail or message


class RemoteGone(FetchError):
    """The remote answered 410 Gone: the document (an actor, a note) was deleted."""


@dataclass(frozen=True)
class ClientPolicy:
    allow_private: bool = False
    require_https: bool = False
    timeout: float = 10.0
    max_bytes: int = 1024 * 1024
    max_redirects: int = 3
    delivery_timeout: float = 15.0
    connect_timeout: float = 5.0    # deliveries: well under the whole exchange's deadline
    user_agent: str = "fedblog"


class HttpSignatureAuth(httpx.Auth):
    """Signs each request as it is sent, so every retry carries a fresh Date and signature."""

    requires_request_body = True

    def __init__(self, key: SigningKey, scheme: Scheme = "cavage") -> None:
        self.key = key
        self.scheme = scheme

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        parts = HttpRequestParts(
            method=request.method, url=str(request.url),
            headers=tuple((k, v) for k, v in request.headers.items() if k.lower() != "host"),
            body=request.content,
        )
        sign = sign_request_cavage if self.scheme == "cavage" else sign_request_rfc9421
        signed = sign(parts, key_id=self.key.key_id, private_key=self.key.private_key, now=time.time())
        for name, value in signed.headers:
            request.headers[name] = value
        yield request


@dataclass(frozen=True)
class DeliveryResult:
    status: int | None
    error: str | None
    retry_after: float | None
    scheme: Scheme

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now or time.time()))


def _check_origin(document: Any, served_from: str) -> None:
    claimed = document.get("id") if isinstance(document, dict) else None
    if isinstance(claimed, str) and url_host_or_empty(claimed) != url_host_or_empty(served_from):
        raise FetchError(f"{served_from} served a document for {claimed}, another host")


T = TypeVar("T")


def _transport_error(url: str, exc: httpx.HTTPError) -> FetchError:
    """The network failed (no connection, reset, bad TLS): which way, only in `detail`."""
    return FetchError(f"could not fetch {url}",
                      detail=f"fetching {url} failed: {type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class Redirect:
    """A fetch's answer that points elsewhere (a JSON document may itself be a string)."""

    location: str


@dataclass(frozen=True)
class Media:
    """A remote file fetched for a reader: its bytes and what they are."""

    body: bytes
    media_type: str


MEDIA_KINDS = ("image/", "video/", "audio/")


class FederationClient:
    """Signed fetches of remote documents and signed deliveries to remote inboxes."""

    def __init__(self, http: httpx.AsyncClient | HostClients, policy: ClientPolicy,
                 fetch_key: SigningKey, blocked: Callable[[str], bool] = lambda url: False) -> None:
        self.clients = http if isinstance(http, HostClients) else HostClients.single(http)
        self.policy = policy
        self.fetch_key = fetch_key
        self.blocked = blocked

    async def fetch_json(self, url: str, *, accept: str = AS2_ACCEPT) -> Any:
        """GET a remote JSON document, following at most a few checked redirects.

        A document whose `id` is on another host than the one that finally served it is
        refused: otherwise any open redirect would let one server speak for another.
        """
        document, served_from = await self._follow(url, lambda u: self._get_once(u, accept))
        _check_origin(document, served_from)
        return document

    async def fetch_media(self, url: str, *, max_bytes: int) -> Media:
        """GET a commenter's image, video or sound (attachment, custom emoji) so the blog can
        show it to readers without hot-linking: the same address guard, redirects checked one
        by one, no compression, at most `max_bytes`, and only image/video/audio types."""
        media, _ = await self._follow(url, lambda u: self._media_once(u, max_bytes))
        return media

    async def _follow(self, url: str, once: Callable[[str], Awaitable[T | Redirect]]
                      ) -> tuple[T, str]:
        """`once(url)`, then once more for each redirect (each target checked first, at most
        max_redirects, each within the timeout); the result and the URL that served it."""
        target = url
        for _ in range(self.policy.max_redirects + 1):
            await self._check(target)
            try:
                async with asyncio.timeout(self.policy.timeout):
                    found = await once(target)
            except TimeoutError as exc:
                raise FetchError(f"fetching {target} took longer than {self.policy.timeout} s") from exc
            if not isinstance(found, Redirect):
                return found, target
            target = found.location
        raise FetchError(f"too many redirects fetching {url}")

    async def _media_once(self, url: str, max_bytes: int) -> Media | Redirect:
        headers = {"Accept": "image/*, video/*, audio/*", "Accept-Encoding": "identity",
                   "User-Agent": self.policy.user_agent}
        try:
            async with self.clients.for_url(url).stream(
                "GET", url, headers=headers, timeout=self.policy.timeout, follow_redirects=False,
            ) as response:
                if response.is_redirect and response.headers.get("location"):
                    return Redirect(urljoin(url, response.headers["location"]))
                if response.status_code != 200:
                    raise FetchError(f"{url} answered {response.status_code}", response.status_code)
                media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if not media_type.startswith(MEDIA_KINDS):
                    raise FetchError(f"{url} is {media_type or 'untyped'}, not an image, video or sound")
                # asked for identity: anything else is refused, never inflated
                body = await read_bounded(response, max_bytes, url, identity_only=True)
        except httpx.HTTPError as exc:
            raise _transport_error(url, exc) from exc
        return Media(body, media_type)

    async def _check(self, url: str) -> None:
        if self.blocked(url):
            raise FetchError(f"{url} is on a blocked domain or belongs to a blocked actor")
        try:
            await check_url(url, allow_private=self.policy.allow_private,
                            require_https=self.policy.require_https)
        except ForbiddenAddress as exc:
            raise FetchError(f"could not fetch {url}: {exc}",
                             detail=f"could not fetch {url}: {exc.detail}") from exc

    async def _get_once(self, url: str, accept: str) -> Any:
        headers = {"Accept": accept, "Accept-Encoding": ACCEPT_ENCODING,
                   "User-Agent": self.policy.user_agent}
        auth = HttpSignatureAuth(self.fetch_key, "cavage")
        try:
            async with self.clients.for_url(url).stream(
                "GET", url, headers=headers, auth=auth, timeout=self.policy.timeout,
                follow_redirects=False,
            ) as response:
                if response.is_redirect:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(f"redirect without Location from {url}", response.status_code)
                    return Redirect(urljoin(url, location))
                if response.status_code == 410:
                    raise RemoteGone(f"{url} is gone", 410)
                if response.status_code != 200:
                    raise FetchError(f"{url} answered {response.status_code}", response.status_code)
                content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if content_type not in JSON_TYPES:
                    raise FetchError(f"{url} is {content_type or 'untyped'}, not JSON")
                body = await read_bounded(response, self.policy.max_bytes, url)
        except httpx.HTTPError as exc:
            raise _transport_error(url, exc) from exc
        try:
            return json.loads(body)
        except ValueError as exc:
            raise FetchError(f"{url} did not return valid JSON") from exc

    async def deliver(self, inbox: str, body: bytes, key: SigningKey, scheme: Scheme, *,
                      ignore_blocks: bool = False) -> DeliveryResult:
        """POST one activity to one inbox; never raises for network trouble."""
        if not ignore_blocks and self.blocked(inbox):
            return DeliveryResult(None, "forbidden target: blocked", None, scheme)
        try:
            await check_url(inbox, allow_private=self.policy.allow_private,
                            require_https=self.policy.require_https)
        except ForbiddenAddress as exc:  # kept for the admin: the detail
            return DeliveryResult(None, f"forbidden target: {exc.detail}", None, scheme)
        if self.clients.poster is None:
            return await self._deliver_httpx(inbox, body, key, scheme)
        return await self._deliver_raw(inbox, body, key, scheme)

    async def _deliver_raw(self, inbox: str, body: bytes, key: SigningKey,
                           scheme: Scheme) -> DeliveryResult:
        poster = self.clients.poster
        assert poster is not None
        try:
            target = poster.target(inbox)
        except (RawPostError, httpx.InvalidURL) as exc:
            return DeliveryResult(None, f"{type(exc).__name__}: {exc}", None, scheme)
        parts = HttpRequestParts(
            method="POST", url=target.url,
            headers=(("Content-Type", "application/activity+json"),
                     ("User-Agent", self.policy.user_agent)),
            body=body,
        )
        sign = sign_request_cavage if scheme == "cavage" else sign_request_rfc9421
        signed = sign(parts, key_id=key.key_id, private_key=key.private_key, now=time.time())
        try:
            # One deadline for the whole exchange: a peer dripping bytes cannot hold a slot.
            async with asyncio.timeout(self.policy.delivery_timeout):
                response: RawResponse = await poster.post(
                    target, signed.headers, body,
                    connect_timeout=min(self.policy.connect_timeout, self.policy.delivery_timeout))
        except TimeoutError:
            return DeliveryResult(None, f"no answer within {self.policy.delivery_timeout} s",
                                  None, scheme)
        except RawPostError as exc:
            return DeliveryResult(None, f"{type(exc).__name__}: {exc}", None, scheme)
        status = response.status
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return DeliveryResult(status, error, parse_retry_after(response.retry_after), scheme)

    async def _deliver_httpx(self, inbox: str, body: bytes, key: SigningKey,
                             scheme: Scheme) -> DeliveryResult:
        headers = {"Content-Type": "application/activity+json", "User-Agent": self.policy.user_agent}
        try:
            # One deadline for the whole exchange: a peer dripping bytes cannot hold a slot.
            async with asyncio.timeout(self.policy.delivery_timeout):
                async with self.clients.for_url(inbox).stream(
                    "POST", inbox, content=body, headers=headers,
                    auth=HttpSignatureAuth(key, scheme), timeout=self.policy.timeout,
                    follow_redirects=False,
                ) as response:
                    await self._discard(response)
        except TimeoutError:
            return DeliveryResult(None, f"no answer within {self.policy.delivery_timeout} s",
                                  None, scheme)
        except httpx.HTTPError as exc:
            return DeliveryResult(None, f"{type(exc).__name__}: {exc}", None, scheme)
        error = None if response.is_success else f"HTTP {response.status_code}"
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return DeliveryResult(response.status_code, error, retry_after, scheme)

    @staticmethod
    async def _discard(response: httpx.Response, limit: int = 64 * 1024) -> None:
        """Read (and drop) at most `limit` bytes of an inbox's answer."""
        seen = 0
        async for chunk in response.aiter_raw():
            seen += len(chunk)
            if seen > limit:
                break
