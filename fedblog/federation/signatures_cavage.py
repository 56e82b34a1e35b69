"""draft-cavage-http-signatures-12: the `Signature:` / `Authorization: Signature` scheme.

This is what Mastodon and most of the fediverse sign with. Algorithm names map onto the
RFC 9421 names used by `signatures_crypto`:
  rsa-sha256 -> rsa-v1_5-sha256; hs2019 -> from the key (RSA: PKCS#1 v1.5 SHA-256 as Mastodon
  does, then RSASSA-PSS SHA-512 as the draft says; Ed25519: ed25519); ed25519, ecdsa-sha256,
  hmac-sha256 as named.
"""

from __future__ import annotations

import base64
import binascii
import re

from fedblog.federation import signatures_crypto as crypto
from fedblog.federation.signatures_common import (
    HttpRequestParts,
    ParsedSignature,
    Reason,
    VerifyPolicy,
    check_expires,
    check_present_digests,
    check_window,
    digest_header,
    encode_base,
    fail,
    format_http_date,
    parse_http_date,
    parse_url,
    wants_digest,
)

REQUEST_TARGET = "(request-target)"
CREATED = "(created)"
EXPIRES = "(expires)"
_PSEUDO_HEADERS = frozenset({REQUEST_TARGET, CREATED, EXPIRES})

# Explicit names a key type must fit; hs2019 (and no algorithm) defer to the key.
_NAMED_ALGORITHMS: dict[str, str] = {
    "rsa-sha256": crypto.RSA_V1_5_SHA256,
    "ed25519": crypto.ED25519,
    "ecdsa-sha256": crypto.ECDSA_P256_SHA256,
    "hmac-sha256": crypto.HMAC_SHA256,
}
HS2019 = "hs2019"
_KNOWN_ALGORITHMS = frozenset(_NAMED_ALGORITHMS) | {HS2019}
# Draft -12 section 2.3: (created)/(expires) with these algorithm families MUST be an error.
_NO_PSEUDO_PREFIXES = ("rsa", "hmac", "ecdsa")

_PARAM = re.compile(
    r'[ \t]*([A-Za-z][A-Za-z0-9_.-]*)[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))[ \t]*'
)
_ESCAPE = re.compile(r"\\(.)")


# --- parsing --------------------------------------------------------------------------------


def parse_cavage(value: str, *, source: str) -> ParsedSignature:
    """Parse a `Signature` value (or an `Authorization` value after its "Signature " scheme)."""
    params = _split_params(value)
    key_id = params.get("keyid")
    encoded = params.get("signature")
    if not key_id or encoded is None:
        raise fail(Reason.MALFORMED_SIGNATURE, "keyId and signature are required")
    algorithm = params.get("algorithm")  # checked by verify, like RFC 9421's alg
    created = _timestamp(params.get("created"), "created")
    expires = _timestamp(params.get("expires"), "expires")
    covered = _covered(params.get("headers"), algorithm, created)
    return ParsedSignature(
        scheme="cavage",
        key_id=key_id,
        algorithm=algorithm,
        covered=covered,
        created=created,
        expires=expires,
        signature=_decode_signature(encoded),
        source=source,
    )


def _split_params(value: str) -> dict[str, str]:
    text = value.strip()
    if not text:
        raise fail(Reason.MALFORMED_SIGNATURE, "the signature field is empty")
    params: dict[str, str] = {}
    pos = 0
    while True:
        match = _PARAM.match(text, pos)
        if match is None:
            raise fail(Reason.MALFORMED_SIGNATURE, "the signature field cannot be parsed")
        name = match.group(1).lower()
        if name in params:
            raise fail(Reason.MALFORMED_SIGNATURE, f"the {name} parameter is repeated")
        quoted = match.group(2)
        if quoted is None:
            params[name] = match.group(3)
        else:
            params[name] = _ESCAPE.sub(r"\1", quoted) if "\\" in quoted else quoted
        pos = match.end()
        if pos == len(text):
            return params
        if text[pos] != ",":
            raise fail(Reason.MALFORMED_SIGNATURE, "the signature field cannot be parsed")
        pos += 1


