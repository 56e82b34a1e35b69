"""/api/v1/settings: the blog's profile and follower policy."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.web.api import validation as v
from fedblog.web.api.endpoint import api
from fedblog.web.api.validation import ApiError
from fedblog.web.responses import json_response, services

TEXTS = {"display_name": 100, "summary": 2000}
FLAGS = ("manually_approves_followers", "discoverable", "followers_visible",
         "send_block_activity")
CHOICES = {
    "moderation_policy": ("hold", "known_commenters", "followers", "everyone"),
    "quote_policy": ("nobody", "manual", "followers", "everyone"),
}


@api
async def get_settings(request: Request) -> Response:
    return json_response(asdict(await services(request).profile.get()))


@api
async def patch_settings(request: Request) -> Response:
    data = await v.json_object(request)
    v.reject_unknown(data, {*TEXTS, *FLAGS, *CHOICES, "icon_url", "default_language",
                            "comments_per_actor_per_hour"})
    changes: dict[str, Any] = {}
    for name, limit in TEXTS.items():
        value = v.text(data, name, max_length=limit)
        if value is not None:
            changes[name] = value
    for name in FLAGS:
        flag = v.boolean(data, name)
        if flag is not None:
            changes[name] = flag
    if "icon_url" in data:
        changes["icon_url"] = v.http_url(data, "icon_url")
    if "comments_per_actor_per_hour" in data:
        cap = data["comments_per_actor_per_hour"]
        if not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= 100_000:
            raise ApiError(422, "comments_per_actor_per_hour must be an integer from 1 to 100000",
                           "comments_per_actor_per_hour")
        changes["comments_per_actor_per_hour"] = cap
    for name, allowed in CHOICES.items():
        if name in data:
            if data[name] not in allowed:
                raise ApiError(422, f"{name} must be one of {', '.join(allowed)}", name)
            changes[name] = data[name]
    language = v.language(data, "default_language")
    if language is not None:
        changes["default_language"] = language
    settings = await services(request).profile.update(changes)
    return json_response(asdict(settings))


routes = [
    Route("/api/v1/settings", get_settings, methods=["GET"]),
    Route("/api/v1/settings", patch_settings, methods=["PATCH"]),
]
