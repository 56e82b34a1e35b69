"""What happens to an inbox POST before the 202: verify, parse, check the signer, store once."""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass

from fedblog.blog.blocklist import Blocklist
from fedblog.federation.hosts import BadHost, normalise_host, url_host, url_host_or_empty
from fedblog.federation.signatures import (
    HttpRequestParts,
    ParsedSignature,
    SignatureError,
    VerifyPolicy,
    check_algorithm,
    parse_signature,
    precheck_signature,
    signed_authority,
    verify_signature,
)
from fedblog.federation.vocab import (
    Activity,
    VocabError,
    check_json_document,
    host_of,
    parse_activity,
)
from fedblog.inbox.batcher import InboxBatcher
from fedblog.inbox.context import PrecheckContext, Rejected
from fedblog.inbox.handlers import PRECHECKS
from fedblog.inbox.keyring import Keyring, KeyUnavailable, ResolvedKey
from fedblog.inbox.ratelimit import TokenBuckets
from fedblog.storage.inbox import NewInboxItem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    activity_id: str
    type: str
    duplicate: bool


LONE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _peek(body: bytes) -> tuple[object | None, str | None]:
    """The parsed body (None when it is no JSON: the checks after the key say why) and its
    top-level "actor" id as json.loads reads it; Rejected(400) when the top level names any key
    twice (the parser keeps the last, a scan of the raw body would find the first)."""
    last: list[list[tuple[str, object]]] = [[]]

    def keep(pairs: list[tuple[str, object]]) -> dict[str, object]:
        last[0] = pairs  # the top-level object closes last
        return dict(pairs)

    try:
        data = json.loads(body, object_pairs_hook=keep, parse_constant=_no_constants)
    except (ValueError, UnicodeError, RecursionError):
        return None, None
    if not isinstance(data, dict):
        return data, None
    if len(data) != len(last[0]):
        names = [key for key, _ in last[0]]
        twice = next(key for index, key in enumerate(names) if key in names[:index])
        raise Rejected(400, f"duplicate_key: the activity names {twice[:40]!r} more than once")
    actor = data.get("actor")
    if isinstance(actor, dict):
        actor = actor.get("id")
    return data, (actor if isinstance(actor, str) and actor else None)


def _stored_text(body: bytes, data: object) -> str:
    """The JSON text stored for `body` (already parsed into `data`): the request's own text when
    it is plain UTF-8 (no BOM, no escaped lone surrogate), else `data` encoded again. Either is
    valid UTF-8 text that PostgreSQL's jsonb reads as `data`; UnicodeError when none can be."""
    if not body.startswith(b"\xef\xbb\xbf") and not LONE_SURROGATE.search(body):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            pass  # UTF-16/32 JSON, or bytes only "surrogatepass" decodes: encode it ourselves
    text = json.dumps(data, ensure_ascii=False)
    text.encode("utf-8")  # lone surrogates (escaped or raw) cannot be stored
    return text