def _timestamp(raw: str | None, name: str) -> int | None:
    if raw is None:
        return None
    try:
        # The draft allows a decimal `expires`; sub-second precision does not matter here.
        return int(raw) if raw.isascii() and raw.isdigit() else int(float(raw))
    except (ValueError, OverflowError) as exc:
        raise fail(Reason.MALFORMED_SIGNATURE, f"{name} is not a timestamp") from exc


def _covered(headers: str | None, algorithm: str | None, created: int | None) -> tuple[str, ...]:
    if headers is None:
        # -12 says the default is (created), but that is an error for rsa/hmac/ecdsa; C.1 and
        # Mastodon use `date`, the only consistent choice for those families.
        family_forbids = algorithm is not None and algorithm.lower().startswith(_NO_PSEUDO_PREFIXES)
        return ("date",) if family_forbids or created is None else (CREATED,)
    names = tuple(name.lower() for name in headers.split())
    if not names:
        raise fail(Reason.MALFORMED_SIGNATURE, "the headers parameter is empty")
    for name in names:
        if name.startswith("(") and name not in _PSEUDO_HEADERS:
            raise fail(Reason.MALFORMED_SIGNATURE, f"unknown pseudo-header {name}")
    return names


def _decode_signature(encoded: str) -> bytes:
    text = "".join(encoded.split())
    text += "=" * (-len(text) % 4)  # some senders drop the padding
    try:
        signature = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise fail(Reason.MALFORMED_SIGNATURE, "the signature is not base64") from exc
    if not signature:
        raise fail(Reason.MALFORMED_SIGNATURE, "the signature is empty")
    return signature


# --- the signing string ---------------------------------------------------------------------


def signing_string(
    parsed: ParsedSignature, request: HttpRequestParts, *, include_query: bool = True
) -> str:
    """The string the sender signed, rebuilt from the request as received.

    Raises SignatureError('missing_signed_header') when a listed header is absent, and
    'pseudo_header_not_allowed' when the header list is itself an error.
    `include_query=False` builds Mastodon's legacy form of (request-target) without the query.
    """
    _check_pseudo_headers(parsed)
    lines = []
    for name in parsed.covered:
        value = _line_value(name, parsed, request, include_query)
        if "\n" in value or "\r" in value:
            raise fail(Reason.MALFORMED_SIGNATURE, f"the {name} header holds a line break")
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def _check_pseudo_headers(parsed: ParsedSignature) -> None:
    algorithm = parsed.algorithm
    forbidden = algorithm is not None and algorithm.lower().startswith(_NO_PSEUDO_PREFIXES)
    if forbidden and (CREATED in parsed.covered or EXPIRES in parsed.covered):
        raise fail(
            Reason.PSEUDO_HEADER_NOT_ALLOWED,
            f"(created)/(expires) cannot be signed with {algorithm}",
        )


def _line_value(
    name: str, parsed: ParsedSignature, request: HttpRequestParts, include_query: bool
) -> str:
    if name == REQUEST_TARGET:
        url = request.url_parts()
        target = url.request_target if include_query else url.path_or_root
        return f"{request.method.lower()} {target}"
    if name == CREATED or name == EXPIRES:
        moment = parsed.created if name == CREATED else parsed.expires
        if moment is None:
            raise fail(Reason.MISSING_SIGNED_HEADER, f"{name} is signed but has no parameter")
        return str(moment)
    value = request.field_value(name)
    if value is None and name == "host":
        # HTTP/2 carries :authority instead of Host; the URL was built from it.
        value = request.url_parts().authority
    if value is None:
        raise fail(Reason.MISSING_SIGNED_HEADER, f"the signed header {name} is missing")
    return value


# --- verification ---------------------------------------------------------------------------


def check_algorithm_name(parsed: ParsedSignature) -> str | None:
    """The lower-cased algorithm name; raises unsupported_algorithm / pseudo_header_not_allowed."""
    name = parsed.algorithm.lower() if parsed.algorithm is not None else None
    if name is not None and name not in _KNOWN_ALGORITHMS:
        raise fail(Reason.UNSUPPORTED_ALGORITHM, f"unsupported algorithm {parsed.algorithm!r}")
    _check_pseudo_headers(parsed)
    return name


