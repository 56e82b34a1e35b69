"""HTTP signatures for the fediverse: parse, verify and sign requests.

The one module the rest of the app imports. Two schemes:

- draft-cavage-http-signatures-12 (`Signature:` or `Authorization: Signature ...`), what
  Mastodon and most servers send; see `signatures_cavage`.
- RFC 9421 HTTP Message Signatures (`Signature-Input` + `Signature`); see `signatures_rfc9421`.

Pure code: no database, network or web framework. Typical inbox use:

    parsed = parse_signature(request)                 # SignatureError: missing / malformed
    key = keys_by_id[parsed.key_id]                   # caller: SignatureError("unknown_key", ...)
    verify_signature(parsed, request, key, now=time.time())

verify_signature checks, in this order: the algorithm name (unsupported_algorithm /
pseudo_header_not_allowed); the key (bad_key / weak_key) and whether it fits the algorithm
(unsupported_algorithm); the signing string / base (missing_signed_header /
missing_covered_component); the fediverse coverage rules (missing_required_component); the
signature (signature_mismatch); the digests (digest_mismatch / malformed_content_digest /
digest_not_signed / content_digest_not_covered); the time (date_unparsable /
date_outside_window / created_outside_window / expired).
"""

from __future__ import annotations

from fedblog.federation import signatures_cavage as _cavage
from fedblog.federation import signatures_rfc9421 as _rfc9421
from fedblog.federation.signatures_common import (
    REASON_CODES,
    SPEC_POLICY,
    Component,
    HttpRequestParts,
    ParsedSignature,
    Reason,
    SignatureError,
    UrlParts,
    VerifyPolicy,
    content_digest,
    digest_header,
    fail,
)
from fedblog.federation.signatures_crypto import (
    RFC9421_ALGORITHMS,
    PrivateKey,
    PublicKey,
    algorithm_for_key,
    check_public_key,
    load_private_key_pem,
    load_public_key_pem,
    sign_bytes,
    verify_bytes,
)

__all__ = [
    "REASON_CODES",
    "RFC9421_ALGORITHMS",
    "SPEC_POLICY",
    "Component",
    "HttpRequestParts",
    "ParsedSignature",
    "PrivateKey",
    "PublicKey",
    "Reason",
    "SignatureError",
    "UrlParts",
    "VerifyPolicy",
    "algorithm_for_key",
    "candidate_algorithms",
    "check_algorithm",
    "content_digest",
    "digest_header",
    "load_private_key_pem",
    "load_public_key_pem",
    "parse_signature",
    "precheck_signature",
    "sign_bytes",
    "sign_request_cavage",
    "sign_request_rfc9421",
    "signature_base",
    "signed_authority",
    "signing_string",
    "verify_bytes",
    "verify_signature",
]

_DEFAULT_POLICY = VerifyPolicy()


def parse_signature(request: HttpRequestParts, *, label: str | None = None) -> ParsedSignature:
    """Find and parse the request's signature.

    Prefers RFC 9421 when Signature-Input is present (member `label`, default the first), else
    a cavage `Signature`, else `Authorization: Signature`. Raises SignatureError with
    'missing_signature' when there is none (or no member `label`), 'malformed_signature' when
    it cannot be parsed. The algorithm name is judged by verify_signature (or earlier, without
    a key, by check_algorithm).
    """
    if request.has_field("signature-input"):
        return _rfc9421.parse_rfc9421(request, label=label)
    signature = request.field_value("signature")
    if signature is not None:
        return _cavage.parse_cavage(signature, source="signature")
    for value in request.field_lines("authorization"):
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() == "signature":
            return _cavage.parse_cavage(rest, source="authorization")
    raise fail(Reason.MISSING_SIGNATURE, "the request is not signed")


def check_algorithm(parsed: ParsedSignature) -> None:
    """Fail fast, before fetching a key, on what no key can fix.

    Raises 'unsupported_algorithm' for an unknown algorithm / alg name and (cavage)
    'pseudo_header_not_allowed' for (created)/(expires) with an rsa/hmac/ecdsa algorithm.
    verify_signature repeats these checks, so calling this is optional.
    """
    if parsed.scheme == "rfc9421":
        _rfc9421.check_algorithm_name(parsed)
    else:
        _cavage.check_algorithm_name(parsed)


def precheck_signature(
    parsed: ParsedSignature,
    request: HttpRequestParts,
    *,
    now: float,
    policy: VerifyPolicy = _DEFAULT_POLICY,
) -> None:
    """Every check of verify_signature that needs no key, in one call, so an inbox can refuse
    a stale, replayed, tampered or half-signed request before fetching anything: the
    algorithm name, the signed headers / covered components (present and the required set),
    the digests (present, matching the body, signed) and the time window. Raises
    SignatureError with the codes verify_signature would give."""
    if parsed.scheme == "rfc9421":
        _rfc9421.precheck_rfc9421(parsed, request, now=now, policy=policy)
    else:
        _cavage.precheck_cavage(parsed, request, now=now, policy=policy)


