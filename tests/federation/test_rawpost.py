"""The delivery transport (fedblog/federation/rawpost.py) against real loopback HTTP peers.

Each peer here is a few lines of asyncio speaking HTTP/1.1 by hand, so it can misbehave exactly
(close a kept-alive connection, answer chunked, answer too much, never answer); the signature
test uses tests/peers (bovine, http-message-signatures), which never imports fedblog.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, Self

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fedblog.federation.client import ClientPolicy, DeliveryResult, FederationClient
from fedblog.federation.keys import generate_rsa_pem, load_signing_key
from fedblog.federation.pool import HostClients
from fedblog.federation.rawpost import ConnectError, RawPoster
from fedblog.outbox.retry import Outcome, classify
from tests.faults.servers import ActorHost
from tests.harness import free_port
from tests.peers.peer import Peer

PRIVATE, PUBLIC = generate_rsa_pem()
KEY = load_signing_key("http://127.0.0.1:1/users/blog#main-key", PRIVATE, PUBLIC)
BODY = b'{"id": "http://127.0.0.1:1/activities/1", "type": "Create"}'
Handler = Callable[["Conn", bytes], Awaitable[bytes | None]]


class Conn:
    """One accepted connection, as the handler sees it."""

    def __init__(self, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.index = index          # 0 for the first connection the server accepted
        self.requests = 0           # requests read on this connection so far
        self.reader = reader
        self.writer = writer


class HandPeer:
    """An HTTP/1.1 server whose answers a test writes byte by byte.

    The handler gets each request (head + body) and returns the bytes to send, or None to
    close the connection without answering. It may also sleep (a slow peer).
    """

    def __init__(self, handler: Handler, *, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.connections = 0
        self.requests: list[bytes] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    def url(self, host: str = "127.0.0.1", path: str = "/users/a/inbox") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Conn(self.connections, reader, writer)
        self.connections += 1
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                conn.requests += 1
                answer = await self.handler(conn, request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


def answer(status: int = 202, headers: str = "Content-Length: 0\r\n", body: bytes = b"") -> bytes:
    return f"HTTP/1.1 {status} X\r\n{headers}\r\n".encode() + body


async def always(status: int = 202) -> Handler:
    async def handler(conn: Conn, request: bytes) -> bytes:
        return answer(status)
    return handler


def client(*, allow_private: bool = True, timeout: float = 3.0,
           poster: RawPoster | None = None) -> tuple[FederationClient, HostClients]:
    clients = HostClients.guarded(allow_private=allow_private)
    if poster is not None:
        clients.poster = poster
    policy = ClientPolicy(allow_private=allow_private, delivery_timeout=timeout, connect_timeout=1.0)
    return FederationClient(clients, policy, KEY), clients


async def deliver(fed: FederationClient, url: str, scheme: Any = "cavage") -> DeliveryResult:
    return await fed.deliver(url, BODY, KEY, scheme)


# --- keep-alive ------------------------------------------------------------------------------


async def test_connections_are_kept_alive_and_reused() -> None:
    async with HandPeer(await always()) as peer:
        fed, clients = client()
        try:
            results = [await deliver(fed, peer.url()) for _ in range(5)]
            assert [r.status for r in results] == [202] * 5
            assert all(r.ok and r.error is None for r in results)
            assert peer.connections == 1 and len(peer.requests) == 5
            assert clients.poster is not None and clients.poster.idle_connections(peer.url()) == 1
            # concurrent deliveries open more connections, then keep them (up to the limit)
            results = await asyncio.gather(*(deliver(fed, peer.url()) for _ in range(4)))
            assert all(r.ok for r in results)
            assert 1 <= clients.poster.idle_connections(peer.url()) <= 4
        finally:
            await clients.aclose()


async def test_the_request_is_what_httpx_would_send() -> None:
    async with HandPeer(await always()) as peer:
        fed, clients = client()
        try:
            await deliver(fed, peer.url(path="/inbox?x=1"))
        finally:
            await clients.aclose()
    head, body = peer.requests[0].split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /inbox?x=1 HTTP/1.1"
    fields = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    assert fields["host"] == f"127.0.0.1:{peer.port}"
    assert fields["content-type"] == "application/activity+json"
    assert fields["content-length"] == str(len(BODY)) and body == BODY
    assert {"date", "digest", "signature", "user-agent"} <= fields.keys()


async def test_a_kept_alive_connection_the_peer_closed_while_idle_is_not_used() -> None:
    async def close_after_answering(conn: Conn, request: bytes) -> bytes:
        asyncio.get_running_loop().call_soon(conn.writer.close)  # answer, then hang up
        return answer()

    async with HandPeer(close_after_answering) as peer:
        fed, clients = client()
        try:
            assert (await deliver(fed, peer.url())).ok
            await asyncio.sleep(0.1)  # the FIN arrives while the connection is idle
            assert (await deliver(fed, peer.url())).ok
        finally:
            await clients.aclose()
    assert peer.connections == 2 and len(peer.requests) == 2


async def test_a_kept_alive_connection_closed_as_the_request_goes_out_is_retried_once_fresh() -> None:
    async def drop_second_request(conn: Conn, request: bytes) -> bytes | None:
        if conn.index == 0 and conn.requests == 2:
            return None  # reads the request and hangs up without a byte: a keep-alive race
        return answer()

    async with HandPeer(drop_second_request) as peer:
        fed, clients = client()
        try:
            assert (await deliver(fed, peer.url())).ok
            result = await deliver(fed, peer.url())
            assert result.ok, result
        finally:
            await clients.aclose()
    assert peer.connections == 2 and len(peer.requests) == 3


async def test_a_fresh_connection_closed_without_an_answer_is_a_failure_not_a_resend() -> None:
    async def hang_up(conn: Conn, request: bytes) -> None:
        return None

    async with HandPeer(hang_up) as peer:
        fed, clients = client()
        try:
            result = await deliver(fed, peer.url())
        finally:
            await clients.aclose()
    assert result.status is None and result.error is not None and "ReadError" in result.error
    assert classify(result.status) is Outcome.RETRY
    assert len(peer.requests) == 1  # the normal retry path decides when to try again


async def test_an_answer_cut_short_is_a_failure_and_the_connection_is_dropped() -> None:
    async def cut(conn: Conn, request: bytes) -> bytes | None:
        if conn.requests == 1 and conn.index == 0:
            conn.writer.write(answer(headers="Content-Length: 100\r\n", body=b"part"))
            await conn.writer.drain()
            return None
        return answer()

    async with HandPeer(cut) as peer:
        fed, clients = client()
        try:
            result = await deliver(fed, peer.url())
            assert result.status is None and "ReadError" in str(result.error)
            assert (await deliver(fed, peer.url())).ok
        finally:
            await clients.aclose()
    assert len(peer.requests) == 2 and peer.connections == 2


# --- answers ---------------------------------------------------------------------------------


async def test_a_chunked_answer_is_read_and_the_connection_reused() -> None:
    async def chunked(conn: Conn, request: bytes) -> bytes:
        return answer(201, "Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")

    async with HandPeer(chunked) as peer:
        fed, clients = client()
        try:
            assert [(await deliver(fed, peer.url())).status for _ in range(3)] == [201] * 3
        finally:
            await clients.aclose()
    assert peer.connections == 1


async def test_interim_answers_are_skipped() -> None:
    async def early_hints(conn: Conn, request: bytes) -> bytes:
        return b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + answer(202)

    async with HandPeer(early_hints) as peer:
        fed, clients = client()
        try:
            assert [(await deliver(fed, peer.url())).status for _ in range(2)] == [202, 202]
        finally:
            await clients.aclose()
    assert peer.connections == 1


async def test_an_oversized_answer_keeps_its_status_but_not_the_connection() -> None:
    big = b"x" * (1024 * 1024)

    async def huge(conn: Conn, request: bytes) -> bytes:
        return answer(202, f"Content-Length: {len(big)}\r\n", big)

    async with HandPeer(huge) as peer:
        fed, clients = client()
        try:
            started = time.monotonic()
            result = await deliver(fed, peer.url())
            assert result.ok and time.monotonic() - started < 2
            assert clients.poster is not None and clients.poster.idle_connections(peer.url()) == 0
            assert (await deliver(fed, peer.url())).ok
        finally:
            await clients.aclose()
    assert peer.connections == 2


async def test_an_endless_chunked_answer_is_cut_off() -> None:
    async def endless(conn: Conn, request: bytes) -> bytes | None:
        conn.writer.write(answer(503, "Transfer-Encoding: chunked\r\nRetry-After: 7\r\n"))
        chunk = b"4000\r\n" + b"y" * 0x4000 + b"\r\n"
        for _ in range(1000):  # 16 MB if anyone read it all
            if conn.writer.transport.is_closing():
                return None
            conn.writer.write(chunk)
            await conn.writer.drain()
        return b"0\r\n\r\n"

    async with HandPeer(endless) as peer:
        fed, clients = client()
        try:
            result = await deliver(fed, peer.url())
        finally:
            await clients.aclose()
    assert result.status == 503 and result.retry_after == 7.0
    assert classify(result.status) is Outcome.RETRY


async def test_an_oversized_head_is_refused() -> None:
    async def head(conn: Conn, request: bytes) -> bytes:
        return answer(202, "X-Filler: " + "z" * 100_000 + "\r\nContent-Length: 0\r\n")

    async with HandPeer(head) as peer:
        fed, clients = client()
        try:
            result = await deliver(fed, peer.url())
        finally:
            await clients.aclose()
    assert result.status is None and "RemoteProtocolError" in str(result.error)


async def test_an_answer_without_length_on_a_kept_alive_connection_is_not_waited_for() -> None:
    async def no_length(conn: Conn, request: bytes) -> bytes:
        return b"HTTP/1.1 202 Accepted\r\n\r\nsome body the peer never ends"

    async with HandPeer(no_length) as peer:
        fed, clients = client(timeout=5)
        try:
            started = time.monotonic()
            assert (await deliver(fed, peer.url())).status == 202
            assert time.monotonic() - started < 1  # not read until the peer closes
            assert clients.poster is not None and clients.poster.idle_connections(peer.url()) == 0
            assert (await deliver(fed, peer.url())).status == 202
        finally:
            await clients.aclose()
    assert peer.connections == 2


async def test_connection_close_and_http_10_answers_are_not_reused() -> None:
    answers = iter([answer(202, "Connection: close\r\nContent-Length: 0\r\n"),
                    b"HTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n", answer(202)])

    async def varied(conn: Conn, request: bytes) -> bytes:
        return next(answers)

    async with HandPeer(varied) as peer:
        fed, clients = client()
        try:
            assert [(await deliver(fed, peer.url())).status for _ in range(3)] == [202] * 3
        finally:
            await clients.aclose()
    assert peer.connections == 3


async def test_garbage_is_a_protocol_error() -> None:
    async def garbage(conn: Conn, request: bytes) -> bytes:
        return b"SMTP ready\r\n\r\n"

    async with HandPeer(garbage) as peer:
        fed, clients = client()
        try:
            result = await deliver(fed, peer.url())
        finally:
            await clients.aclose()
    assert result.status is None and "RemoteProtocolError" in str(result.error)


@pytest.mark.parametrize(("status", "outcome"), [
    (200, Outcome.DELIVERED), (202, Outcome.DELIVERED), (204, Outcome.DELIVERED),
    (410, Outcome.GONE), (400, Outcome.GIVE_UP), (403, Outcome.GIVE_UP), (404, Outcome.GIVE_UP),
    (401, Outcome.RETRY), (429, Outcome.RETRY), (500, Outcome.RETRY), (503, Outcome.RETRY),
    (501, Outcome.GIVE_UP), (302, Outcome.GIVE_UP),
])
async def test_statuses_map_to_outcomes_as_with_httpx(status: int, outcome: Outcome) -> None:
    async def reply(conn: Conn, request: bytes) -> bytes:
        extra = "Location: http://127.0.0.1:1/elsewhere\r\n" if status == 302 else ""
        extra += "Retry-After: 30\r\n" if status in (429, 503) else ""
        return answer(status, extra + ("Content-Length: 0\r\n" if status != 204 else ""))

    async with HandPeer(reply) as peer:
        fed, clients = client()
        try:
            result = await deliver(fed, peer.url())
        finally:
            await clients.aclose()
    assert result.status == status and classify(result.status) is outcome
    assert (result.error is None) == result.ok and (result.ok or result.error == f"HTTP {status}")
    assert result.retry_after == (30.0 if status in (429, 503) else None)
    assert len(peer.requests) == 1  # a redirect is an answer, never followed


# --- failures before an answer ---------------------------------------------------------------


async def test_a_peer_that_never_answers_times_out_and_frees_the_connection() -> None:
    async def silent(conn: Conn, request: bytes) -> bytes:
        await asyncio.sleep(30)
        return answer()

    async with HandPeer(silent) as peer:
        fed, clients = client(timeout=0.5)
        try:
            started = time.monotonic()
            result = await deliver(fed, peer.url())
            assert 0.4 < time.monotonic() - started < 2
            assert clients.poster is not None and clients.poster.idle_connections(peer.url()) == 0
        finally:
            await clients.aclose()
    assert result.status is None and result.error == "no answer within 0.5 s"
    assert classify(result.status) is Outcome.RETRY


async def test_a_peer_dripping_its_answer_is_cut_at_the_deadline() -> None:
    async def drip(conn: Conn, request: bytes) -> bytes:
        for byte in b"HTTP/1.1 202 Accepted\r\n":
            conn.writer.write(bytes([byte]))
            await asyncio.sleep(0.1)
        return b"Content-Length: 0\r\n\r\n"

    async with HandPeer(drip) as peer:
        fed, clients = client(timeout=0.5)
        try:
            result = await deliver(fed, peer.url())
        finally:
            await clients.aclose()
    assert result.status is None and result.error == "no answer within 0.5 s"


async def test_connection_refused() -> None:
    fed, clients = client()
    try:
        result = await deliver(fed, f"http://127.0.0.1:{free_port()}/inbox")
    finally:
        await clients.aclose()
    assert result.status is None and "ConnectError" in str(result.error)
    assert classify(result.status) is Outcome.RETRY


async def test_a_connect_that_hangs_gives_up_at_the_connect_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def never(*args: object, **kwargs: object) -> None:
        await asyncio.sleep(30)

    monkeypatch.setattr(asyncio.get_running_loop(), "create_connection", never)
    fed, clients = client(timeout=5)  # connect timeout 1 s, the whole exchange 5 s
    try:
        started = time.monotonic()
        result = await deliver(fed, f"http://127.0.0.1:{free_port()}/inbox")
        assert 0.9 < time.monotonic() - started < 2
    finally:
        await clients.aclose()
    assert result.status is None and "ConnectError" in str(result.error) and "within 1.0 s" in str(result.error)


async def test_private_addresses_are_refused_unless_allowed() -> None:
    async with HandPeer(await always()) as peer:
        strict, strict_clients = client(allow_private=False)
        try:
            for host in ("127.0.0.1", "localhost"):
                result = await deliver(strict, peer.url(host))
                assert result.status is None and str(result.error).startswith("forbidden target")
            # the transport checks again when it connects (the name may resolve differently
            # the second time: DNS rebinding), whatever the caller checked before
            assert strict_clients.poster is not None
            for host in ("127.0.0.1", "localhost", "[::1]"):
                target = strict_clients.poster.target(peer.url(host))
                with pytest.raises(ConnectError, match="non-public"):
                    await strict_clients.poster.post(target, [], BODY, connect_timeout=1)
            assert peer.connections == 0
        finally:
            await strict_clients.aclose()
        relaxed, relaxed_clients = client(allow_private=True)
        try:
            assert (await deliver(relaxed, peer.url("localhost"))).ok
        finally:
            await relaxed_clients.aclose()
    assert peer.connections == 1


async def test_idle_connections_expire() -> None:
    async with HandPeer(await always()) as peer:
        poster = RawPoster(allow_private=True, ssl_context=ssl.create_default_context(),
                           idle_expiry=0.2)
        fed, clients = client(poster=poster)
        try:
            assert (await deliver(fed, peer.url())).ok
            assert poster.idle_connections(peer.url()) == 1
            await asyncio.sleep(0.3)
            assert (await deliver(fed, peer.url())).ok
        finally:
            await clients.aclose()
    assert peer.connections == 2


# --- TLS -------------------------------------------------------------------------------------


def _certificate(name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A CA-less self-signed certificate for `name` (and 127.0.0.1): server and client contexts."""
    import tempfile

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    with tempfile.NamedTemporaryFile(suffix=".pem") as cert_file, \
            tempfile.NamedTemporaryFile(suffix=".pem") as key_file:
        cert_file.write(cert_pem)
        key_file.write(key_pem)
        cert_file.flush()
        key_file.flush()
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server.load_cert_chain(cert_file.name, key_file.name)
    client_context = ssl.create_default_context(cadata=cert_pem.decode())
    return server, client_context


