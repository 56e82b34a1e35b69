"""ActivityPub documents: the actors, their collections, posts and activities (browsers asking
for an actor or a comment are sent to its page; /posts/<id> itself is web/post_page.py's
route, which hands ActivityPub clients to `post` here)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fedblog.blog.conversation import COLLECTIONS
from fedblog.outbox import as2
from fedblog.web.errors import not_found
from fedblog.web.responses import as2_response, json_error, services, wants_as2

PAGE_SIZE = 20


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    return int(raw) if raw is not None and raw.isascii() and raw.isdigit() and len(raw) < 19 else None


async def blog_actor(request: Request) -> Response:
    if request.path_params["username"] != services(request).runtime.urls.username:
        return json_error(404, "no such actor")
    if not wants_as2(request):
        return RedirectResponse(services(request).runtime.urls.home, status_code=302)
    blog = services(request)
    settings = await blog.profile.get()
    return as2_response(as2.blog_actor(blog.runtime.urls, settings,
                                       blog.runtime.blog_key.public_key_pem))


async def instance_actor(request: Request) -> Response:
    runtime = services(request).runtime
    return as2_response(as2.instance_actor(runtime.urls, runtime.instance_key.public_key_pem))


async def outbox(request: Request) -> Response:
    blog = services(request)
    urls = blog.runtime.urls
    if "page" not in request.query_params:
        total = await blog.published.outbox_total()
        return as2_response(as2.ordered_collection(urls.outbox, total, f"{urls.outbox}?page=true"))
    before = _int_param(request, "max_id")
    items = await blog.published.outbox_page(limit=PAGE_SIZE, before=before)
    page_id = f"{urls.outbox}?page=true" + (f"&max_id={before}" if before else "")
    next_page = f"{urls.outbox}?page=true&max_id={items[-1].pk}" if len(items) == PAGE_SIZE else None
    return as2_response(as2.ordered_page(page_id, urls.outbox, [a.body for a in items], next_page))


async def followers(request: Request) -> Response:
    blog = services(request)
    urls = blog.runtime.urls
    number = max(1, _int_param(request, "page") or 1) if "page" in request.query_params else None
    found = await blog.published.followers(page=number, limit=PAGE_SIZE)
    if not found.visible:
        return as2_response(as2.ordered_collection(urls.followers, found.total, None))
    if number is None:
        return as2_response(as2.ordered_collection(urls.followers, found.total,
                                                   f"{urls.followers}?page=1"))
    next_page = (f"{urls.followers}?page={number + 1}" if len(found.actor_ids) == PAGE_SIZE
                 else None)
    return as2_response(as2.ordered_page(f"{urls.followers}?page={number}", urls.followers,
                                         found.actor_ids, next_page))


async def following(request: Request) -> Response:
    urls = services(request).runtime.urls
    return as2_response(as2.ordered_collection(urls.following, 0, None))


def _offset(request: Request) -> int:
    return min(_int_param(request, "offset") or 0, 10**9)


async def post(request: Request) -> Response:
    """A post's Note; 410 and a Tombstone once it is deleted."""
    blog = services(request)
    found = await blog.posts.get(request.path_params["id"])
    if found is None:
        return json_error(404, "no such post")
    if found.deleted_at is not None:
        tomb = as2.tombstone(blog.runtime.urls.post(found.id), found.deleted_at)
        return as2_response(as2.with_context(tomb), status=410)
    return as2_response(as2.with_context(await blog.conversations.post_note(found)))


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
        return RedirectResponse(anchor, 302) if anchor else not_found(request)
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
    """A reply's Accept dereferences at its id while the approval stands (GoToSocial stores
    that id as the reply's `approvedBy` and fetches it to verify); 410 once withdrawn."""
    blog = services(request)
    urls = blog.runtime.urls
    token: str = request.path_params["token"]
    found = await blog.published.approval_accept(token, urls.approval(token))
    if found is None:
        return json_error(410, "this approval was withdrawn or never existed")
    if found.accept is not None:
        return as2_response(found.accept)
    # Approved before Accepts were kept: the authorization their `result` named.
    return as2_response(as2.reply_authorization(urls, token, found.reply.ap_id,
                                                found.reply.in_reply_to))


async def reply_authorization(request: Request) -> Response:
    """The ReplyAuthorization a ReplyRequest's Accept names as its `result`; 410 once
    withdrawn."""
    blog = services(request)
    token: str = request.path_params["token"]
    found = await blog.published.approval(token)
    if found is None:
        return json_error(410, "this approval was withdrawn or never existed")
    return as2_response(as2.reply_authorization(blog.runtime.urls, token, found.ap_id,
                                                found.in_reply_to))


async def activity(request: Request) -> Response:
    """Published activities dereference at their id (Create at /posts/N/activity)."""
    blog = services(request)
    stored = await blog.published.activity(blog.runtime.urls.base + request.url.path)
    if stored is None:
        return json_error(404, "no such activity")
    return as2_response(stored.body)


async def quote_authorization(request: Request) -> Response:
    """A quote's authorization dereferences while it stands; revoked or unknown is 410."""
    blog = services(request)
    runtime = blog.runtime
    token: str = request.path_params["token"]
    found = await blog.published.quote_authorization(token)
    if found is None:
        return json_error(410, "this quote authorization was revoked or never existed")
    return as2_response(as2.quote_authorization(runtime.urls, token, found.quoting_object_id,
                                                runtime.urls.post(found.post_id)))


routes = [
    Route("/users/{username}", blog_actor),
    Route("/actor", instance_actor),
    Route("/users/{username}/outbox", outbox),
    Route("/users/{username}/followers", followers),
    Route("/users/{username}/following", following),
    Route("/posts/{id:int}/activity", activity),
    Route("/posts/{id:int}/{kind:str}", post_collection),
    Route("/activities/{token:str}", activity),
    Route("/comments/{id:int}", comment),
    Route("/comments/{id:int}/activity", activity),
    Route("/comments/{id:int}/{kind:str}", comment_collection),
    Route("/approvals/{token:str}", approval),
    Route("/approvals/{token:str}/authorization", reply_authorization),
    Route("/quote-authorizations/{token:str}", quote_authorization),
]
