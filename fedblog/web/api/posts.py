"""/api/v1/posts: the author writes, edits and deletes posts."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.blog.posts import PostDraft, PostNotFound
from fedblog.models import Post
from fedblog.outbox.as2 import iso
from fedblog.storage import posts as posts_store
from fedblog.urls import Urls
from fedblog.web.api import validation as v
from fedblog.web.api.endpoint import api
from fedblog.web.api.validation import ApiError
from fedblog.web.responses import json_response, services

FIELDS = {"markdown", "title", "summary", "language"}
MAX_MARKDOWN = 200_000


def post_json(post: Post, urls: Urls) -> dict[str, Any]:
    return {
        "id": post.id,
        "url": urls.post(post.id),
        "ap_id": urls.post(post.id),
        "title": post.title,
        "markdown": post.markdown,
        "content_html": post.content_html,
        "summary": post.summary,
        "language": post.language,
        "hashtags": list(post.hashtags),
        "published_at": iso(post.published_at),
        "updated_at": iso(post.updated_at) if post.updated_at else None,
    }


def draft_fields(data: dict[str, Any], *, creating: bool) -> dict[str, str | None]:
    v.reject_unknown(data, FIELDS)
    fields: dict[str, str | None] = {}
    markdown = v.text(data, "markdown", required=creating, max_length=MAX_MARKDOWN,
                      allow_empty=False)
    if markdown is not None:
        fields["markdown"] = markdown
    for name, limit in (("title", 300), ("summary", 500)):
        if name in data:
            value = v.text(data, name, max_length=limit)
            fields[name] = value.strip() or None if value is not None else None
    language = v.language(data)
    if language is not None:
        fields["language"] = language
    return fields


@api
async def create_post(request: Request) -> Response:
    blog = services(request)
    fields = draft_fields(await v.json_object(request), creating=True)
    markdown = fields.pop("markdown")
    assert markdown is not None
    post = await blog.posts.create(PostDraft(markdown=markdown, **fields))
    body = post_json(post, blog.runtime.urls)
    return json_response(body, 201, headers={"Location": f"/api/v1/posts/{post.id}"})


@api
async def list_posts(request: Request) -> Response:
    blog = services(request)
    limit = v.limit_param(request)
    before = v.id_param(request, "before")
    async with blog.runtime.db.connection() as conn:
        posts = await posts_store.list_live(conn, limit=limit, before_id=before)
    items = [post_json(p, blog.runtime.urls) for p in posts]
    next_before = posts[-1].id if len(posts) == limit else None
    return json_response({"items": items, "next_before": next_before})


async def _live_post(request: Request) -> Post:
    async with services(request).runtime.db.connection() as conn:
        post = await posts_store.get(conn, request.path_params["id"])
    if post is None:
        raise ApiError(404, "no such post")
    if post.is_deleted:
        raise ApiError(404, "this post was deleted")
    return post


@api
async def get_post(request: Request) -> Response:
    return json_response(post_json(await _live_post(request), services(request).runtime.urls))


@api
async def edit_post(request: Request) -> Response:
    blog = services(request)
    post_id: int = request.path_params["id"]
    fields = draft_fields(await v.json_object(request), creating=False)
    async with blog.runtime.db.connection() as conn:
        current = await posts_store.get(conn, post_id)
    if current is None:
        raise ApiError(404, "no such post")
    if current.is_deleted:
        raise ApiError(409, "this post was deleted and cannot be edited")
    try:
        post = await blog.posts.edit(post_id, fields)
    except PostNotFound as exc:
        raise ApiError(409, "this post was deleted and cannot be edited") from exc
    return json_response(post_json(post, blog.runtime.urls))


@api
async def delete_post(request: Request) -> Response:
    blog = services(request)
    await _live_post(request)
    try:
        await blog.posts.delete(request.path_params["id"])
    except PostNotFound as exc:
        raise ApiError(404, "no such post") from exc
    return Response(status_code=204)


routes = [
    Route("/api/v1/posts", create_post, methods=["POST"]),
    Route("/api/v1/posts", list_posts, methods=["GET"]),
    Route("/api/v1/posts/{id:int}", get_post, methods=["GET"]),
    Route("/api/v1/posts/{id:int}", edit_post, methods=["PATCH"]),
    Route("/api/v1/posts/{id:int}", delete_post, methods=["DELETE"]),
]
