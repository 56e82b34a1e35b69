"""/media/comments/{id}/{attachments|emoji}/{n}: a commenter's file, served by the blog."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedblog.blog.media import MediaRequest, MediaUnavailable
from fedblog.web.desk.session import current_session
from fedblog.web.responses import json_error, services

HEADERS = {"Cache-Control": "public, max-age=604800, immutable",
           "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'none'; sandbox"}


async def comment_media(request: Request) -> Response:
    kind: str = request.path_params["kind"]
    if kind not in ("attachments", "emoji"):
        return json_error(404, "no such file")
    wanted = MediaRequest(request.path_params["id"], kind, request.path_params["index"],
                          include_held=await current_session(request) is not None)
    try:
        media = await services(request).media.get(wanted)
    except MediaUnavailable as exc:
        return json_error(404, str(exc))
    headers = HEADERS if wanted.include_held is False else {**HEADERS, "Cache-Control": "private"}
    return Response(media.body, media_type=media.media_type, headers=headers)


routes = [Route("/media/comments/{id:int}/{kind:str}/{index:int}", comment_media)]
