"""/api/v1/followers and /api/v1/follow-requests: who follows the blog, and held requests."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.blog.followers import NoSuchRequest
from fedblog.models import Follower
from fedblog.outbox.as2 import iso
from fedblog.web.api import validation as v
from fedblog.web.api.endpoint import api
from fedblog.web.api.validation import ApiError
from fedblog.web.responses import json_response, services


def follower_json(follower: Follower) -> dict[str, Any]:
    actor = follower.actor
    return {
        "actor_id": actor.id,
        "handle": actor.handle,
        "name": actor.name,
        "inbox": actor.inbox,
        "shared_inbox": actor.shared_inbox,
        "state": follower.state,
        "followed_at": iso(follower.created_at),
        "accepted_at": iso(follower.accepted_at) if follower.accepted_at else None,
    }


async def _list(request: Request, state: str) -> Response:
    limit = v.limit_param(request)
    offset_raw = request.query_params.get("offset", "0")
    if not (offset_raw.isascii() and offset_raw.isdigit()) or len(offset_raw) > 9:
        raise ApiError(422, "offset must be a non-negative integer", "offset")
    page = await services(request).followers.page(state, limit=limit, offset=int(offset_raw))
    return json_response({"items": [follower_json(f) for f in page.items], "total": page.total})


@api
async def list_followers(request: Request) -> Response:
    return await _list(request, "accepted")


@api
async def list_requests(request: Request) -> Response:
    return await _list(request, "pending")


async def _actor_field(request: Request) -> str:
    data = await v.json_object(request)
    v.reject_unknown(data, {"actor_id"})
    actor_id = v.http_url(data, "actor_id", required=True)
    assert actor_id is not None
    return actor_id


@api
async def accept_request(request: Request) -> Response:
    blog = services(request)
    try:
        follower = await blog.followers.accept(await _actor_field(request))
    except NoSuchRequest as exc:
        raise ApiError(404, "no pending follow request from that actor") from exc
    return json_response(follower_json(follower))


@api
async def reject_request(request: Request) -> Response:
    blog = services(request)
    try:
        follower = await blog.followers.reject(await _actor_field(request))
    except NoSuchRequest as exc:
        raise ApiError(404, "that actor neither follows nor asked to follow") from exc
    return json_response({**follower_json(follower), "state": "rejected"})


routes = [
    Route("/api/v1/followers", list_followers, methods=["GET"]),
    Route("/api/v1/follow-requests", list_requests, methods=["GET"]),
    Route("/api/v1/follow-requests/accept", accept_request, methods=["POST"]),
    Route("/api/v1/follow-requests/reject", reject_request, methods=["POST"]),
]