def signed_authority(parsed: ParsedSignature, request: HttpRequestParts) -> str | None:
    """The host (and port) the signature was made for, as written: the signed Host header
    (cavage) or the covered @target-uri / @authority (RFC 9421); None when it covers none.
    Comparing it with our own host refuses a request signed for another server and replayed
    to us."""
    if parsed.scheme == "rfc9421":
        return _rfc9421.signed_authority(parsed, request)
    return _cavage.signed_authority(parsed, request)


def verify_signature(
    parsed: ParsedSignature,
    request: HttpRequestParts,
    public_key: object,
    *,
    now: float,
    policy: VerifyPolicy = _DEFAULT_POLICY,
    key_algorithm: str | None = None,
) -> None:
    """Verify `parsed` against `request`; returns None or raises SignatureError.

    `public_key` is an RSAPublicKey, Ed25519PublicKey, EllipticCurvePublicKey (P-256/P-384)
    or bytes (an HMAC secret). `key_algorithm` is the RFC 9421 algorithm bound to the key
    by its metadata, when known; without it the key type implies one (RSA means
    rsa-v1_5-sha256, since an rsa-pss-sha512 key cannot be told apart). `now` is the current
    Unix time; the caller passes it so tests and replays are deterministic.
    """
    if parsed.scheme == "rfc9421":
        _rfc9421.verify_rfc9421(
            parsed, request, public_key, now=now, policy=policy, key_algorithm=key_algorithm
        )
    else:
        _cavage.verify_cavage(
            parsed, request, public_key, now=now, policy=policy, key_algorithm=key_algorithm
        )


def signing_string(
    parsed: ParsedSignature, request: HttpRequestParts, *, include_query: bool = True
) -> str:
    """The exact text the signature covers: the cavage signing string or the RFC 9421 base.

    Lines are joined with "\\n", without a trailing newline. `include_query=False` gives the
    cavage string with the query left out of (request-target) (Mastodon's legacy form); it has
    no effect on RFC 9421.
    """
    if parsed.scheme == "rfc9421":
        return _rfc9421.signature_base(parsed, request)
    return _cavage.signing_string(parsed, request, include_query=include_query)


def signature_base(parsed: ParsedSignature, request: HttpRequestParts) -> str:
    """Alias of signing_string, under RFC 9421's name for it."""
    return signing_string(parsed, request)


def candidate_algorithms(
    parsed: ParsedSignature,
    public_key: object,
    *,
    key_algorithm: str | None = None,
    min_rsa_bits: int = 0,
) -> tuple[str, ...]:
    """The RFC 9421 algorithm names verify_signature would try, in order.

    One name, except for a cavage hs2019 / algorithm-less signature with an RSA key, which
    tries PKCS#1 v1.5 (the fediverse's reading) and then PSS (the draft's).
    """
    key = check_public_key(public_key, min_rsa_bits)
    if parsed.scheme == "rfc9421":
        return (_rfc9421.resolve_algorithm(parsed, key, key_algorithm),)
    return _cavage.candidate_algorithms(parsed, key, key_algorithm)


def sign_request_cavage(
    request: HttpRequestParts,
    *,
    key_id: str,
    private_key: PrivateKey,
    now: float,
) -> HttpRequestParts:
    """A copy of `request` with Host, Date, Digest (POST or body) and Signature set.

    Host is the URL's authority with any non-default port kept; Date is an IMF-fixdate of
    `now`. The signature covers "(request-target) host date" plus "digest" when there is one,
    with algorithm="rsa-sha256" for RSA keys (what Mastodon expects) and "hs2019" for Ed25519.
    Existing fields of those names, and any Signature-Input, are replaced.
    """
    return _cavage.sign_cavage(request, key_id=key_id, private_key=private_key, now=now)


def sign_request_rfc9421(
    request: HttpRequestParts,
    *,
    key_id: str,
    private_key: PrivateKey,
    now: float,
    label: str = "sig1",
    expires_in: int | None = None,
    algorithm: str | None = None,
    include_alg: bool = False,
) -> HttpRequestParts:
    """A copy of `request` with Content-Digest (POST or body), Signature-Input and Signature.

    Covers "@method" "@target-uri" (+ "content-digest") with created=now and keyid. The
    algorithm is implied by the key (RSA: rsa-v1_5-sha256, Ed25519: ed25519, P-256:
    ecdsa-p256-sha256, bytes: hmac-sha256) unless given. `alg` is only sent with
    include_alg=True: Mastodon sends none and peers infer it from the key.
    """
    return _rfc9421.sign_rfc9421(
        request,
        key_id=key_id,
        private_key=private_key,
        now=now,
        label=label,
        expires_in=expires_in,
        algorithm=algorithm,
        include_alg=include_alg,
    )
