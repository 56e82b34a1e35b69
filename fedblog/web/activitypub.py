"""ActivityPub documents: the actors, their collections, posts and activities (HTML for browsers)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fedblog.blog.conversation import COLLECTIONS
from fedblog.outbox import as2
from fedblog.storage import comments as comments_store
from fedblog.storage import followers as followers_store
from fedblog.storage import outbox as outbox_store
from fedblog.storage import posts as posts_store
from fedblog.storage import quotes as quotes_store
from fedblog.storage import settings as settings_store
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


def _offset(request: Request) -> int:
    return min(_int_param(request, "offset") or 0, 10**9)


async def post(request: Request) -> Response:
    blog = services(request)
    runtime = blog.runtime
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
        return as2_response(as2.with_context(await blog.conversations.post_note(found)))
    return await pages.post_page(request, found)


async def post_collection(request: Request) -> Response:
    """replies (the whole visible thread), context (the post, then the thread), likes, shares."""
    kind: str = request.path_params["kind"]
    if kind not in COLLECTIONS:
        return json_error(404, "no such collection")
    served = await services(request).conversations.post_collection(
        request.path_params["id"], kind, page="page" in request.query_params,
        offset=_offset(request))
    if served is None:
        return json_error(404, "no such post")
    return as2_response(served.document, status=served.status)


async def comment(request: Request) -> Response:
    """The author's answers are Notes of this blog and dereference here; a browser is sent to
    any visible comment's place on its post's page."""
    conversations = services(request).conversations
    comment_id: int = request.path_params["id"]
    if not wants_as2(request):
        anchor = await conversations.comment_anchor(comment_id)
        return RedirectResponse(anchor, 302) if anchor else pages.not_found(request)
    served = await conversations.answer(comment_id)
    if served is None:
        return json_error(404, "no such comment")
    return as2_response(served.document, status=served.status)


async def comment_collection(request: Request) -> Response:
    """An answer's replies, likes and shares."""
    served = await services(request).conversations.answer_collection(
        request.path_params["id"], request.path_params["kind"],
        page="page" in request.query_params, offset=_offset(request))
    if served is None:
        return json_error(404, "no such collection")
    return as2_response(served.document, status=served.status)


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
    Route("/comments/{id:int}/{kind:str}", comment_collection),
    Route("/approvals/{token:str}", approval),
    Route("/quote-authorizations/{token:str}", quote_authorization),
]
