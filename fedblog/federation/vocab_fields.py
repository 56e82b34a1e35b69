"""Field-level readers for remote ActivityStreams 2 JSON.

Everything here turns one raw (json-decoded) value into one checked Python value, or raises
:class:`VocabError` naming the field.  The object/activity parsers in ``vocab_objects`` and
``vocab`` are built only from these, so the hostile-input rules (sizes, NUL bytes, URL schemes,
credentials in URLs) live in exactly one place.

JSON-LD is deliberately not expanded: we read the compacted shapes real servers send and
tolerate their common deviations (single values for lists and vice versa, embedded objects
where an id would do).
"""

from __future__ import annotations

import math
import re
from collections.abc import Container, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from fedblog.federation.hosts import BadHost, url_host

__all__ = [
    "MAX_DEPTH",
    "MAX_LIST_LENGTH",
    "MAX_TEXT_LENGTH",
    "MAX_URL_LENGTH",
    "PUBLIC",
    "PUBLIC_ALIASES",
    "FrozenMap",
    "VocabError",
    "as_list",
    "check_dates",
    "check_json_document",
    "check_text",
    "check_url",
    "field_path",
    "host_of",
    "id_of",
    "is_http_url",
    "loose_url",
    "opt_bool",
    "opt_ref",
    "opt_text",
    "parse_addressing",
    "parse_datetime",
    "req_dict",
    "req_ref",
    "resolve_type",
]

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
# Compacted forms of the public collection that servers really send in to/cc.
PUBLIC_ALIASES = frozenset({PUBLIC, "as:Public", "Public"})

MAX_URL_LENGTH = 4096  # ids, hrefs, inboxes: longer than any real URL, short enough to index
MAX_TEXT_LENGTH = 1_000_000  # content/summary: a long article fits, a memory bomb does not
MAX_LIST_LENGTH = 10_000  # recipients, tags, attachments, objects of a Flag
MAX_DEPTH = 8  # nesting of embedded activities (Announce{Update{Article}} is 2)
_MAX_TYPE_LENGTH = 256

# Whitespace/control characters: urlsplit silently strips some of them, which would let two
# different strings compare as the same URL, so reject them before parsing.
_BAD_URL_CHARS = re.compile(r"[\x00-\x20\x7f]")


class VocabError(ValueError):
    """Remote JSON that does not parse into our vocabulary; the message names the field."""


def field_path(prefix: str, key: str) -> str:
    """Dotted path for error messages, e.g. ``object.inReplyTo``."""
    return f"{prefix}.{key}" if prefix else key


