"""Shared pieces of the HTTP signature code: the request view, errors, policy, digests, dates.

Pure code: no database, no network, no web framework. The public names are re-exported by
`fedblog.federation.signatures`, which is the module the rest of the app imports.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from functools import cached_property
from typing import Literal
from urllib.parse import urlsplit

from http_sfv.dictionary import Dictionary


class Reason:
    """Machine reason codes carried by `SignatureError.code` (they match the test vectors)."""

    MISSING_SIGNATURE = "missing_signature"
    MALFORMED_SIGNATURE = "malformed_signature"
    SIGNATURE_MISMATCH = "signature_mismatch"
    DIGEST_MISMATCH = "digest_mismatch"
    DIGEST_NOT_SIGNED = "digest_not_signed"
    CONTENT_DIGEST_NOT_COVERED = "content_digest_not_covered"
    MISSING_SIGNED_HEADER = "missing_signed_header"
    MISSING_COVERED_COMPONENT = "missing_covered_component"
    MISSING_REQUIRED_COMPONENT = "missing_required_component"
    UNKNOWN_KEY = "unknown_key"
    DATE_UNPARSABLE = "date_unparsable"
    DATE_OUTSIDE_WINDOW = "date_outside_window"
    CREATED_OUTSIDE_WINDOW = "created_outside_window"
    EXPIRED = "expired"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    MALFORMED_CONTENT_DIGEST = "malformed_content_digest"
    PSEUDO_HEADER_NOT_ALLOWED = "pseudo_header_not_allowed"
    BAD_KEY = "bad_key"
    WEAK_KEY = "weak_key"


REASON_CODES: frozenset[str] = frozenset(
    value for name, value in vars(Reason).items() if name.isupper()
)


class SignatureError(Exception):
    """Any reason to refuse a signature. `message` is safe to show to the remote client."""

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)  # both in args, so the error pickles and copies
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def fail(code: str, message: str) -> SignatureError:
    return SignatureError(code, message)


@dataclass(frozen=True)
class UrlParts:
    scheme: str  # lower case
    host: str  # lower case, IPv6 literals keep their brackets
    port: int | None  # None when absent or the scheme's default
    path: str  # as received, "" when absent
    query: str | None  # None when there is no "?"

    @property
    def authority(self) -> str:
        """RFC 9421 @authority: lower-case host, default port dropped."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def path_or_root(self) -> str:
        return self.path or "/"

    @property
    def request_target(self) -> str:
        """Origin-form target: what an HTTP/1.1 request line carries."""
        return self.path_or_root if self.query is None else f"{self.path_or_root}?{self.query}"


_DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_url(url: str) -> UrlParts:
    """Split an absolute URL; raises ValueError when it is not one."""
    split = urlsplit(url)
    port = split.port  # raises ValueError on a non-numeric or out-of-range port
    scheme = split.scheme.lower()
    host = (split.hostname or "").lower()
    if not scheme or not host:
        raise ValueError(f"not an absolute URL: {url!r}")
    if ":" in host:
        host = f"[{host}]"
    if port == _DEFAULT_PORTS.get(scheme):
        port = None
    # urlsplit drops a bare trailing "?", so look for it in the text itself.
    query: str | None = split.query if (split.query or "?" in url.split("#", 1)[0]) else None
    return UrlParts(scheme=scheme, host=host, port=port, path=split.path, query=query)


@dataclass(frozen=True)
class HttpRequestParts:
    """A request as received or about to be sent.

    `url` is absolute ("https://blog.example:8443/inbox?x=1"); it supplies @target-uri,
    @authority, @path, @query and (request-target). `headers` keeps the received order,
    any case, repeats allowed.
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    # Computed once per request object: the verify path looks fields up many times.
    @cached_property
    def _field_lines(self) -> dict[str, tuple[str, ...]]:
        lines: dict[str, list[str]] = {}
        for name, value in self.headers:
            lines.setdefault(name.lower(), []).append(value)
        return {name: tuple(values) for name, values in lines.items()}

    @cached_property
    def _url_parts(self) -> UrlParts:
        return parse_url(self.url)

    def field_lines(self, name: str) -> tuple[str, ...]:
        """Every value of the field called `name` (case-insensitive), in received order."""
        return self._field_lines.get(name.lower(), ())

    def has_field(self, name: str) -> bool:
        return name.lower() in self._field_lines

    def field_value(self, name: str) -> str | None:
        """The field's lines trimmed and joined with ", " (RFC 9110 combination), or None."""
        lines = self._field_lines.get(name.lower())
        if lines is None:
            return None
        return ", ".join(line.strip(" \t") for line in lines)

    def url_parts(self) -> UrlParts:
        """The parsed URL; raises SignatureError('malformed_signature') if it is not absolute."""
        try:
            return self._url_parts
        except ValueError as exc:
            raise fail(Reason.MALFORMED_SIGNATURE, "the request URL is not absolute") from exc

    def without_fields(self, names: tuple[str, ...]) -> HttpRequestParts:
        """A copy without any field of these names (any case)."""
        dropped = {name.lower() for name in names}
        kept = tuple((n, v) for n, v in self.headers if n.lower() not in dropped)
        return HttpRequestParts(method=self.method, url=self.url, headers=kept, body=self.body)

    def with_fields(self, fields: tuple[tuple[str, str], ...]) -> HttpRequestParts:
        """A copy whose fields of the same names (any case) are replaced by `fields`, appended."""
        replaced = {name.lower() for name, _ in fields}
        kept = tuple((n, v) for n, v in self.headers if n.lower() not in replaced)
        return HttpRequestParts(
            method=self.method, url=self.url, headers=kept + fields, body=self.body
        )


