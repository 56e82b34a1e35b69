"""How Mastodon, GoToSocial and Misskey read a remote conversation, ported from their source so
that a test can run their rules against the real blog over HTTP. Each rule names the file (and
lines, ±1) it was read from; versions: Mastodon main after 4.4 (json_ld_helper.rb 03006bdf,
fetch_replies_service.rb 9eb4ba85, fetch_all_replies_service.rb faa53fc5,
fetch_all_replies_worker.rb fefc7457, signed_request.rb bed196e4), GoToSocial v0.19/v0.20
(internal/federation/dereferencing/thread.go, collection.go), Misskey 2024-25
(packages/backend/src/core/activitypub/models/ApNoteService.ts 1ec6f48)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

Fetch = Callable[[str], Awaitable[dict[str, Any] | None]]


def value_or_id(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else value


def non_matching_uri_hosts(a: str, b: str) -> bool:
    """json_ld_helper.rb L83-90: http(s) only, hosts compared case-insensitively. (Every
    test server lives on 127.0.0.1, one port each: here the port stands for the host.)"""
    pa, pb = urlsplit(a), urlsplit(b)
    if pb.scheme not in ("http", "https"):
        return True
    return pa.netloc.lower() != pb.netloc.lower()


def collection_page_items(collection: dict[str, Any]) -> list[Any]:
    """json_ld_helper.rb L284-291: Collection/CollectionPage read `items`,
    OrderedCollection/OrderedCollectionPage `orderedItems`, any other type nothing."""
    kind = collection.get("type")
    if kind in ("Collection", "CollectionPage"):
        return list(collection.get("items") or [])
    if kind in ("OrderedCollection", "OrderedCollectionPage"):
        return list(collection.get("orderedItems") or [])
    return []


async def fetch_collection_page(collection_or_uri: Any, fetch: Fetch,
                                reference_uri: str | None) -> dict[str, Any] | None:
    """json_ld_helper.rb L304-309: an embedded page is used as it is; a URL is fetched only
    when it is on the reference's host."""
    if isinstance(collection_or_uri, dict):
        return collection_or_uri
    if not isinstance(collection_or_uri, str):
        return None
    if reference_uri is not None and non_matching_uri_hosts(reference_uri, collection_or_uri):
        return None
    return await fetch(collection_or_uri)


async def collection_items(collection_or_uri: Any, fetch: Fetch, *, max_pages: int | None = 1,
                           max_items: int | None = None,
                           reference_uri: str | None = None) -> tuple[list[Any], int]:
    """json_ld_helper.rb L262-282; also how many pages were read. `first` replaces the
    collection; a whole page is added before the limits are checked."""
    collection = await fetch_collection_page(collection_or_uri, fetch, reference_uri)
    if collection is None:
        return [], 0
    if collection.get("first"):
        collection = await fetch_collection_page(collection["first"], fetch, reference_uri)
    items: list[Any] = []
    pages = 0
    while collection is not None:
        items.extend(collection_page_items(collection))
        pages += 1
        if max_items is not None and len(items) >= max_items:
            break
        if max_pages is not None and pages >= max_pages:
            break
        nxt = collection.get("next")
        collection = await fetch_collection_page(nxt, fetch, reference_uri) if nxt else None
    return items, pages


# fetch_replies_service.rb L7; fetch_all_replies_service.rb L7; fetch_all_replies_worker.rb L15
MAX_REPLIES_INLINE = 5
MAX_REPLIES_ALL = 500
MAX_REPLIES_TREE = 1000
MAX_PAGES_TREE = 500


async def fetch_replies_inline(replies: Any, fetch: Fetch, reference_uri: str) -> list[str]:
    """FetchRepliesService as Create#fetch_replies calls it (allow_synchronous_requests:
    false): only an embedded collection (L11), one page (L15), at most 5 (L17), and only
    replies on the reference's host (L38)."""
    if not isinstance(replies, dict):
        return []
    items, _ = await collection_items(replies, fetch, max_pages=1, max_items=MAX_REPLIES_INLINE,
                                      reference_uri=reference_uri)
    uris = [value_or_id(i) for i in items]
    return [u for u in uris if isinstance(u, str)
            and not non_matching_uri_hosts(reference_uri, u)][:MAX_REPLIES_INLINE]


async def fetch_all_replies(replies: Any, fetch: Fetch, reference_uri: str) -> list[str]:
    """FetchAllRepliesService (fetch_all_replies_service.rb L17-53): no host filter on items,
    paging stops once the base class's 5 items are in (L17 resolves MAX_REPLIES to 5), then at
    most 500 are taken (L49). Pages given as URLs must be on the status's host."""
    items, _ = await collection_items(replies, fetch, max_pages=None,
                                      max_items=MAX_REPLIES_INLINE, reference_uri=reference_uri)
    uris = [value_or_id(i) for i in items]
    return [u for u in uris if isinstance(u, str)][:MAX_REPLIES_ALL]


@dataclass
class Status:
    """What status_parser.rb keeps of a Note."""

    uri: str
    account: str
    in_reply_to: str | None
    text: str
    spoiler_text: str
    sensitive: bool
    edited: bool
    media: list[str]
    language: str | None