def _kind(value: Any) -> str:
    """Name of a JSON value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _text_problem(value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"longer than {limit} characters"
    if "\x00" in value:
        return "contains a NUL byte"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates from "\ud800" escapes: valid JSON, but not storable text.
        return "contains invalid unicode"
    return None


MAX_DOCUMENT_DEPTH = 64  # arrays/objects inside each other in a whole fetched document


def check_json_document(document: Any, what: str = "document") -> None:
    """A whole decoded JSON document that can be kept as it came (PostgreSQL jsonb) and handed
    to any reader: no NaN / Infinity (nor 1e999, which json reads as infinity), no NUL and no
    lone surrogate in any string or key, no nesting deeper than MAX_DOCUMENT_DEPTH. Raises
    VocabError naming the first problem. Iterative, so depth costs no recursion."""
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            problem = _text_problem(value, MAX_TEXT_LENGTH)
            if problem:
                raise VocabError(f"{what}: a string {problem}")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise VocabError(f"{what}: a number is not finite (NaN, Infinity or too large)")
        elif isinstance(value, (dict, list)):
            if depth >= MAX_DOCUMENT_DEPTH:
                raise VocabError(f"{what}: nested deeper than {MAX_DOCUMENT_DEPTH}")
            if isinstance(value, dict):
                for key, item in value.items():
                    stack.append((key, depth))
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)


def check_text(value: Any, path: str, limit: int = MAX_TEXT_LENGTH) -> str:
    """A string within ``limit`` that can be stored as text (no NUL, no lone surrogates)."""
    if not isinstance(value, str):
        raise VocabError(f"{path}: expected a string, got {_kind(value)}")
    problem = _text_problem(value, limit)
    if problem:
        raise VocabError(f"{path}: {problem}")
    return value


def _url_problem(value: Any) -> str | None:
    """Why ``value`` is not an acceptable absolute http(s) URL, or None when it is."""
    if not isinstance(value, str):
        return f"expected a URL string, got {_kind(value)}"
    return _string_url_problem(value)


@lru_cache(maxsize=8192)  # actors, keys, audiences and parents repeat from one activity to the next
def _string_url_problem(value: str) -> str | None:
    if len(value) > MAX_URL_LENGTH:
        return f"URL longer than {MAX_URL_LENGTH} characters"
    if _BAD_URL_CHARS.search(value):
        return "URL contains whitespace or control characters"
    if _text_problem(value, MAX_URL_LENGTH):
        return "URL contains invalid unicode"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in ("http", "https"):
        return f"must be an http(s) URL, got {value[:80]!r}"
    if not host:
        return "URL has no host"
    if parts.username is not None or parts.password is not None:
        # user@host URLs are a classic way to make an id look like it is on another host.
        return "URL must not contain credentials"
    try:
        url_host(value)  # the origin rules compare hosts in their one spelling: one there must be
    except BadHost as exc:
        return str(exc)
    return None


def is_http_url(value: Any) -> bool:
    """True for a string that :func:`check_url` would accept."""
    return _url_problem(value) is None


def check_url(value: Any, path: str) -> str:
    """An absolute http(s) URL without credentials, whitespace or control characters."""
    problem = _url_problem(value)
    if problem:
        raise VocabError(f"{path}: {problem}")
    return str(value)


def host_of(url: str) -> str:
    """The host of ``url`` in its one spelling (federation/hosts.py: IDNA, lower case, no
    trailing dot, no default port), so that the origin rules compare hosts, not spellings."""
    try:
        return url_host(url)
    except BadHost as exc:
        raise VocabError(f"url: {exc}") from exc


def id_of(value: Any) -> str | None:
    """The id a value stands for: a string itself, an object's ``id`` (or ``href`` for Links),
    or the first element of an array.  No validation; None when nothing fits."""
    if isinstance(value, list):
        return id_of(value[0]) if value else None
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("id", "href"):
            candidate = value.get(key)
            if isinstance(candidate, str):
                return candidate
    return None


def req_dict(data: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        where = path or "document"
        raise VocabError(f"{where}: expected a JSON object, got {_kind(data)}")
    return data


def as_list(value: Any, path: str, limit: int = MAX_LIST_LENGTH) -> list[Any]:
    """A value that may be one item or an array of them, as a capped list (null -> [])."""
    if value is None:
        return []
    if not isinstance(value, list):
        return [value]
    if len(value) > limit:
        raise VocabError(f"{path}: more than {limit} entries")
    return value


def _single(value: Any) -> Any:
    """Servers send ["x"] where "x" is meant; take the first element of an array."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def opt_text(
    data: Mapping[str, Any], key: str, path: str, limit: int = MAX_TEXT_LENGTH
) -> str | None:
    value = _single(data.get(key))
    if value is None:
        return None
    return check_text(value, field_path(path, key), limit)


def opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    """A boolean, or None when absent or not a boolean (Pleroma sends ``sensitive: null``)."""
    value = data.get(key)
    return value if isinstance(value, bool) else None


def opt_ref(data: Mapping[str, Any], key: str, path: str) -> str | None:
    """An optional reference: absent/null -> None; otherwise it must reduce to an http(s) id."""
    value = data.get(key)
    if value is None or value == []:
        return None
    where = field_path(path, key)
    if isinstance(value, list) and len(value) > MAX_LIST_LENGTH:
        raise VocabError(f"{where}: more than {MAX_LIST_LENGTH} entries")
    ref = id_of(value)
    if ref is None:
        raise VocabError(f"{where}: expected an id or an object with an id, got {_kind(value)}")
    return check_url(ref, where)


