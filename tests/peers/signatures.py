"""HTTP-signature signing and verification for the test peer.

Everything cryptographic here is delegated to libraries nobody on this project wrote:

* draft-cavage HTTP signatures (what Mastodon sends): signing strings are built with
  ``bovine.crypto.http_signature.HttpSignature`` / ``build_signature`` and signed with
  ``HttpSignature.sign_for_http_draft(CryptographicSecret)``; verification is
  ``bovine.crypto.signature_checker.SignatureChecker.validate_signature``; the legacy
  ``Digest`` header is computed / checked with ``bovine.crypto.helper.content_digest_sha256``
  and ``bovine.crypto.digest.validate_digest``.
* RFC 9421 HTTP message signatures: ``http_message_signatures.HTTPMessageSigner.sign`` and
  ``HTTPMessageVerifier.verify`` (which also generate / check ``Content-Digest``, RFC 9530).

The only code of our own is plumbing: picking header values out of requests, turning library
"None"/exceptions into human-readable ``error`` strings for test failure messages, and
finding the right key object inside a fetched actor document.

Nothing here imports ``fedblog``.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import http_sf
from bovine.crypto.digest import validate_digest
from bovine.crypto.helper import content_digest_sha256
from bovine.crypto.http_signature import build_signature
from bovine.crypto.signature import Signature as CavageSignature
from bovine.crypto.signature_checker import SignatureChecker
from bovine.crypto.types import CryptographicIdentifier, CryptographicSecret
from bovine.utils import GMT_STRING, check_max_offset_now, parse_gmt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

Scheme = Literal["cavage", "rfc9421"]

#: RFC 9421 signatures older than this are rejected by the peer (RFC 9421 ``created`` +
#: max_age; the cavage path uses bovine's fixed +-5 minute window on ``Date``).
RFC9421_MAX_AGE = dt.timedelta(minutes=5)
#: Label used on outgoing RFC 9421 signatures (what Mastodon uses).
RFC9421_LABEL = "sig1"

_RFC9421_ALGORITHMS: dict[str, type[algorithms.HTTPSignatureAlgorithm]] = {
    "rsa-v1_5-sha256": algorithms.RSA_V1_5_SHA256,
    "rsa-pss-sha512": algorithms.RSA_PSS_SHA512,
    "ed25519": algorithms.ED25519,
    "ecdsa-p256-sha256": algorithms.ECDSA_P256_SHA256,
    "ecdsa-p384-sha384": algorithms.ECDSA_P384_SHA384,
}


class VerificationError(Exception):
    """Raised with a human-readable reason when a signature does not verify."""


class KeyFetchError(VerificationError):
    """The signer's key could not be obtained."""


# ---------------------------------------------------------------------------- helpers


def http_date(offset: float = 0.0) -> str:
    """An RFC 7231 Date header value (bovine's format), shifted by ``offset`` seconds."""
    when = dt.datetime.now(tz=dt.UTC) + dt.timedelta(seconds=offset)
    return when.strftime(GMT_STRING)