def candidate_algorithms(
    parsed: ParsedSignature, key: crypto.PublicKey, key_algorithm: str | None
) -> tuple[str, ...]:
    """The RFC 9421 algorithm names to try; raises unsupported_algorithm on a key mismatch."""
    name = check_algorithm_name(parsed)
    if name is not None and name != HS2019:
        candidates: tuple[str, ...] = (_NAMED_ALGORITHMS[name],)
    elif key_algorithm is not None:
        candidates = (key_algorithm,)
    elif crypto.algorithm_for_key(key) == crypto.RSA_V1_5_SHA256:
        # Fediverse hs2019 means PKCS#1 v1.5; the draft means PSS. Accept both.
        candidates = (crypto.RSA_V1_5_SHA256, crypto.RSA_PSS_SHA512)
    else:
        candidates = (crypto.algorithm_for_key(key),)
    if not crypto.key_fits(candidates[0], key):
        raise fail(
            Reason.UNSUPPORTED_ALGORITHM,
            f"algorithm {parsed.algorithm or candidates[0]} does not fit the key",
        )
    return candidates


def verify_cavage(
    parsed: ParsedSignature,
    request: HttpRequestParts,
    key: object,
    *,
    now: float,
    policy: VerifyPolicy,
    key_algorithm: str | None = None,
) -> None:
    check_algorithm_name(parsed)
    checked = crypto.check_public_key(key, policy.min_rsa_bits)
    algorithms = candidate_algorithms(parsed, checked, key_algorithm)
    text = _signed_text(parsed, request, policy)
    if not _verifies(algorithms, checked, text, parsed.signature) and not _verifies_quirk(
        parsed, request, algorithms, checked, policy
    ):
        raise fail(Reason.SIGNATURE_MISMATCH, "the signature does not match the request")
    _check_content(parsed, request, now, policy)


def _signed_text(parsed: ParsedSignature, request: HttpRequestParts, policy: VerifyPolicy) -> str:
    """The signing string, once the signed headers are there and are the required set."""
    text = signing_string(parsed, request)
    if policy.required_covered:
        _check_required(parsed, request)
    if policy.require_digest_for_body:
        _check_digest_present(request)
    return text


def _check_content(parsed: ParsedSignature, request: HttpRequestParts, now: float,
                   policy: VerifyPolicy) -> None:
    """The Digest matching the body and signed, and the time window."""
    check_present_digests(request)
    digest_signed = parsed.covers("digest") or parsed.covers("content-digest")
    if policy.require_digest_for_body and wants_digest(request) and not digest_signed:
        raise fail(Reason.DIGEST_NOT_SIGNED, "a POST must sign its Digest header")
    _check_time(parsed, request, now, policy)


def precheck_cavage(
    parsed: ParsedSignature, request: HttpRequestParts, *, now: float, policy: VerifyPolicy
) -> None:
    """What verify_cavage checks that needs no key: the algorithm name, the signed headers
    being there and being the required set, the Digest (present, matching, signed) and the
    time window. Run before any key is fetched, so a stale, replayed or half-signed request
    costs no fetch; verify_cavage repeats these checks."""
    check_algorithm_name(parsed)
    _signed_text(parsed, request, policy)
    _check_content(parsed, request, now, policy)


def signed_authority(parsed: ParsedSignature, request: HttpRequestParts) -> str | None:
    """The host (with any port) the sender signed the request for: the signed Host header
    (HTTP/2: the request's own authority), or None when Host is not signed."""
    if "host" not in parsed.covered:
        return None
    value = request.field_value("host")
    return value if value is not None else request.url_parts().authority


def _verifies_quirk(
    parsed: ParsedSignature,
    request: HttpRequestParts,
    algorithms: tuple[str, ...],
    key: crypto.PublicKey,
    policy: VerifyPolicy,
) -> bool:
    """Mastodon's compatibility quirk: older senders signed (request-target) without the query."""
    if not (
        policy.allow_query_less_target
        and REQUEST_TARGET in parsed.covered
        and request.url_parts().query is not None
    ):
        return False
    text = signing_string(parsed, request, include_query=False)
    return _verifies(algorithms, key, text, parsed.signature)