async def test_https_verifies_the_certificate_and_sends_sni() -> None:
    server_context, trusting = _certificate("localhost")
    seen_sni: list[str | None] = []
    server_context.sni_callback = lambda sock, name, ctx: seen_sni.append(name)  # type: ignore[assignment,misc,func-returns-value]
    async with HandPeer(await always(), tls=server_context) as peer:
        poster = RawPoster(allow_private=True, ssl_context=trusting)
        fed, clients = client(poster=poster)
        try:
            assert [(await deliver(fed, peer.url("localhost"))).status for _ in range(2)] == [202, 202]
            assert peer.connections == 1 and seen_sni == ["localhost"]
        finally:
            await clients.aclose()
        # a certificate nobody vouches for: refused (the default context trusts only real CAs)
        fed, clients = client()
        try:
            result = await deliver(fed, peer.url("localhost"))
        finally:
            await clients.aclose()
        assert result.status is None and "ConnectError" in str(result.error)
        assert "CERTIFICATE_VERIFY_FAILED" in str(result.error)
    # a trusted certificate for another name: refused too
    server_context, trusting = _certificate("elsewhere.example")
    async with HandPeer(await always(), tls=server_context) as peer:
        fed, clients = client(poster=RawPoster(allow_private=True, ssl_context=trusting))
        try:
            result = await deliver(fed, peer.url("localhost"))
        finally:
            await clients.aclose()
    assert result.status is None and "ConnectError" in str(result.error)
    assert len(peer.requests) == 0