def host_and_target(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return parts.netloc, target


@dataclass
class HttpMessage:
    """Minimal request view for http_message_signatures (method, absolute url, headers)."""

    method: str
    url: str
    headers: MutableMapping[str, str]


# ---------------------------------------------------------------------------- signing


def sign_cavage(
    secret: CryptographicSecret,
    *,
    method: str,
    url: str,
    body: bytes | None = None,
    accept: str | None = None,
    date_offset: float = 0.0,
) -> dict[str, str]:
    """Headers for a draft-cavage signed request, built by bovine.

    POST: ``(request-target) host date digest``; GET: ``(request-target) host date accept``
    (bovine's signed_get shape). RSA keys sign with ``rsa-sha256`` via
    ``HttpSignature.sign_for_http_draft``; Ed25519 keys sign bovine's signing string with
    base64 output and ``algorithm="hs2019"`` (bovine would emit multibase, which nobody
    else reads).
    """
    host, target = host_and_target(url)
    date = http_date(date_offset)
    signature = build_signature(host, method.lower(), target).with_field(  # type: ignore[no-untyped-call]
        "date", date
    )
    headers: dict[str, str] = {"Host": host, "Date": date}
    if body is not None:
        digest = content_digest_sha256(body)
        signature.with_field("digest", digest)
        headers["Digest"] = digest
    if accept is not None:
        signature.with_field("accept", accept)
        headers["Accept"] = accept

    if isinstance(secret.private_key, rsa.RSAPrivateKey):
        headers["Signature"] = signature.sign_for_http_draft(secret)
    elif isinstance(secret.private_key, ed25519.Ed25519PrivateKey):
        raw = secret.private_key.sign(signature.build_message().encode("utf-8"))
        names = " ".join(name for name, _ in signature.fields)
        headers["Signature"] = (
            f'keyId="{secret.key_id}",algorithm="hs2019",headers="{names}",'
            f'signature="{base64.standard_b64encode(raw).decode()}"'
        )
    else:  # pragma: no cover - the peer only makes RSA and Ed25519 keys
        raise TypeError(f"unsupported key type {type(secret.private_key)!r}")
    return headers


def _rfc9421_algorithm_for(key: Any) -> type[algorithms.HTTPSignatureAlgorithm]:
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return algorithms.RSA_V1_5_SHA256
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return algorithms.ED25519
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if isinstance(key.curve, ec.SECP384R1):
            return algorithms.ECDSA_P384_SHA384
        return algorithms.ECDSA_P256_SHA256
    raise TypeError(f"unsupported key type {type(key)!r}")


def sign_rfc9421(
    secret: CryptographicSecret,
    *,
    method: str,
    url: str,
    body: bytes | None = None,
    accept: str | None = None,
    date_offset: float = 0.0,
) -> dict[str, str]:
    """Headers for an RFC 9421 signed request, built by http_message_signatures.

    Covers ``"@method" "@target-uri"`` (+ ``"content-digest"`` when there is a body, the
    digest header being generated by the library), with ``created`` and ``keyid`` and no
    ``alg`` parameter -- the shape Mastodon sends (label ``sig1``).
    """
    host, _ = host_and_target(url)
    headers: dict[str, str] = {"Host": host, "Date": http_date(date_offset)}
    if accept is not None:
        headers["Accept"] = accept
    message = HttpMessage(method=method.upper(), url=url, headers=headers)
    signer = HTTPMessageSigner(
        signature_algorithm=_rfc9421_algorithm_for(secret.private_key),
        key_resolver=MappingKeyResolver(
            public_keys={}, private_keys={secret.key_id: secret.private_key}
        ),
    )
    signer.sign(
        message,
        key_id=secret.key_id,
        created=dt.datetime.now(tz=dt.UTC) + dt.timedelta(seconds=date_offset),
        label=RFC9421_LABEL,
        include_alg=False,
        covered_component_ids=("@method", "@target-uri"),
        body=body,
    )
    return headers


def sign_request(
    secret: CryptographicSecret,
    scheme: Scheme,
    *,
    method: str,
    url: str,
    body: bytes | None = None,
    accept: str | None = None,
    date_offset: float = 0.0,
) -> dict[str, str]:
    fn = sign_cavage if scheme == "cavage" else sign_rfc9421
    return fn(secret, method=method, url=url, body=body, accept=accept, date_offset=date_offset)


# ---------------------------------------------------------------------------- key documents


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def identifier_from_document(document: dict[str, Any], key_id: str) -> CryptographicIdentifier:
    """Find the key ``key_id`` in a fetched document (an actor with ``publicKey`` /
    FEP-521a ``assertionMethod``, or a bare key object) and turn it into bovine's
    CryptographicIdentifier. Key ids must match exactly (as Mastodon requires)."""
    candidates: list[Any] = [document]
    candidates += _as_list(document.get("publicKey"))
    candidates += _as_list(document.get("assertionMethod"))
    seen: list[str] = []
    for candidate in candidates:
        if not isinstance(candidate, dict):
            continue
        cid = candidate.get("id")
        if cid is not None and candidate is not document:
            seen.append(str(cid))
        if cid != key_id:
            continue
        try:
            if candidate.get("publicKeyPem") is not None:
                if candidate.get("owner") is None and candidate is not document:
                    candidate = {**candidate, "owner": document.get("id")}
                return cast(
                    CryptographicIdentifier, CryptographicIdentifier.from_public_key(candidate)
                )
            if candidate.get("publicKeyMultibase") is not None:
                return cast(
                    CryptographicIdentifier, CryptographicIdentifier.from_multikey(candidate)
                )
        except Exception as exc:
            raise KeyFetchError(f"key {key_id} in fetched document is unusable: {exc!r}") from exc
        raise KeyFetchError(f"key object {key_id} has neither publicKeyPem nor publicKeyMultibase")
    raise KeyFetchError(
        f"no key with id {key_id!r} in the document fetched for it "
        f"(document id {document.get('id')!r}, key ids present: {seen})"
    )


# ---------------------------------------------------------------------------- verification


@dataclass
class Verification:
    scheme: Scheme | None
    valid: bool
    key_id: str | None = None
    signer: str | None = None  # key owner / controller, i.e. the actor the signature proves
    error: str | None = None
    covered: list[str] = field(default_factory=list)


KeyLookup = Callable[[str], Awaitable[CryptographicIdentifier]]


class _ResolvedKey(HTTPSignatureKeyResolver):
    def __init__(self, key_id: str, key: Any) -> None:
        self.key_id, self.key = key_id, key

    def resolve_public_key(self, key_id: str) -> Any:
        return self.key if key_id == self.key_id else None

    def resolve_private_key(self, key_id: str) -> Any:  # pragma: no cover
        raise KeyError(key_id)


async def verify_request(
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    lookup_key: KeyLookup,
) -> Verification:
    """Verify an incoming request. ``headers`` must have lower-case names; ``url`` is the
    absolute URL as the sender addressed it (``http://<Host header><raw path>``).
    Never raises: failures come back as ``valid=False`` with ``error`` set."""
    if "signature-input" in headers:
        return await _verify_rfc9421(method, url, headers, body, lookup_key)
    if "signature" in headers:
        return await _verify_cavage(method, url, headers, body, lookup_key)
    if "authorization" in headers and headers["authorization"].lower().startswith("signature"):
        return Verification(None, False, error="signature in Authorization header is not supported")
    return Verification(None, False, error="request carries no Signature header")


async def _verify_cavage(
    method: str, url: str, headers: dict[str, str], body: bytes, lookup_key: KeyLookup
) -> Verification:
    result = Verification("cavage", False)
    try:
        parsed = CavageSignature.from_signature_header(  # type: ignore[no-untyped-call]
            headers["signature"]
        )
    except Exception as exc:  # noqa: BLE001 - bovine raises ValueError/KeyError/IndexError
        result.error = f"malformed Signature header {headers['signature']!r}: {exc!r}"
        return result
    result.key_id = parsed.key_id
    result.covered = parsed.fields
    is_post = method.upper() == "POST"

    missing = [f for f in parsed.fields if not f.startswith("(") and f not in headers]
    if missing:
        result.error = f"signed header(s) {missing} not present in the request"
        return result
    for required in ("(request-target)", "date"):
        if required not in parsed.fields:
            result.error = f"signature does not cover {required!r} (covers {parsed.fields})"
            return result
    if is_post:
        if "digest" not in headers and "content-digest" not in headers:
            result.error = "POST without Digest header"
            return result
        if not validate_digest(headers, body):
            result.error = "Digest header does not match the body"
            return result
        if "digest" not in parsed.fields and "content-digest" not in parsed.fields:
            result.error = f"signature does not cover the digest (covers {parsed.fields})"
            return result
    try:
        date_ok = check_max_offset_now(parse_gmt(headers["date"]))
    except ValueError:
        result.error = f"unparseable Date header {headers['date']!r}"
        return result
    if not date_ok:
        result.error = f"Date header {headers['date']!r} is more than 5 minutes off"
        return result

    try:
        identifier = await lookup_key(parsed.key_id)
    except VerificationError as exc:
        result.error = str(exc)
        return result

    async def retrieve(key_id: str) -> CryptographicIdentifier:
        return identifier

    async def get_body() -> bytes:
        return body

    checker = SignatureChecker(retrieve)
    signer = await checker.validate_signature(method.lower(), url, headers, get_body)
    if signer is None:
        result.error = f"cavage signature does not verify with key {parsed.key_id} (bovine)"
        return result
    result.valid, result.signer = True, signer
    return result


async def _verify_rfc9421(
    method: str, url: str, headers: dict[str, str], body: bytes, lookup_key: KeyLookup
) -> Verification:
    result = Verification("rfc9421", False)
    if "signature" not in headers:
        result.error = "Signature-Input without Signature header"
        return result
    try:
        inputs: dict[str, Any] = cast(
            dict[str, Any],
            http_sf.parse(headers["signature-input"].encode(), tltype="dictionary"),
        )
    except Exception as exc:  # noqa: BLE001 - anything http_sf raises means malformed
        result.error = f"malformed Signature-Input {headers['signature-input']!r}: {exc!r}"
        return result
    if len(inputs) != 1:
        result.error = f"expected exactly one signature, got labels {list(inputs)}"
        return result
    ((components, params),) = inputs.values()
    result.covered = [str(c[0]) for c in components] if isinstance(components, list) else []
    key_id = params.get("keyid")
    if not isinstance(key_id, str):
        result.error = "Signature-Input has no keyid"
        return result
    result.key_id = key_id
    if method.upper() == "POST" and "content-digest" not in result.covered:
        result.error = f"signature does not cover content-digest (covers {result.covered})"
        return result
    if "@method" not in result.covered or not (
        "@target-uri" in result.covered
        or {"@authority", "@path"} <= set(result.covered)
        or {"@authority", "@request-target"} <= set(result.covered)
    ):
        result.error = f"signature does not cover method and target (covers {result.covered})"
        return result

    try:
        identifier = await lookup_key(key_id)
    except VerificationError as exc:
        result.error = str(exc)
        return result

    alg = params.get("alg")
    if alg is not None:
        if alg not in _RFC9421_ALGORITHMS:
            result.error = f"unsupported alg {alg!r}"
            return result
        algorithm = _RFC9421_ALGORITHMS[alg]
    else:
        algorithm = _rfc9421_algorithm_for(identifier.public_key)
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithm,
        key_resolver=_ResolvedKey(key_id, identifier.public_key),
    )
    message = HttpMessage(method=method.upper(), url=url, headers=headers)
    try:
        verifier.verify(message, max_age=RFC9421_MAX_AGE, body=body)
    except (InvalidSignature, HTTPMessageSignaturesException) as exc:
        detail = str(exc) or "signature does not match the signature base"
        result.error = f"RFC 9421 signature rejected by http_message_signatures: {detail}"
        return result
    except Exception as exc:  # noqa: BLE001  # pragma: no cover - defensive
        result.error = f"RFC 9421 verification crashed: {exc!r}"
        return result
    result.valid, result.signer = True, identifier.controller
    return result