class InboxReceiver:
    """`host_rate` and `actor_rate` are requests per second each host and each actor may send
    (bursts of five seconds' worth)."""

    def __init__(self, keyring: Keyring, blocklist: Blocklist, batcher: InboxBatcher,
                 prechecks: PrecheckContext, *, policy: VerifyPolicy, host_rate: float,
                 actor_rate: float) -> None:
        self.keyring = keyring
        self.blocklist = blocklist
        self.batcher = batcher
        self.prechecks = prechecks
        self.policy = policy
        self.host_limits = TokenBuckets(host_rate, host_rate * 5)
        self.actor_limits = TokenBuckets(actor_rate, actor_rate * 5)
        urls = prechecks.urls
        self.own_scheme = urls.base.split(":", 1)[0].lower()
        self.own_host = url_host(urls.base)
        self.own_actors = frozenset({urls.actor, urls.instance_actor})

    async def receive(self, request: HttpRequestParts, sender_ip: str | None) -> Accepted:
        parsed = self._parse_signature(request)
        peeked = self._gate(parsed.key_id, request.body)
        self._before_key(parsed, request)
        key = await self._verify(parsed, request)
        data, text, activity = self._parse_body(request.body, peeked)
        if activity.actor in self.own_actors or url_host_or_empty(activity.actor) == self.own_host:
            raise Rejected(403, "own_actor: this server's own activities are not taken from outside")
        self._refuse_blocked(activity)
        if host_of(activity.id) != host_of(activity.actor):
            raise Rejected(400, f"activity id {activity.id} is not on its actor's host")
        if activity.actor != key.actor_id:
            # A forwarded activity (signed by someone else) needs its own proof; not yet supported.
            raise Rejected(401, f"signed by {key.actor_id}, but the activity's actor is {activity.actor}")
        precheck = PRECHECKS.get(activity.type)
        if precheck is not None:
            await precheck(self.prechecks, activity)
        item = NewInboxItem(
            activity_id=activity.id, actor_id=activity.actor, type=activity.type,
            body=data, key_id=key.key_id, sender_ip=sender_ip, body_json=text,
        )
        stored = await self.batcher.store(item)
        return Accepted(activity.id, activity.type, duplicate=not stored)

    def _gate(self, key_id: str, body: bytes) -> object | None:
        """Before any key fetch: blocked senders get 403, floods 429, a body naming a top-level
        key twice 400. The actor is the one the parser keeps (escapes decoded), so the limit
        and the block apply to the actor the activity is processed as."""
        blocklist = self.blocklist
        if blocklist.url_blocked(key_id):
            raise Rejected(403, "the sender is blocked")
        peeked, claimed = _peek(body)
        if claimed and blocklist.actor_blocked(claimed):
            raise Rejected(403, "the sender is blocked")
        now = time.monotonic()
        for buckets, key in ((self.host_limits, url_host_or_empty(key_id)),
                             (self.actor_limits, claimed or key_id.split("#")[0])):
            wait = buckets.take(key, now)
            if wait is not None:
                raise Rejected(429, "too many requests", retry_after=wait)
        return peeked

    def _before_key(self, parsed: ParsedSignature, request: HttpRequestParts) -> None:
        """What needs no key, checked before one is fetched: the Date window, the Digest, the
        signed-header set (precheck_signature); that the request was signed for this host (a
        request signed for a follower's server and replayed here is refused); and that the key
        is not one of this server's own (the blog's deliveries replayed back at it)."""
        try:
            precheck_signature(parsed, request, now=time.time(), policy=self.policy)
        except SignatureError as exc:
            raise Rejected(401, f"{exc.code}: {exc.message}") from exc
        authority = signed_authority(parsed, request)
        if authority is None:
            raise Rejected(401, "wrong_host: the signature does not cover the Host")
        try:
            signed_for = normalise_host(authority, scheme=self.own_scheme)
        except BadHost:
            signed_for = ""
        if signed_for != self.own_host:
            raise Rejected(401, f"wrong_host: signed for {authority[:100]!r}, not for this server")
        if url_host_or_empty(parsed.key_id) == self.own_host:
            raise Rejected(403, "own_key: signed with a key of this server")

    def _refuse_blocked(self, activity: Activity) -> None:
        blocklist = self.blocklist
        ids = [activity.id, activity.object_id or "", *activity.objects]
        if blocklist.actor_blocked(activity.actor) or any(
                blocklist.domain_blocked(host_of(i)) for i in ids if i):
            raise Rejected(403, "the sender or an object of the activity is blocked")

    def _parse_signature(self, request: HttpRequestParts) -> ParsedSignature:
        try:
            parsed = parse_signature(request)
            # An algorithm we cannot verify is refused before any key is fetched.
            check_algorithm(parsed)
            return parsed
        except SignatureError as exc:
            raise Rejected(401, f"{exc.code}: {exc.message}") from exc

    async def _verify(self, parsed: ParsedSignature, request: HttpRequestParts) -> ResolvedKey:
        try:
            key = await self.keyring.resolve(parsed.key_id)
        except KeyUnavailable as exc:
            raise Rejected(401, f"unknown_key: {exc}") from exc
        try:
            verify_signature(parsed, request, key.public_key, now=time.time(), policy=self.policy)
            return await self.keyring.confirm(key)
        except SignatureError as exc:
            if exc.code != "signature_mismatch" or not self.keyring.may_refresh(key):
                raise Rejected(401, f"{exc.code}: {exc.message}") from exc
        # The actor may have rotated its key: fetch it once more and try again.
        try:
            key = await self.keyring.resolve(parsed.key_id, refresh=True)
            verify_signature(parsed, request, key.public_key, now=time.time(), policy=self.policy)
        except KeyUnavailable as exc:
            raise Rejected(401, f"unknown_key: {exc}") from exc
        except SignatureError as exc:
            raise Rejected(401, f"{exc.code}: {exc.message}") from exc
        return await self.keyring.confirm(key)

    @staticmethod
    def _parse_body(body: bytes, peeked: object | None) -> tuple[object, str, Activity]:
        """The parsed body (`peeked`, parsed before the key was fetched, when it was JSON), the
        JSON text to store and the activity."""
        if b"\\u0000" in body:
            raise Rejected(400, "body contains a NUL character")
        try:
            data = peeked if peeked is not None else json.loads(body, parse_constant=_no_constants)
            text = _stored_text(body, data)
        except (ValueError, UnicodeError) as exc:
            raise Rejected(400, f"body is not JSON: {exc}") from exc
        except RecursionError as exc:
            raise Rejected(400, "body is nested too deeply") from exc
        try:
            check_json_document(data, "body")  # 1e999 and the like, which PostgreSQL refuses
            return data, text, parse_activity(data)
        except VocabError as exc:
            raise Rejected(400, f"not an activity: {exc}") from exc
