"""HTTP routes: discovery, ActivityPub documents, the inbox, HTML pages and the JSON API."""

from __future__ import annotations

from starlette.convertors import IntegerConvertor, register_url_convertor


class BoundedIntConvertor(IntegerConvertor):
    """Path ids fit PostgreSQL's bigint: a longer number is no match (404), not a 500.

    Registered here, before any route module compiles its paths.
    """

    regex = "[0-9]{1,18}"


register_url_convertor("int", BoundedIntConvertor())