def parse_status(note: dict[str, Any]) -> Status:
    """status_parser.rb: text from content, else the first contentMap value (L40-46);
    spoiler_text from summary (L58-64); sensitive (L97-99); edited_at from updated when it
    differs from published (L87-91); language, the first contentMap key (L113-116); media
    urls (media_attachment_parser.rb L17-22, at most 4: Status::MEDIA_ATTACHMENTS_LIMIT)."""
    content_map = note.get("contentMap") or {}
    text = note.get("content") or next(iter(content_map.values()), "")
    media = [value_or_id(a.get("url")) for a in (note.get("attachment") or [])
             if isinstance(a, dict)][:4]
    return Status(
        uri=note["id"], account=value_or_id(note.get("attributedTo")),
        in_reply_to=value_or_id(note.get("inReplyTo")), text=text,
        spoiler_text=note.get("summary") or "", sensitive=bool(note.get("sensitive")),
        edited=bool(note.get("updated")) and note.get("updated") != note.get("published"),
        media=[m for m in media if isinstance(m, str)],
        language=next(iter(content_map), None))


def trustworthy_attribution(uri: str, actor_uri: str | None) -> bool:
    """fetch_remote_status_service.rb L28-37, L60-64: a fetched Note needs `attributedTo`
    on its own host."""
    return actor_uri is not None and not non_matching_uri_hosts(uri, actor_uri)


@dataclass
class MastodonServer:
    """A Mastodon that has never seen the thread, opening a blog post: it fetches the Note,
    resolves each reply's ancestors (ThreadResolveWorker) and walks the replies as
    FetchAllRepliesWorker does (depth-first, at most 1000 statuses and 500 pages)."""

    fetch: Fetch
    statuses: dict[str, Status] = field(default_factory=dict)

    async def resolve(self, uri: str, depth: int = 0) -> Status | None:
        if uri in self.statuses:
            return self.statuses[uri]
        note = await self.fetch(uri)
        if note is None or note.get("id") != uri:
            return None
        if not trustworthy_attribution(uri, value_or_id(note.get("attributedTo"))):
            return None
        status = parse_status(note)
        self.statuses[uri] = status
        if status.in_reply_to and depth < 20:
            await self.resolve(status.in_reply_to, depth + 1)
        return status

    async def open(self, post_url: str) -> None:
        """Fetch the post, then every reply FetchAllRepliesWorker would reach."""
        note = await self.fetch(post_url)
        assert note is not None
        self.statuses[post_url] = parse_status(note)
        to_walk = [post_url]
        fetched: set[str] = set()
        pages = 0
        while to_walk and len(fetched) < MAX_REPLIES_TREE and pages < MAX_PAGES_TREE:
            uri = to_walk.pop()
            document = await self.fetch(uri)
            if document is None:
                continue
            pages += 1
            for reply in await fetch_all_replies(document.get("replies"), self.fetch, uri):
                if reply in fetched:
                    continue
                fetched.add(reply)
                if await self.resolve(reply) is not None:
                    to_walk.append(reply)

    def children(self, uri: str) -> list[str]:
        return sorted(s.uri for s in self.statuses.values() if s.in_reply_to == uri)


def gotosocial_problems(note: dict[str, Any]) -> list[str]:
    """What stops GoToSocial from backfilling through `replies` (collection.go L88-140,
    thread.go L304-363): it must be embedded, `first` embedded, the types paired, items ids,
    `next` a URL; and a reply's parent must come before it (a descendant found in the walk
    is linked to its parent only if that is already stored)."""
    problems: list[str] = []
    replies = note.get("replies")
    if not isinstance(replies, dict):
        return ["replies is not embedded"]
    first = replies.get("first")
    if not isinstance(first, dict):
        return ["replies.first is not embedded"]
    pairs = {"OrderedCollection": ("OrderedCollectionPage", "orderedItems"),
             "Collection": ("CollectionPage", "items")}
    page_type, key = pairs.get(replies.get("type"), (None, None))
    if first.get("type") != page_type or key not in first:
        problems.append(f"types not paired: {replies.get('type')} / {first.get('type')}")
    if "next" in first and not isinstance(first["next"], str):
        problems.append("next is not a URL")
    if not all(isinstance(i, str) for i in first.get(key or "", [])):
        problems.append("an item is not an id")
    return problems


def misskey_problems(note: dict[str, Any], fetched_from: str) -> list[str]:
    """What makes Misskey refuse a Note (ApNoteService.ts validateNote L80-102, L152-154;
    ApResolverService.ts L73-78): no `#` in the id, the id and attributedTo on the host it
    came from, attributedTo present."""
    problems = []
    host = urlsplit(fetched_from).netloc
    if "#" in note.get("id", ""):
        problems.append("id has a fragment")
    if urlsplit(note.get("id", "")).netloc != host:
        problems.append("id on another host")
    actor = value_or_id(note.get("attributedTo"))
    if not isinstance(actor, str):
        problems.append("no attributedTo")
    elif urlsplit(actor).netloc != host:
        problems.append("attributedTo on another host")
    return problems


def mastodon_accept_effect(accept: dict[str, Any], *, follow_request_uris: frozenset[str],
                           relay_follow_uris: frozenset[str] = frozenset()) -> str:
    """What Mastodon does with an Accept it receives: app/lib/activitypub/activity/accept.rb
    (0486db9f) L2-9. A relay's Follow (by the object's id), else a FollowRequest whose uri is
    the object's id, else an embedded Follow (found by its actor); anything else — an Accept of
    a reply, say — does nothing."""
    obj = accept.get("object")
    object_uri = value_or_id(obj)
    if object_uri in relay_follow_uris:
        return "relay accepted"
    if object_uri in follow_request_uris:
        return "follow accepted"
    if isinstance(obj, dict) and obj.get("type") == "Follow":
        return "embedded follow accepted"
    return "nothing"
