"""/api/v1/posts: the author writes, edits and deletes posts."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.blog.posts import PostDraft, PostNotFound, draft_fields
from fedblog.models import Post
from fedblog.outbox.as2 import iso
from fedblog.urls import Urls
from fedblog.web.api import validation as v
from fedblog.web.api.endpoint import api
from fedblog.web.api.validation import ApiError
from fedblog.web.responses import json_response, services


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
    posts = await blog.posts.live(limit=limit, before=before)
    items = [post_json(p, blog.runtime.urls) for p in posts]
    next_before = posts[-1].id if len(posts) == limit else None
    return json_response({"items": items, "next_before": next_before})


async def _live_post(request: Request) -> Post:
    post = await services(request).posts.get(request.path_params["id"])
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
    current = await blog.posts.get(post_id)
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