def _verifies(algorithms: tuple[str, ...], key: crypto.PublicKey, text: str, sig: bytes) -> bool:
    data = encode_base(text)
    return any(crypto.verify_bytes(alg, key, data, sig, allow_der=True) for alg in algorithms)


def _check_required(parsed: ParsedSignature, request: HttpRequestParts) -> None:
    covered = parsed.covered
    if REQUEST_TARGET not in covered:
        raise fail(Reason.MISSING_REQUIRED_COMPONENT, "(request-target) must be signed")
    if "host" not in covered and request.has_field("host"):
        raise fail(Reason.MISSING_REQUIRED_COMPONENT, "the Host header must be signed")
    if "date" not in covered and CREATED not in covered:
        raise fail(Reason.MISSING_REQUIRED_COMPONENT, "the Date header must be signed")


def _check_digest_present(request: HttpRequestParts) -> None:
    if request.body and not (request.has_field("digest") or request.has_field("content-digest")):
        raise fail(Reason.MISSING_REQUIRED_COMPONENT, "a request with a body must carry a Digest")


def _check_time(
    parsed: ParsedSignature, request: HttpRequestParts, now: float, policy: VerifyPolicy
) -> None:
    # Only signed times count: an unsigned created/expires parameter could be anything.
    created = parsed.created if CREATED in parsed.covered else None
    expires = parsed.expires if EXPIRES in parsed.covered else None
    if created is not None:
        check_window(created, now, policy, Reason.CREATED_OUTSIDE_WINDOW, "(created)",
                     expires=expires)
    date = request.field_value("date")
    if date is not None and ("date" in parsed.covered or created is None):
        sent = parse_http_date(date)
        check_window(sent, now, policy, Reason.DATE_OUTSIDE_WINDOW, "the Date header",
                     expires=expires)
    elif created is None:
        check_expires(expires, now, policy)


# --- signing --------------------------------------------------------------------------------


def sign_cavage(
    request: HttpRequestParts,
    *,
    key_id: str,
    private_key: crypto.PrivateKey,
    now: float,
) -> HttpRequestParts:
    """Add Host, Date, Digest (POST / body) and Signature, replacing any already there."""
    if isinstance(private_key, bytes) or crypto.algorithm_for_key(private_key) not in (
        crypto.RSA_V1_5_SHA256,
        crypto.ED25519,
    ):
        raise fail(Reason.BAD_KEY, "draft-cavage signing needs an RSA or Ed25519 key")
    rsa = crypto.algorithm_for_key(private_key) == crypto.RSA_V1_5_SHA256
    # Host exactly as the HTTP client sends it: the port stays when it is not the default.
    fields: list[tuple[str, str]] = [
        ("Host", parse_url(request.url).authority),
        ("Date", format_http_date(now)),
    ]
    covered = [REQUEST_TARGET, "host", "date"]
    if wants_digest(request):
        fields.append(("Digest", digest_header(request.body)))
        covered.append("digest")
    staged = request.without_fields(("signature", "signature-input")).with_fields(tuple(fields))
    # Mastodon expects "rsa-sha256" for RSA; hs2019 is the only name Ed25519 peers accept.
    algorithm = "rsa-sha256" if rsa else HS2019
    unsigned = ParsedSignature(
        scheme="cavage",
        key_id=key_id,
        algorithm=algorithm,
        covered=tuple(covered),
        created=None,
        expires=None,
        signature=b"",
    )
    data = encode_base(signing_string(unsigned, staged))
    signature = crypto.sign_bytes(crypto.algorithm_for_key(private_key), private_key, data)
    value = ",".join(
        (
            f'keyId="{_quote(key_id)}"',
            f'algorithm="{algorithm}"',
            f'headers="{" ".join(covered)}"',
            f'signature="{base64.b64encode(signature).decode("ascii")}"',
        )
    )
    return staged.with_fields((("Signature", value),))


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