ParamValue = str | int | float | bool | bytes


@dataclass(frozen=True)
class Component:
    """One RFC 9421 covered component, e.g. "@query-param";name="Pet"."""

    name: str  # the bare component name: "@method", "content-digest"
    params: tuple[tuple[str, ParamValue], ...]
    identifier: str  # the serialised identifier exactly as it goes into the base

    def param(self, key: str) -> ParamValue | None:
        for name, value in self.params:
            if name == key:
                return value
        return None


@dataclass(frozen=True)
class ParsedSignature:
    """A signature found in a request, parsed but not yet verified.

    `covered` representation:
      - cavage: the lower-case names of the `headers=` parameter, pseudo-headers with their
        parentheses, e.g. ("(request-target)", "host", "date", "digest"); when `headers=` is
        absent, the draft's default ("date", or "(created)" for non rsa/hmac/ecdsa algorithms).
      - rfc9421: the serialised component identifiers as they appear in the signature base,
        e.g. ('"@method"', '"@target-uri"', '"@query-param";name="Pet"').
    `algorithm` is the `algorithm=` (cavage) or `alg=` (rfc9421) value, or None.
    """

    scheme: Literal["cavage", "rfc9421"]
    key_id: str
    algorithm: str | None
    covered: tuple[str, ...]
    created: int | None
    expires: int | None
    signature: bytes = field(repr=False)
    label: str | None = None  # rfc9421 dictionary member name
    nonce: str | None = None
    tag: str | None = None
    components: tuple[Component, ...] = ()  # rfc9421 only
    signature_params: str = ""  # rfc9421 only: the re-serialised @signature-params value
    source: str = ""  # the field it came from: "signature", "authorization", "signature-input"

    def covers(self, name: str) -> bool:
        """Whether a header / component of this bare lower-case name is covered."""
        if self.scheme == "cavage":
            return name in self.covered
        return any(c.name == name for c in self.components)


@dataclass(frozen=True)
class VerifyPolicy:
    """What verify_signature enforces beyond the cryptography.

    The defaults are the fediverse profile: Mastodon's window (app/lib/signed_request.rb,
    EXPIRATION_WINDOW_LIMIT and CLOCK_SKEW_MARGIN). A signature's time (created, or Date) may
    lie at most 1 h ahead; it lives until its `expires`, or 5 minutes after its time when it
    names none, never more than 12 h after its time; then 1 h of clock skew. So a plain
    Date-signed delivery verifies for 65 minutes. With `required_covered` and
    `require_digest_for_body` off and no grace, only what the documents require is checked.
    """

    max_age: int = 5 * 60 + 3600  # seconds a created/Date may lie past, when nothing expires it
    max_future: int = 3600  # seconds it may lie in the future
    max_lifetime: int = 12 * 3600  # an `expires` later than created + this counts as this
    expiry_grace: int = 3600  # seconds of clock skew allowed after `expires`
    require_digest_for_body: bool = True  # a POST / a body must sign Digest or Content-Digest
    required_covered: bool = True  # (request-target)/host/date, or @method + target
    min_rsa_bits: int = 2048
    allow_query_less_target: bool = True  # Mastodon quirk: retry (request-target) sans query


SPEC_POLICY = VerifyPolicy(required_covered=False, require_digest_for_body=False,
                           expiry_grace=0)


def wants_digest(request: HttpRequestParts) -> bool:
    """A POST, or any request with content, must carry a signed digest (fediverse profile)."""
    return bool(request.body) or request.method.upper() == "POST"


def encode_base(text: str) -> bytes:
    # Header strings from ASGI are latin-1 decodings of the wire bytes; encoding them back the
    # same way reproduces what the sender signed. Only text that cannot have come off the wire
    # (code points > 255) falls back to UTF-8.
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


# --- digests -------------------------------------------------------------------------------

