"""The OpenAPI 3.1 document of the author's API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog import __version__
from fedblog.blog.moderation import Action
from fedblog.models import COMMENT_STATES
from fedblog.web.responses import json_response


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR = _json(_ref("Error"), "error")
# 429: too many failed tokens from this client (Retry-After says how long to wait)
ERRORS = {"400": ERROR, "401": ERROR, "413": ERROR, "422": ERROR, "429": ERROR}
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
        "default_language": {"type": "string"},
        "moderation_policy": {"type": "string",
                              "enum": ["hold", "known_commenters", "followers", "everyone"]},
        "quote_policy": {"type": "string",
                         "enum": ["nobody", "manual", "followers", "everyone"]},
        "send_block_activity": {"type": "boolean"},
        "comments_per_actor_per_hour": {"type": "integer", "minimum": 1, "maximum": 100000}}},
    "Comment": {"type": "object", "required": ["id", "ap_id", "post_id", "state", "content_html"],
                "properties": {
                    "id": {"type": "integer"}, "ap_id": {"type": "string"},
                    "post_id": {"type": "integer"},
                    "parent_comment_id": {"type": ["integer", "null"]},
                    "in_reply_to": {"type": "string"}, "depth": {"type": "integer"},
                    "actor_id": {"type": "string"}, "handle": NULLABLE_STRING,
                    "name": NULLABLE_STRING, "is_author": {"type": "boolean"},
                    "state": {"type": "string", "enum": list(COMMENT_STATES)},
                    "content_html": {"type": "string"}, "content_text": {"type": "string"},
                    "language": NULLABLE_STRING, "url": NULLABLE_STRING,
                    "published_at": {"type": "string"}, "updated_at": NULLABLE_STRING,
                    "parent_excerpt": NULLABLE_STRING,
                    "parent_state": {"type": ["string", "null"],
                                     "description": "the state of the comment this answers:"
                                                    " a reply under a held or refused comment"
                                                    " is held until that one is approved"},
                    "summary": {"type": ["string", "null"],
                                "description": "the commenter's content warning"},
                    "sensitive": {"type": "boolean"},
                    "visibility": {"enum": ["public", "unlisted", "private"],
                                   "description": "private: a followers-only or direct reply,"
                                                  " shown to the author only, never approved"},
                    "attachments": {"type": "array", "items": {"type": "object", "properties": {
                        "url": {"type": "string"}, "media_type": NULLABLE_STRING,
                        "name": {"type": ["string", "null"], "description": "alt text"},
                        "kind": {"type": "string"}, "width": {"type": ["integer", "null"]},
                        "height": {"type": ["integer", "null"]},
                        "size": {"type": ["integer", "null"]},
                        "proxy_url": {"type": "string",
                                      "description": "where the blog serves the file"}}}},
                    "emojis": {"type": "array", "items": {"type": "object", "properties": {
                        "shortcode": {"type": "string"}, "icon_url": {"type": "string"}}}}}},
    "CommentList": {"type": "object", "required": ["items", "next_before"], "properties": {
        "items": {"type": "array", "items": _ref("Comment")},
        "next_before": {"type": ["integer", "null"]}}},
    "Reason": {"type": "object", "additionalProperties": False,
               "properties": {"reason": {"type": ["string", "null"], "maxLength": 1000}}},
    "Bulk": {"type": "object", "additionalProperties": False, "required": ["ids", "action"],
             "properties": {
                 "ids": {"type": "array", "minItems": 1, "maxItems": 500,
                         "items": {"type": "integer", "minimum": 0, "maximum": 2**62 - 1}},
                 "action": {"type": "string", "enum": [a.value for a in Action]},
                 "reason": {"type": ["string", "null"], "maxLength": 1000}}},
    "Answer": {"type": "object", "additionalProperties": False, "required": ["markdown"],
               "properties": {"markdown": {"type": "string", "minLength": 1,
                                           "maxLength": 100000}}},
    "Rule": {"type": "object", "additionalProperties": False, "required": ["pattern"],
             "properties": {"pattern": {"type": "string", "minLength": 1, "maxLength": 500},
                            "is_regex": {"type": "boolean"},
                            "action": {"type": "string", "enum": ["hold", "spam"]}}},
    "Report": {"type": "object", "properties": {
        "id": {"type": "integer"}, "activity_id": {"type": "string"},
        "actor_id": {"type": "string"}, "reporter_host": {"type": "string"},
        "content": NULLABLE_STRING, "object_ids": {"type": "array", "items": {"type": "string"}},
        "received_at": {"type": "string"}, "resolved_at": NULLABLE_STRING,
        "resolution": NULLABLE_STRING}},
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

COMMENT_ID = {**POST_ID, "description": "comment id"}
RULE_ID = {**POST_ID, "description": "rule id"}
COMMENT = _json(_ref("Comment"), "the comment")
PATHS.update({
    "/api/v1/comments": {
        "get": _op("The moderation queue: comments by state and post, newest first",
                   {"200": _json(_ref("CommentList"), "comments")},
                   params=[LIMIT,
                           {"name": "state", "in": "query",
                            "schema": {"type": "string", "enum": list(COMMENT_STATES)}},
                           {"name": "post_id", "in": "query",
                            "schema": {"type": "integer", "minimum": 0}},
                           {"name": "before", "in": "query",
                            "schema": {"type": "integer", "minimum": 0}}]),
    },
    "/api/v1/comments/bulk": {
        "post": _op("Apply one decision to many comments",
                    {"200": _json({"type": "object"}, "per-comment results")}, body=_ref("Bulk")),
    },
    "/api/v1/comments/{id}": {
        "get": _op("A comment with its raw activity, sender IP, key id, history and versions",
                   {"200": COMMENT, "404": ERROR}, params=[COMMENT_ID]),
        "patch": _op("Edit one of the author's answers (federated as Update)",
                     {"200": COMMENT, "404": ERROR, "409": ERROR}, body=_ref("Answer"),
                     params=[COMMENT_ID]),
        "delete": _op("Delete one of the author's answers (federated as Delete)",
                      {"204": {"description": "deleted"}, "404": ERROR, "409": ERROR},
                      params=[COMMENT_ID]),
    },
    "/api/v1/comments/{id}/replies": {
        "post": _op("The author answers a comment (a Note from the blog, mentioning them)",
                    {"201": COMMENT, "404": ERROR, "409": ERROR}, body=_ref("Answer"),
                    params=[COMMENT_ID]),
    },
    **{f"/api/v1/comments/{{id}}/{action.value}": {
        "post": _op(f"{action.value.capitalize()} a comment (see the README for what federates)",
                    {"200": COMMENT, "404": ERROR, "409": ERROR}, body=_ref("Reason"),
                    params=[COMMENT_ID])} for action in Action},
    "/api/v1/moderation/rules": {
        "get": _op("Keyword and regex rules that hold or mark comments as spam",
                   {"200": _json({"type": "object"}, "rules")}),
        "post": _op("Add a rule (a regex is RE2 syntax, matched in linear time: back-references"
                    " and look-arounds are refused with 422)",
                    {"201": _json({"type": "object"}, "the rule")},
                    body=_ref("Rule")),
    },
    "/api/v1/moderation/rules/{id}": {
        "delete": _op("Remove a rule", {"204": {"description": "removed"}, "404": ERROR},
                      params=[RULE_ID]),
    },
    "/api/v1/reports": {
        "get": _op("Reports (Flag) received from remote servers",
                   {"200": _json({"type": "object", "properties": {
                       "items": {"type": "array", "items": _ref("Report")}}}, "reports")},
                   params=[LIMIT, {"name": "resolved", "in": "query",
                                   "schema": {"type": "string", "enum": ["true", "false"]}}]),
    },
    "/api/v1/reports/{id}/resolve": {
        "post": _op("Mark a report resolved", {"204": {"description": "resolved"}, "404": ERROR},
                    body={"type": "object", "additionalProperties": False, "properties": {
                        "resolution": {"type": "string", "maxLength": 1000}}},
                    params=[{**POST_ID, "description": "report id"}]),
    },
})

QUOTE = _json({"type": "object"}, "the quote request")
PATHS["/api/v1/quote-requests"] = {
    "get": _op("Requests to quote a post (FEP-044f)", {"200": _json({"type": "object"}, "requests")},
               params=[LIMIT, {"name": "state", "in": "query", "schema": {
                   "type": "string", "enum": ["pending", "approved", "rejected", "revoked"]}}]),
}
for _action, _summary in (("approve", "Accept, with a QuoteAuthorization"),
                          ("reject", "Reject the request"),
                          ("revoke", "Delete the QuoteAuthorization; Mastodon detaches the quote")):
    PATHS[f"/api/v1/quote-requests/{{id}}/{_action}"] = {
        "post": _op(_summary, {"200": QUOTE, "404": ERROR, "409": ERROR},
                    params=[{**POST_ID, "description": "quote request id"}]),
    }

SCHEMAS["BlockInput"] = {
    "type": "object", "additionalProperties": False,
    "description": "Exactly one of actor (a URL or @user@host) and domain (host[:port]; "
                   "subdomains are included).",
    "properties": {"actor": {"type": "string", "maxLength": 2048},
                   "domain": {"type": "string", "maxLength": 253},
                   "reason": {"type": ["string", "null"], "maxLength": 1000},
                   "expires_at": {"type": ["string", "null"], "format": "date-time"},
                   "expires_in": {"type": ["number", "null"], "exclusiveMinimum": 0}}}
SCHEMAS["Block"] = {"type": "object", "required": ["id", "kind", "value"], "properties": {
    "id": {"type": "integer"}, "kind": {"type": "string", "enum": ["actor", "domain"]},
    "value": {"type": "string"}, "reason": NULLABLE_STRING, "created_at": {"type": "string"},
    "expires_at": NULLABLE_STRING, "followers_removed": {"type": "integer"},
    "comments_hidden": {"type": "integer"}}}
CSV = {"description": "Mastodon's domain blocklist CSV",
       "content": {"text/csv": {"schema": {"type": "string"}}}}
PATHS["/api/v1/blocks"] = {
    "post": _op("Block an actor or a domain: followers there get Reject(Follow), comments are "
                "rejected or removed, inbound is refused with 403, nothing is delivered",
                {"201": _json(_ref("Block"), "the block")}, body=_ref("BlockInput")),
    "get": _op("All blocks", {"200": _json({"type": "object", "properties": {
        "items": {"type": "array", "items": _ref("Block")}}}, "blocks")}),
}
PATHS["/api/v1/blocks/{id}"] = {
    "delete": _op("Lift a block (sends Undo(Block) to a blocked actor; restores nothing)",
                  {"204": {"description": "lifted"}, "404": ERROR},
                  params=[{**POST_ID, "description": "block id"}]),
}
PATHS["/api/v1/blocks/domains.csv"] = {
    "get": _op("Export the domain blocks", {"200": CSV}),
    "post": {**_op("Import domain blocks (Mastodon's CSV) in the background: answers at once "
                   "with the job (Location: its URL); every row is checked first, and a bad "
                   "line refuses the file", {
        "202": _json(_ref("BlockImport"), "the job, queued"), "413": ERROR}),
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
}
SCHEMAS["BlockImport"] = {
    "type": "object", "required": ["id", "state", "total", "done", "errors", "skipped", "imported"],
    "properties": {
        "id": {"type": "integer"}, "url": {"type": "string"},
        "state": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
        "total": {"type": "integer", "description": "data rows in the file"},
        "done": {"type": "integer", "description": "rows checked and written so far"},
        "errors": {"type": "array", "description": "refused lines; nothing is imported when any",
                   "items": {"type": "object", "properties": {
                       "line": {"type": ["integer", "null"]}, "error": {"type": "string"}}}},
        "skipped": {"type": "array", "description": "silence and noop rows, not applied",
                    "items": {"type": "object", "properties": {
                        "line": {"type": "integer"}, "domain": {"type": "string"},
                        "severity": {"type": "string"}, "note": {"type": "string"}}}},
        "imported": {"type": "array", "items": {"type": "string"},
                     "description": "the domains blocked, each in its one spelling"},
        "created_at": {"type": "string"}, "finished_at": NULLABLE_STRING}}
PATHS["/api/v1/blocks/imports/{id}"] = {
    "get": _op("A domain blocklist import: its progress, refused lines and skipped rows",
               {"200": _json(_ref("BlockImport"), "the job"), "404": ERROR},
               params=[{**POST_ID, "description": "import id"}]),
}
PATHS["/api/v1/reports/{id}/block"] = {
    "post": _op("Block the authors of the reported comments and resolve the report",
                {"200": _json({"type": "object"}, "who was blocked"), "404": ERROR},
                params=[{**POST_ID, "description": "report id"}]),
}
PATHS["/api/v1/comments/{id}/report"] = {
    "post": _op("Report a commenter to their own server (Flag from the instance actor)",
                {"202": _json({"type": "object"}, "the Flag's id"), "404": ERROR, "409": ERROR},
                body={"type": "object", "additionalProperties": False, "required": ["reason"],
                      "properties": {"reason": {"type": "string", "minLength": 1,
                                                "maxLength": 1000}}},
                params=[COMMENT_ID]),
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
