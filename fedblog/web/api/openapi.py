"""The OpenAPI 3.1 document of the author's API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog import __version__
from fedblog.web.responses import json_response


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = _json(_ref("Error"), "error")
ERRORS = {"400": ERROR, "401": ERROR, "413": ERROR, "422": ERROR}
POST_ID = {"name": "id", "in": "path", "required": True,
           "schema": {"type": "integer", "minimum": 0, "maximum": 2**62}}
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}
ACTOR_BODY = {"required": True, "content": {"application/json": {"schema": _ref("ActorRef")}}}
NULLABLE_STRING = {"type": ["string", "null"]}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"],
              "properties": {"error": {"type": "string"}, "field": {"type": "string"}}},
    "PostInput": {
        "type": "object", "additionalProperties": False, "required": ["markdown"],
        "properties": {
            "markdown": {"type": "string", "minLength": 1, "maxLength": 200000,
                         "description": "The post in Markdown (CommonMark)."},
            "title": {**NULLABLE_STRING, "maxLength": 300,
                      "description": "Leads the content in bold so Mastodon shows it."},
            "summary": {**NULLABLE_STRING, "maxLength": 500,
                        "description": "A content warning; Mastodon hides the post behind it."},
            "language": {"type": "string", "pattern": "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"},
        },
    },
    "PostPatch": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "markdown": {"type": "string", "minLength": 1, "maxLength": 200000},
            "title": {**NULLABLE_STRING, "maxLength": 300},
            "summary": {**NULLABLE_STRING, "maxLength": 500},
            "language": {"type": "string", "pattern": "^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"},
        },
    },
    "Post": {
        "type": "object",
        "required": ["id", "url", "ap_id", "markdown", "content_html", "language", "hashtags",
                     "published_at"],
        "properties": {
            "id": {"type": "integer"}, "url": {"type": "string"}, "ap_id": {"type": "string"},
            "title": NULLABLE_STRING, "markdown": {"type": "string"},
            "content_html": {"type": "string"}, "summary": NULLABLE_STRING,
            "language": {"type": "string"},
            "hashtags": {"type": "array", "items": {"type": "string"}},
            "published_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "PostList": {"type": "object", "required": ["items", "next_before"], "properties": {
        "items": {"type": "array", "items": _ref("Post")},
        "next_before": {"type": ["integer", "null"]}}},
    "Follower": {"type": "object", "required": ["actor_id", "state"], "properties": {
        "actor_id": {"type": "string"}, "handle": {"type": "string"}, "name": NULLABLE_STRING,
        "inbox": {"type": "string"}, "shared_inbox": NULLABLE_STRING,
        "state": {"type": "string", "enum": ["pending", "accepted", "rejected"]},
        "followed_at": {"type": "string"}, "accepted_at": NULLABLE_STRING}},
    "FollowerList": {"type": "object", "required": ["items", "total"], "properties": {
        "items": {"type": "array", "items": _ref("Follower")}, "total": {"type": "integer"}}},
    "ActorRef": {"type": "object", "additionalProperties": False, "required": ["actor_id"],
                 "properties": {"actor_id": {"type": "string", "format": "uri"}}},
    "Settings": {"type": "object", "properties": {
        "display_name": {"type": "string", "maxLength": 100},
        "summary": {"type": "string", "maxLength": 2000},
        "icon_url": NULLABLE_STRING,
        "manually_approves_followers": {"type": "boolean"},
        "discoverable": {"type": "boolean"},
        "followers_visible": {"type": "boolean"},
        "default_language": {"type": "string"}}},
}


def _op(summary: str, responses: dict[str, Any], *, body: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {**responses, **ERRORS},
                                 "security": [{"bearer": []}]}
    if body is not None:
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": body}}}
    if params:
        operation["parameters"] = params
    return operation


PATHS: dict[str, Any] = {
    "/api/v1/posts": {
        "post": _op("Publish a post (federated as Create(Note))",
                    {"201": _json(_ref("Post"), "created")}, body=_ref("PostInput")),
        "get": _op("List live posts, newest first", {"200": _json(_ref("PostList"), "posts")},
                   params=[LIMIT, {"name": "before", "in": "query",
                                   "schema": {"type": "integer", "minimum": 0}}]),
    },
    "/api/v1/posts/{id}": {
        "get": _op("Read a post", {"200": _json(_ref("Post"), "the post"), "404": ERROR},
                   params=[POST_ID]),
        "patch": _op("Edit a post (federated as Update(Note))",
                     {"200": _json(_ref("Post"), "edited"), "404": ERROR, "409": ERROR},
                     body=_ref("PostPatch"), params=[POST_ID]),
        "delete": _op("Delete a post (federated as Delete(Tombstone))",
                      {"204": {"description": "deleted"}, "404": ERROR}, params=[POST_ID]),
    },
    "/api/v1/followers": {
        "get": _op("Accepted followers", {"200": _json(_ref("FollowerList"), "followers")},
                   params=[LIMIT, {"name": "offset", "in": "query",
                                   "schema": {"type": "integer", "minimum": 0}}]),
    },
    "/api/v1/follow-requests": {
        "get": _op("Follow requests waiting for the author",
                   {"200": _json(_ref("FollowerList"), "requests")}, params=[LIMIT]),
    },
    "/api/v1/follow-requests/accept": {
        "post": _op("Accept a follow request (sends Accept(Follow))",
                    {"200": _json(_ref("Follower"), "accepted"), "404": ERROR},
                    body=_ref("ActorRef")),
    },
    "/api/v1/follow-requests/reject": {
        "post": _op("Reject a request or remove a follower (sends Reject(Follow))",
                    {"200": _json(_ref("Follower"), "rejected"), "404": ERROR},
                    body=_ref("ActorRef")),
    },
    "/api/v1/settings": {
        "get": _op("The blog's settings", {"200": _json(_ref("Settings"), "settings")}),
        "patch": _op("Change settings (federated as Update(Person))",
                     {"200": _json(_ref("Settings"), "settings")}, body=_ref("Settings")),
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "fedblog author API", "version": __version__,
             "description": "Write the blog and manage its followers. Every change federates."},
    "paths": PATHS,
    "components": {"schemas": SCHEMAS,
                   "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
}


async def openapi(request: Request) -> Response:
    return json_response({**DOCUMENT, "servers": [{"url": str(request.base_url).rstrip("/")}]})


routes = [Route("/api/openapi.json", openapi)]