# --- signatures, checked by an independent implementation -------------------------------------


@pytest.mark.parametrize("scheme", ["cavage", "rfc9421"])
async def test_signatures_verify_with_bovine_and_http_message_signatures(scheme: str) -> None:
    async with ActorHost(PUBLIC) as keys, Peer(name="verifier") as peer:
        key = load_signing_key(f"{keys.actor_id('blog')}#main-key", PRIVATE, PUBLIC)
        peer.add_actor("reader")
        clients = HostClients.guarded(allow_private=True)
        fed = FederationClient(clients, ClientPolicy(allow_private=True), key)
        try:
            for n in range(3):  # over one kept-alive connection: each request signed afresh
                activity = (b'{"@context": "https://www.w3.org/ns/activitystreams", "type": "Create",'
                            b' "id": "%s/activities/%d", "actor": "%s"}'
                            % (keys.actor_id("blog").encode(), n, keys.actor_id("blog").encode()))
                for inbox in (peer.shared_inbox, f"{peer.base_url}/users/reader/inbox"):
                    result = await fed.deliver(inbox, activity, key, scheme)  # type: ignore[arg-type]
                    assert result.ok, result
        finally:
            await clients.aclose()
    assert len(peer.received) == 6
    for received in peer.received:
        assert received.signature_valid, received.error
        assert received.scheme == scheme
        assert received.signer_key_id == key.key_id


# --- uvloop (what `fedblog worker` runs on) ---------------------------------------------------


def test_on_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> None:
        answers = iter([answer(202), answer(202), answer(410), answer(202, "Connection: close\r\n"
                                                                         "Content-Length: 0\r\n")])

        async def varied(conn: Conn, request: bytes) -> bytes:
            return next(answers)

        async with HandPeer(varied) as peer:
            fed, clients = client()
            try:
                statuses = [(await deliver(fed, peer.url(), scheme)).status
                            for scheme in ("cavage", "rfc9421", "cavage", "cavage")]
            finally:
                await clients.aclose()
        assert statuses == [202, 202, 410, 202] and peer.connections == 1
        refused, clients = client()
        try:
            result = await deliver(refused, f"http://127.0.0.1:{free_port()}/inbox")
        finally:
            await clients.aclose()
        assert "ConnectError" in str(result.error)

    uvloop.run(scenario())
