"""The error pages readers see: nothing here (404), deleted (410)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from fedblog.web.responses import services
from fedblog.web.templating import PageMeta, render


def _message(request: Request, status: int, title: str, message: str) -> Response:
    urls = services(request).runtime.urls
    meta = PageMeta(title=title, description=message, url=urls.home, as2_url=urls.actor)
    return render(request, "message.html", status=status, title=title, message=message,
                  meta=meta, settings=None)


def not_found(request: Request) -> Response:
    return _message(request, 404, "Not found", "There is nothing here.")


def gone(request: Request) -> Response:
    return _message(request, 410, "Deleted", "This post was deleted by its author.")