_HASHES = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def digest_header(body: bytes) -> str:
    """RFC 3230 Digest value: 'SHA-256=base64'."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def content_digest(body: bytes) -> str:
    """RFC 9530 Content-Digest value: 'sha-256=:base64:'."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def check_digest_field(value: str, body: bytes) -> None:
    """Check an RFC 3230 `Digest` value against the body (algorithm names are case-insensitive)."""
    checked = False
    for member in value.split(","):
        name, sep, encoded = member.strip().partition("=")
        hasher = _HASHES.get(name.strip().lower())
        if not sep or hasher is None:
            continue
        try:
            expected = base64.b64decode(encoded.strip(), validate=True)
        except ValueError as exc:
            raise fail(Reason.DIGEST_MISMATCH, "the Digest header is not valid base64") from exc
        if not hmac.compare_digest(expected, hasher(body).digest()):
            raise fail(Reason.DIGEST_MISMATCH, "the body does not match the Digest header")
        checked = True
    if not checked:
        raise fail(Reason.DIGEST_MISMATCH, "the Digest header has no SHA-256 or SHA-512 value")


def check_content_digest_field(value: str, body: bytes) -> None:
    """Check an RFC 9530 `Content-Digest` value (an RFC 8941 dictionary) against the body."""
    parsed = Dictionary()
    try:
        parsed.parse(value.encode("ascii"))
    except Exception as exc:  # any failure of the third-party parser means "not a dictionary"
        raise fail(
            Reason.MALFORMED_CONTENT_DIGEST,
            "Content-Digest is not a valid RFC 8941 dictionary",
        ) from exc
    checked = False
    for name, member in parsed.items():
        hasher = _HASHES.get(name)
        if hasher is None:
            continue
        expected = getattr(member, "value", None)
        if not isinstance(expected, bytes):
            raise fail(
                Reason.MALFORMED_CONTENT_DIGEST, f"Content-Digest {name} is not a byte sequence"
            )
        if not hmac.compare_digest(expected, hasher(body).digest()):
            raise fail(Reason.DIGEST_MISMATCH, "the body does not match the Content-Digest header")
        checked = True
    if not checked:
        raise fail(Reason.DIGEST_MISMATCH, "Content-Digest has no sha-256 or sha-512 value")


def check_present_digests(request: HttpRequestParts) -> None:
    """Every digest field the request carries must match its body, signed or not."""
    digest = request.field_value("digest")
    if digest is not None:
        check_digest_field(digest, request.body)
    content = request.field_value("content-digest")
    if content is not None:
        check_content_digest_field(content, request.body)


# --- dates and time windows -----------------------------------------------------------------

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
# IMF-fixdate. "UTC" and "+0000" are tolerated because some fediverse servers send them.
_IMF_FIXDATE = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" (\d{4}) (\d{2}):(\d{2}):(\d{2}) (?:GMT|UTC|\+0000)"
)


def parse_http_date(value: str) -> int:
    """Seconds since the epoch for an IMF-fixdate; raises SignatureError('date_unparsable')."""
    match = _IMF_FIXDATE.fullmatch(value.strip())
    if match is None:
        raise fail(Reason.DATE_UNPARSABLE, "the Date header is not an IMF-fixdate")
    day, month, year, hour, minute, second = (
        int(g) if g.isascii() and g.isdigit() else _MONTHS[g] for g in match.groups()
    )
    try:
        # datetime validates the calendar (no 31 Feb); a leap second counts as :59.
        moment = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except ValueError as exc:
        raise fail(Reason.DATE_UNPARSABLE, "the Date header holds an impossible time") from exc
    return int(moment.timestamp())


def format_http_date(now: float) -> str:
    """IMF-fixdate for `now`, e.g. 'Wed, 20 Dec 2023 10:00:00 GMT'."""
    return formatdate(now, usegmt=True)


def check_window(moment: float, now: float, policy: VerifyPolicy, code: str, what: str, *,
                 expires: int | None = None) -> None:
    """`moment` (the signature's created, or its Date) against `now`, as Mastodon checks it:
    not too far ahead; not too old when nothing names an expiry (else check_expires decides,
    `expires` capped at moment + max_lifetime)."""
    if moment - now > policy.max_future:
        raise fail(code, f"{what} is too far in the future")
    if expires is not None:
        check_expires(min(expires, int(moment) + policy.max_lifetime), now, policy)
    elif now - moment > policy.max_age:
        raise fail(code, f"{what} is too far in the past")


def check_expires(expires: int | None, now: float, policy: VerifyPolicy | None = None) -> None:
    grace = policy.expiry_grace if policy is not None else 0
    if expires is not None and now > expires + grace:
        raise fail(Reason.EXPIRED, "the signature has expired")