def req_ref(data: Mapping[str, Any], key: str, path: str) -> str:
    ref = opt_ref(data, key, path)
    if ref is None:
        raise VocabError(f"{field_path(path, key)}: missing")
    return ref


def loose_url(value: Any, _depth: int = 0) -> str | None:
    """Best http(s) URL from a cosmetic ``url``/``icon`` value, never raising.

    Accepts a string, a Link/Image object (``href`` or ``url``), or an array of those, where
    a ``text/html`` entry is preferred (PeerTube lists several).  Invalid -> None, because a
    broken profile link is no reason to drop a reply.
    """
    if _depth > 2:
        return None
    if isinstance(value, str):
        return value if is_http_url(value) else None
    if isinstance(value, dict):
        for key in ("href", "url"):
            found = loose_url(value.get(key), _depth + 1)
            if found:
                return found
        return None
    if isinstance(value, list):
        candidates = value[:64]
        html = [v for v in candidates if isinstance(v, dict) and v.get("mediaType") == "text/html"]
        for candidate in html + candidates:
            found = loose_url(candidate, _depth + 1)
            if found:
                return found
    return None


def parse_addressing(data: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    """Recipients (``to``/``cc``) as a de-duplicated tuple of http(s) URLs and :data:`PUBLIC`.

    The public collection's compact aliases are normalised.  Strings that are not URLs are
    dropped rather than rejected: some Misskey forks put bare local ids there, and a recipient
    we cannot address is no reason to refuse the activity.
    """
    where = field_path(path, key)
    out: dict[str, None] = {}
    for index, item in enumerate(as_list(data.get(key), where)):
        ref = id_of(item) if isinstance(item, dict) else item
        if not isinstance(ref, str):
            raise VocabError(f"{where}[{index}]: expected an id, got {_kind(item)}")
        if ref in PUBLIC_ALIASES:
            out[PUBLIC] = None
        elif is_http_url(ref):
            out[ref] = None
    return tuple(out)


def parse_datetime(value: Any) -> datetime | None:
    """Timezone-aware UTC datetime, or None when absent or unparsable (never an error:
    a wrong date is no reason to drop a reply).  Naive times are taken as UTC."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. year 1 with a positive offset
        return None


_DATE_KEYS = ("published", "updated", "deleted", "startTime", "endTime")


def check_dates(data: Mapping[str, Any], path: str) -> None:
    """Refuse a date that is written correctly but lies outside the calendar once moved to UTC
    (year 0001 with a positive offset, 9999 with a negative one): not a sloppy sender but a
    value built to break whoever converts it. A date that does not parse at all stays a
    `parse_datetime` None."""
    for key in _DATE_KEYS:
        value = data.get(key)
        if not isinstance(value, str) or len(value) > 64:
            continue
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            continue
        if parsed.tzinfo is None:
            continue
        try:
            parsed.astimezone(UTC)
        except OverflowError as exc:
            raise VocabError(f"{field_path(path, key)}: {value!r} lies outside the calendar") from exc


def resolve_type(data: Mapping[str, Any], path: str, known: Container[str]) -> str:
    """The object's type.  ``["Person"]`` is accepted; of several, the first one in ``known``
    wins (so ``["Link", "Mention"]``-style multi-typing picks the one we understand)."""
    where = field_path(path, "type")
    raw = data.get("type")
    if raw is None:
        raise VocabError(f"{where}: missing")
    names = as_list(raw, where, limit=16)
    for name in names:
        if not isinstance(name, str):
            raise VocabError(f"{where}: expected a string, got {_kind(name)}")
        check_text(name, where, _MAX_TYPE_LENGTH)
    if not names or not names[0]:
        raise VocabError(f"{where}: empty")
    for name in names:
        if name in known:
            return str(name)
    return str(names[0])


class FrozenMap(Mapping[str, str]):
    """An immutable, hashable str -> str mapping, so frozen dataclasses stay hashable."""

    __slots__ = ("_data",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._data: dict[str, str] = dict(items)

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"
