"""Writing from the desk: Markdown with a preview, edits, deletion — through PostService, with
the API's own validation, so each change federates as Create, Update or Delete."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.blog.fields import InvalidField, row_id
from fedblog.blog.html import hashtag_links, render_post
from fedblog.blog.posts import PostDraft, PostNotFound, draft_fields
from fedblog.models import Post
from fedblog.web.desk.common import Form, back, desk_view, render
from fedblog.web.desk.session import Session
from fedblog.web.responses import services

PAGE_SIZE = 30
FIELDS = ("title", "summary", "language", "markdown")


@desk_view
async def posts_page(request: Request, session: Session, form: Form) -> Response:
    before = row_id(request.query_params.get("before"))
    listing = await services(request).posts.listing(limit=PAGE_SIZE, before=before)
    return render(request, "desk/posts.html", session, posts=listing.posts, stats=listing.stats,
                  older=listing.older)


async def _editor(request: Request, session: Session, values: dict[str, str], *,
                  post: Post | None, status: int = 200, error: str | None = None,
                  preview: str | None = None) -> Response:
    return render(request, "desk/post_form.html", session, status=status, values=values,
                  post=post, error=error, preview=preview)


def _values(form: Form) -> dict[str, str]:
    return {name: form.get(name).replace("\r\n", "\n") for name in FIELDS}


def _fields(values: dict[str, str], *, creating: bool) -> dict[str, str | None]:
    """The checks the API makes of the same four fields; an empty language means the default."""
    data: dict[str, Any] = {name: values[name] for name in FIELDS
                            if name != "language" or values[name].strip()}
    if "language" in data:
        data["language"] = data["language"].strip()
    return draft_fields(data, creating=creating)


def _preview(request: Request, values: dict[str, str]) -> str:
    rendered = render_post(values["markdown"], title=values["title"].strip() or None)
    return hashtag_links(rendered.body_html, services(request).runtime.urls.tag)


@desk_view
async def new_post(request: Request, session: Session, form: Form) -> Response:
    settings = await services(request).profile.get()
    values = {name: "" for name in FIELDS} | {"language": settings.default_language}
    return await _editor(request, session, values, post=None)


@desk_view
async def create_post(request: Request, session: Session, form: Form) -> Response:
    values = _values(form)
    try:
        fields = _fields(values, creating=True)
    except InvalidField as exc:
        return await _editor(request, session, values, post=None, status=422, error=exc.message)
    if form.get("preview"):
        return await _editor(request, session, values, post=None,
                             preview=_preview(request, values))
    markdown = fields.pop("markdown")
    assert markdown is not None
    await services(request).posts.create(PostDraft(markdown=markdown, **fields))
    return back(form, "/desk/posts", notice="published")


async def _live(request: Request) -> Post | None:
    post = await services(request).posts.get(request.path_params["id"])
    return None if post is None or post.is_deleted else post


@desk_view
async def edit_page(request: Request, session: Session, form: Form) -> Response:
    post = await _live(request)
    if post is None:
        return back(form, "/desk/posts", error="missing")
    values = {"title": post.title or "", "summary": post.summary or "",
              "language": post.language, "markdown": post.markdown}
    return await _editor(request, session, values, post=post)


@desk_view
async def save_post(request: Request, session: Session, form: Form) -> Response:
    post = await _live(request)
    if post is None:
        return back(form, "/desk/posts", error="missing")
    values = _values(form)
    try:
        fields = _fields(values, creating=True)
    except InvalidField as exc:
        return await _editor(request, session, values, post=post, status=422, error=exc.message)
    if form.get("preview"):
        return await _editor(request, session, values, post=post,
                             preview=_preview(request, values))
    try:
        await services(request).posts.edit(post.id, fields)
    except PostNotFound:
        return back(form, "/desk/posts", error="missing")
    return back(form, "/desk/posts", notice="saved")


@desk_view
async def confirm_delete(request: Request, session: Session, form: Form) -> Response:
    post = await _live(request)
    if post is None:
        return back(form, "/desk/posts", error="missing")
    return render(request, "desk/confirm_delete.html", session, post=post)


@desk_view
async def delete_post(request: Request, session: Session, form: Form) -> Response:
    try:
        await services(request).posts.delete(request.path_params["id"])
    except PostNotFound:
        return back(form, "/desk/posts", error="missing")
    return back(form, "/desk/posts", notice="deleted")


routes = [
    Route("/desk/posts", posts_page, methods=["GET"]),
    Route("/desk/posts/new", new_post, methods=["GET"]),
    Route("/desk/posts/new", create_post, methods=["POST"]),
    Route("/desk/posts/{id:int}/edit", edit_page, methods=["GET"]),
    Route("/desk/posts/{id:int}/edit", save_post, methods=["POST"]),
    Route("/desk/posts/{id:int}/delete", confirm_delete, methods=["GET"]),
    Route("/desk/posts/{id:int}/delete", delete_post, methods=["POST"]),
]
