"""ActivityPub documents: the actors, their collections, posts and activities (HTML for browsers)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fedblog.models import Post
from fedblog.outbox import as2
from fedblog.storage import actors as actors_store
from fedblog.storage import comments as comments_store
from fedblog.storage import followers as followers_store
from fedblog.storage import outbox as outbox_store
from fedblog.storage import posts as posts_store
from fedblog.storage import quotes as quotes_store
from fedblog.storage import reactions as reactions_store
from fedblog.storage import settings as settings_store
from fedblog.storage.db import Connection
from fedblog.urls import Urls
from fedblog.web import pages
from fedblog.web.responses import as2_response, json_error, services, wants_as2

PAGE_SIZE = 20


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    return int(raw) if raw is not None and raw.isdigit() and len(raw) < 19 else None


async def blog_actor(request: Request) -> Response:
    if request.path_params["username"] != services(request).runtime.urls.username:
        return json_error(404, "no such actor")
    if not wants_as2(request):
        return RedirectResponse(services(request).runtime.urls.home, status_code=302)
    runtime = services(request).runtime
    async with runtime.db.connection() as conn:
        settings = await settings_store.get_settings(conn)
    return as2_response(as2.blog_actor(runtime.urls, settings, runtime.blog_key.public_key_pem))


async def instance_actor(request: Request) -> Response:
    runtime = services(request).runtime
    return as2_response(as2.instance_actor(runtime.urls, runtime.instance_key.public_key_pem))


async def outbox(request: Request) -> Response:
    runtime = services(request).runtime
    urls = runtime.urls
    async with runtime.db.connection() as conn:
        if "page" not in request.query_params:
            total = await outbox_store.count_public(conn)
            return as2_response(as2.ordered_collection(urls.outbox, total, f"{urls.outbox}?page=true"))
        before = _int_param(request, "max_id")
        items = await outbox_store.list_public(conn, limit=PAGE_SIZE, before_pk=before)
    page_id = f"{urls.outbox}?page=true" + (f"&max_id={before}" if before else "")
    next_page = f"{urls.outbox}?page=true&max_id={items[-1].pk}" if len(items) == PAGE_SIZE else None
    return as2_response(as2.ordered_page(page_id, urls.outbox, [a.body for a in items], next_page))


async def followers(request: Request) -> Response:
    runtime = services(request).runtime
    urls = runtime.urls
    async with runtime.db.connection() as conn:
        settings = await settings_store.get_settings(conn)
        total = await followers_store.count(conn)
        if not settings.followers_visible:
            return as2_response(as2.ordered_collection(urls.followers, total, None))
        if "page" not in request.query_params:
            return as2_response(as2.ordered_collection(urls.followers, total,
                                                       f"{urls.followers}?page=1"))
        number = max(1, _int_param(request, "page") or 1)
        rows = await followers_store.list_page(conn, state="accepted", limit=PAGE_SIZE,
                                               offset=(number - 1) * PAGE_SIZE)
    next_page = f"{urls.followers}?page={number + 1}" if len(rows) == PAGE_SIZE else None
    return as2_response(as2.ordered_page(f"{urls.followers}?page={number}", urls.followers,
                                         [f.actor.id for f in rows], next_page))


async def following(request: Request) -> Response:
    urls = services(request).runtime.urls
    return as2_response(as2.ordered_collection(urls.following, 0, None))


async def _note_document(conn: Connection, urls: Urls, post: Post) -> as2.Document:
    settings = await settings_store.get_settings(conn)
    reactions = await reactions_store.counts(conn, urls.post(post.id))
    replies = await comments_store.count_approved(conn, post.id, None, direct=True)
    return as2.note(post, urls, replies_count=replies, likes_count=reactions["like"],
                    shares_count=reactions["announce"],
                    moderation_policy=settings.moderation_policy,
                    quote_policy=settings.quote_policy)


async def post(request: Request) -> Response:
    runtime = services(request).runtime
    post_id: int = request.path_params["id"]
    async with runtime.db.connection() as conn:
        found = await posts_store.get(conn, post_id)
        if found is None:
            return json_error(404, "no such post") if wants_as2(request) else pages.not_found(request)
        if found.deleted_at is not None:
            tomb = as2.tombstone(runtime.urls.post(found.id), found.deleted_at)
            if wants_as2(request):
                return as2_response(as2.with_context(tomb), status=410)
            return pages.gone(request)
        if wants_as2(request):
            return as2_response(as2.with_context(await _note_document(conn, runtime.urls, found)))
    return await pages.post_page(request, found)


def _paged(request: Request, collection_id: str, total: int, items: list[str],
           after: int, last_id: int | None) -> Response:
    """A collection paged by comment id; the first page is embedded, as Mastodon expects."""
    next_page = (f"{collection_id}?page=true&min_id={last_id}"
                 if last_id is not None and len(items) >= PAGE_SIZE else None)
    page_id = f"{collection_id}?page=true" + (f"&min_id={after}" if after else "")
    if "page" in request.query_params:
        return as2_response(as2.ordered_page(page_id, collection_id, items, next_page))
    first = as2.ordered_page(page_id, collection_id, items, next_page)
    first.pop("@context")
    document = as2.ordered_collection(collection_id, total, None)
    document["first"] = first
    return as2_response(document)


async def post_collection(request: Request) -> Response:
    """replies (approved direct replies), context (the whole thread), likes and shares."""
    runtime = services(request).runtime
    urls = runtime.urls
    post_id: int = request.path_params["id"]
    kind: str = request.path_params["kind"]
    if kind not in ("replies", "likes", "shares", "context"):
        return json_error(404, "no such collection")
    collection_id = f"{urls.post(post_id)}/{kind}"
    async with runtime.db.connection() as conn:
        found = await posts_store.get(conn, post_id)
        if found is None or found.deleted_at is not None:
            return json_error(404, "no such post")
        if kind in ("likes", "shares"):
            reaction = "like" if kind == "likes" else "announce"
            actors = await reactions_store.actors(conn, urls.post(post_id), reaction)
            counts = await reactions_store.counts(conn, urls.post(post_id))
            document = as2.ordered_collection(collection_id, counts[reaction], None)
            document["type"] = "Collection"
            document["items"] = actors
            return as2_response(document)
        after = _int_param(request, "min_id") or 0
        if kind == "replies":
            rows = await comments_store.approved_direct_replies(
                conn, post_id, None, limit=PAGE_SIZE, after_id=after)
            total = await comments_store.count_approved(conn, post_id, None, direct=True)
        else:
            rows = [c for c in await comments_store.approved_thread(conn, post_id) if c.id > after]
            rows = rows[:PAGE_SIZE]
            total = await comments_store.count_approved(conn, post_id)
    items = [c.ap_id for c in rows]
    if kind == "context" and after == 0:
        items = [urls.post(post_id), *items]
    return _paged(request, collection_id, total, items, after, rows[-1].id if rows else None)


async def comment(request: Request) -> Response:
    """The author's answers are Notes of this blog and dereference here."""
    runtime = services(request).runtime
    async with runtime.db.connection() as conn:
        found = await comments_store.get(conn, request.path_params["id"])
        if found is None or not found.is_author:
            return json_error(404, "no such comment")
        if found.state == "deleted":
            tomb = as2.tombstone(found.ap_id, found.updated_at or found.published_at)
            return as2_response(as2.with_context(tomb), status=410)
        parent = (await comments_store.get(conn, found.parent_comment_id)
                  if found.parent_comment_id else None)
        commenter = await actors_store.get(conn, parent.actor_id) if parent else None
        counts = await reactions_store.counts(conn, found.ap_id)
    note = as2.answer_note(found, runtime.urls, commenter=commenter,
                           counts=as2.Counts(0, counts["like"], counts["announce"]))
    if not wants_as2(request):
        return RedirectResponse(f"{runtime.urls.post(found.post_id)}#comment-{found.id}", 302)
    return as2_response(as2.with_context(note))


