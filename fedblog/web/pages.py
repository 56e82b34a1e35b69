"""HTML pages for browsers: plain for now, the full web front comes later."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from fedblog.models import Post
from fedblog.blog.threads import build_thread
from fedblog.storage import actors as actors_store
from fedblog.storage import comments as comments_store
from fedblog.storage import posts as posts_store
from fedblog.storage import reactions as reactions_store
from fedblog.storage import settings as settings_store
from fedblog.web.responses import services

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    enable_async=False,
)
PAGE_SIZE = 20


def render(request: Request, template: str, status: int = 200, **context: object) -> Response:
    runtime = services(request).runtime
    html = TEMPLATES.get_template(template).render(
        urls=runtime.urls, handle=f"@{runtime.urls.username}@{runtime.settings.domain}", **context
    )
    return HTMLResponse(html, status_code=status, headers={"Vary": "Accept"})


async def home(request: Request) -> Response:
    runtime = services(request).runtime
    raw = request.query_params.get("before", "")
    before = int(raw) if raw.isdigit() and len(raw) < 19 else None
    tag = request.path_params.get("tag")
    async with runtime.db.connection() as conn:
        settings = await settings_store.get_settings(conn)
        posts = await posts_store.list_live(conn, limit=PAGE_SIZE, before_id=before, tag=tag)
    older = posts[-1].id if len(posts) == PAGE_SIZE else None
    return render(request, "home.html", settings=settings, posts=posts, older=older, tag=tag)


LABELS = {
    "en": {"comments": "comments", "comment": "comment", "author": "author",
           "reply": "Reply from your fediverse account: search for this address on your server",
           "likes": "likes", "boosts": "boosts"},
    "sv": {"comments": "kommentarer", "comment": "kommentar", "author": "inläggsförfattare",
           "reply": "Svara från ditt fediversum-konto: sök efter den här adressen på din server",
           "likes": "gillningar", "boosts": "delningar"},
}


def labels(language: str) -> dict[str, str]:
    return LABELS.get(language.split("-")[0].lower(), LABELS["en"])


async def post_page(request: Request, post: Post) -> Response:
    runtime = services(request).runtime
    async with runtime.db.connection() as conn:
        settings = await settings_store.get_settings(conn)
        approved = [c for c in await comments_store.approved_thread(conn, post.id)
                    if not runtime.blocklist.actor_blocked(c.actor_id)]
        actors = await actors_store.get_many(conn, sorted({c.actor_id for c in approved}))
        counts = await reactions_store.counts(conn, runtime.urls.post(post.id))
    return render(request, "post.html", settings=settings, post=post,
                  thread=build_thread(approved), comment_count=len(approved), actors=actors,
                  counts=counts, t=labels(post.language))


def not_found(request: Request) -> Response:
    return render(request, "message.html", status=404, title="Not found",
                  message="There is nothing here.")


def gone(request: Request) -> Response:
    return render(request, "message.html", status=410, title="Deleted",
                  message="This post was deleted by its author.")


routes = [
    Route("/", home),
    Route("/tags/{tag:str}", home),
]