async def approval(request: Request) -> Response:
    """A reply's approval dereferences while the approval stands; 410 once it is withdrawn."""
    runtime = services(request).runtime
    token: str = request.path_params["token"]
    async with runtime.db.connection() as conn:
        found = await comments_store.by_approval_token(conn, token)
    if found is None or found.state != "approved":
        return json_error(410, "this approval was withdrawn or never existed")
    return as2_response(as2.reply_authorization(runtime.urls, token, found.ap_id,
                                                found.in_reply_to))


async def activity(request: Request) -> Response:
    """Published activities dereference at their id (Create at /posts/N/activity)."""
    runtime = services(request).runtime
    activity_id = runtime.urls.base + request.url.path
    async with runtime.db.connection() as conn:
        stored = await outbox_store.get_activity(conn, activity_id)
    if stored is None or not stored.public:
        return json_error(404, "no such activity")
    return as2_response(stored.body)


async def quote_authorization(request: Request) -> Response:
    """A quote's authorization dereferences while it stands; revoked or unknown is 410."""
    runtime = services(request).runtime
    token: str = request.path_params["token"]
    async with runtime.db.connection() as conn:
        found = await quotes_store.by_token(conn, token)
    if found is None or found.state != "approved":
        return json_error(410, "this quote authorization was revoked or never existed")
    return as2_response(as2.quote_authorization(runtime.urls, token, found.quoting_object_id,
                                                runtime.urls.post(found.post_id)))


routes = [
    Route("/users/{username}", blog_actor),
    Route("/actor", instance_actor),
    Route("/users/{username}/outbox", outbox),
    Route("/users/{username}/followers", followers),
    Route("/users/{username}/following", following),
    Route("/posts/{id:int}", post),
    Route("/posts/{id:int}/activity", activity),
    Route("/posts/{id:int}/{kind:str}", post_collection),
    Route("/activities/{token:str}", activity),
    Route("/comments/{id:int}", comment),
    Route("/comments/{id:int}/activity", activity),
    Route("/approvals/{token:str}", approval),
    Route("/quote-authorizations/{token:str}", quote_authorization),
]
