"""RFC 9421 HTTP Message Signatures (`Signature-Input` + `Signature`) for requests.

Structured fields are parsed and serialised with `http_sfv` (RFC 8941).
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, quote, unquote

from http_sfv.dictionary import Dictionary
from http_sfv.item import InnerList, Item
from http_sfv.list import List as SfList

from fedblog.federation import signatures_crypto as crypto
from fedblog.federation.signatures_common import (
    Component,
    HttpRequestParts,
    ParamValue,
    ParsedSignature,
    Reason,
    VerifyPolicy,
    check_expires,
    check_present_digests,
    check_window,
    content_digest,
    encode_base,
    fail,
    wants_digest,
)

_DERIVED = frozenset(
    {
        "@method",
        "@target-uri",
        "@authority",
        "@scheme",
        "@request-target",
        "@path",
        "@query",
        "@query-param",
    }
)
_FIELD_PARAMS = frozenset({"sf", "key", "bs", "req", "tr"})
_FLAG_PARAMS = frozenset({"sf", "bs", "req", "tr"})
# Structured types of fields whose `;sf` form we may be asked for; others are tried in turn.
_SF_TYPES: dict[str, type[Dictionary | SfList]] = {
    "content-digest": Dictionary,
    "repr-digest": Dictionary,
    "want-content-digest": Dictionary,
    "want-repr-digest": Dictionary,
    "signature": Dictionary,
    "signature-input": Dictionary,
    "accept-signature": Dictionary,
    "priority": Dictionary,
    "cache-status": SfList,
    "proxy-status": SfList,
}


# --- parsing --------------------------------------------------------------------------------


def parse_rfc9421(request: HttpRequestParts, *, label: str | None = None) -> ParsedSignature:
    """Parse the member `label` (default: the first) of Signature-Input / Signature."""
    inputs = _dictionary(request.field_value("signature-input"), "Signature-Input")
    signature_value = request.field_value("signature")
    if signature_value is None:
        raise fail(Reason.MALFORMED_SIGNATURE, "Signature-Input without a Signature field")
    signatures = _dictionary(signature_value, "Signature")
    if label is None:
        label = next(iter(inputs))
    elif label not in inputs:
        raise fail(Reason.MISSING_SIGNATURE, f"there is no signature labelled {label}")
    member = inputs[label]
    if not isinstance(member, InnerList):
        raise fail(Reason.MALFORMED_SIGNATURE, f"Signature-Input {label} is not an inner list")
    components = tuple(_component(item) for item in member)
    if len({(c.name, frozenset(c.params)) for c in components}) != len(components):
        raise fail(Reason.MALFORMED_SIGNATURE, "a component is covered twice")
    params = member.params
    key_id = _string_param(params, "keyid")
    if key_id is None:
        raise fail(Reason.MALFORMED_SIGNATURE, "the keyid parameter is required")
    algorithm = _string_param(params, "alg")  # checked against the registry by verify
    try:
        serialised = str(member)
    except Exception as exc:  # untrusted input: any serialiser failure means malformed
        raise fail(
            Reason.MALFORMED_SIGNATURE, "the signature parameters cannot be serialised"
        ) from exc
    return ParsedSignature(
        scheme="rfc9421",
        key_id=key_id,
        algorithm=algorithm,
        covered=tuple(c.identifier for c in components),
        created=_int_param(params, "created"),
        expires=_int_param(params, "expires"),
        signature=_signature_bytes(signatures, label),
        label=label,
        nonce=_string_param(params, "nonce"),
        tag=_string_param(params, "tag"),
        components=components,
        signature_params=serialised,
        source="signature-input",
    )


def _dictionary(value: str | None, name: str) -> Dictionary:
    if value is None:
        raise fail(Reason.MISSING_SIGNATURE, f"no {name} field")
    parsed = Dictionary()
    try:
        parsed.parse(value.encode("ascii"))
    except Exception as exc:  # untrusted input: any parser failure means malformed
        raise fail(Reason.MALFORMED_SIGNATURE, f"{name} is not an RFC 8941 dictionary") from exc
    return parsed


def _signature_bytes(signatures: Dictionary, label: str) -> bytes:
    member = signatures.get(label)
    if member is None:
        raise fail(Reason.MALFORMED_SIGNATURE, f"Signature has no member {label}")
    value = getattr(member, "value", None)
    if not isinstance(member, Item) or type(value) is not bytes or not value:
        raise fail(Reason.MALFORMED_SIGNATURE, f"Signature {label} is not a byte sequence")
    return value


def _component(item: object) -> Component:
    name = getattr(item, "value", None)
    if not isinstance(item, Item) or type(name) is not str or not name:
        raise fail(Reason.MALFORMED_SIGNATURE, "a covered component is not a string")
    if name != name.lower():
        raise fail(Reason.MALFORMED_SIGNATURE, f"component {name} is not lower case")
    params: tuple[tuple[str, ParamValue], ...] = tuple(item.params.items())
    if name.startswith("@"):
        _check_derived(name, params)
    else:
        _check_field_params(name, params)
    try:
        identifier = str(item)
    except Exception as exc:  # untrusted input: any serialiser failure means malformed
        raise fail(Reason.MALFORMED_SIGNATURE, f"component {name} cannot be serialised") from exc
    return Component(name=name, params=params, identifier=identifier)


def _check_derived(name: str, params: tuple[tuple[str, ParamValue], ...]) -> None:
    if name not in _DERIVED:
        raise fail(Reason.MALFORMED_SIGNATURE, f"unknown derived component {name}")
    if name == "@query-param":
        if len(params) != 1 or params[0][0] != "name" or type(params[0][1]) is not str:
            raise fail(Reason.MALFORMED_SIGNATURE, "@query-param needs exactly a name parameter")
    elif params:
        raise fail(Reason.MALFORMED_SIGNATURE, f"{name} takes no parameters")


def _check_field_params(name: str, params: tuple[tuple[str, ParamValue], ...]) -> None:
    keys = {key for key, _ in params}
    if not keys <= _FIELD_PARAMS:
        raise fail(Reason.MALFORMED_SIGNATURE, f"unknown parameter on component {name}")
    if "req" in keys:
        raise fail(Reason.MALFORMED_SIGNATURE, "req is only meaningful in a response signature")
    if "bs" in keys and keys & {"sf", "key"}:
        raise fail(Reason.MALFORMED_SIGNATURE, "bs cannot be combined with sf or key")
    for key, value in params:
        if key in _FLAG_PARAMS and value is not True:
            raise fail(Reason.MALFORMED_SIGNATURE, f"{key} must be a boolean flag")
        if key == "key" and type(value) is not str:
            raise fail(Reason.MALFORMED_SIGNATURE, "key must be a string")


def _string_param(params: dict[str, ParamValue], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if type(value) is not str:
        raise fail(Reason.MALFORMED_SIGNATURE, f"the {name} parameter must be a string")
    return value


def _int_param(params: dict[str, ParamValue], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if type(value) is not int:  # bool is an int subclass; ?1 is not a timestamp
        raise fail(Reason.MALFORMED_SIGNATURE, f"the {name} parameter must be an integer")
    return value


# --- the signature base ---------------------------------------------------------------------


def signature_base(parsed: ParsedSignature, request: HttpRequestParts) -> str:
    """The RFC 9421 section 2.5 signature base, lines joined by "\\n", no trailing newline.

    Raises SignatureError('missing_covered_component') when a covered component is absent.
    """
    lines = []
    for component in parsed.components:
        value = _component_value(component, request)
        if "\n" in value or "\r" in value:
            raise fail(Reason.MALFORMED_SIGNATURE, f"{component.identifier} holds a line break")
        lines.append(f"{component.identifier}: {value}")
    lines.append(f'"@signature-params": {parsed.signature_params}')
    return "\n".join(lines)


def _component_value(component: Component, request: HttpRequestParts) -> str:
    if component.name.startswith("@"):
        return _derived_value(component, request)
    return _field_component_value(component, request)


def _derived_value(component: Component, request: HttpRequestParts) -> str:
    url = request.url_parts()
    name = component.name
    if name == "@method":
        return request.method
    if name == "@target-uri":
        return f"{url.scheme}://{url.authority}{url.request_target}"
    if name == "@authority":
        return url.authority
    if name == "@scheme":
        return url.scheme
    if name == "@request-target":
        return url.request_target
    if name == "@path":
        return url.path_or_root
    if name == "@query":
        return "?" + (url.query or "")
    return _query_param(str(component.param("name")), url.query or "")


def _form_encode(text: str) -> str:
    # RFC 9421 section 2.2.8: the application/x-www-form-urlencoded percent-encode set,
    # with a space as %20.
    return quote(text, safe="*").replace("~", "%7E")


def _query_param(encoded_name: str, query: str) -> str:
    wanted = _form_encode(unquote(encoded_name))
    values = [v for n, v in parse_qsl(query, keep_blank_values=True) if _form_encode(n) == wanted]
    if len(values) != 1:
        # Absent, or repeated: a repeated name MUST NOT be signed this way (section 2.2.8).
        raise fail(
            Reason.MISSING_COVERED_COMPONENT,
            f"query parameter {encoded_name} is absent or repeated",
        )
    return _form_encode(values[0])


def _field_component_value(component: Component, request: HttpRequestParts) -> str:
    lines = request.field_lines(component.name)
    if not lines or component.param("tr") is True:
        raise fail(
            Reason.MISSING_COVERED_COMPONENT, f"the covered field {component.name} is missing"
        )
    if component.param("bs") is True:
        return ", ".join(_byte_sequence(line.strip(" \t")) for line in lines)
    combined = ", ".join(line.strip(" \t") for line in lines)
    key = component.param("key")
    if isinstance(key, str):
        return _dictionary_member(component.name, combined, key)
    if component.param("sf") is True:
        return _structured(component.name, combined)
    return combined


def _byte_sequence(line: str) -> str:
    return ":" + base64.b64encode(encode_base(line)).decode("ascii") + ":"


def _unstructured(name: str) -> Exception:
    code = (
        Reason.MALFORMED_CONTENT_DIGEST
        if name == "content-digest"
        else Reason.MISSING_COVERED_COMPONENT
    )
    return fail(code, f"the covered field {name} is not a valid structured field")


def _dictionary_member(name: str, value: str, key: str) -> str:
    parsed = Dictionary()
    try:
        parsed.parse(value.encode("ascii"))
    except Exception as exc:  # untrusted input: any parser failure means malformed
        raise _unstructured(name) from exc
    member = parsed.get(key)
    if member is None:
        raise fail(Reason.MISSING_COVERED_COMPONENT, f"{name} has no member {key}")
    return str(member)


def _structured(name: str, value: str) -> str:
    kinds = (_SF_TYPES[name],) if name in _SF_TYPES else (Dictionary, SfList, Item)
    for kind in kinds:
        parsed = kind()
        try:
            parsed.parse(value.encode("ascii"))
            return str(parsed)
        except (ValueError, UnicodeEncodeError):  # not this structured type: try the next
            pass
    raise _unstructured(name)


# --- verification ---------------------------------------------------------------------------


def check_algorithm_name(parsed: ParsedSignature) -> None:
    """Raises unsupported_algorithm when `alg` is not in the IANA registry."""
    if parsed.algorithm is not None and parsed.algorithm not in crypto.RFC9421_ALGORITHMS:
        raise fail(Reason.UNSUPPORTED_ALGORITHM, f"alg {parsed.algorithm!r} is not registered")


def resolve_algorithm(
    parsed: ParsedSignature, key: crypto.PublicKey, key_algorithm: str | None
) -> str:
    """The algorithm to verify with: `alg`, else the key's own, else implied by its type."""
    check_algorithm_name(parsed)
    if key_algorithm is not None and key_algorithm not in crypto.RFC9421_ALGORITHMS:
        raise fail(Reason.UNSUPPORTED_ALGORITHM, f"unknown key algorithm {key_algorithm!r}")
    if parsed.algorithm is not None:
        if key_algorithm is not None and key_algorithm != parsed.algorithm:
            raise fail(Reason.UNSUPPORTED_ALGORITHM, "alg does not match the key's algorithm")
        algorithm = parsed.algorithm
    else:
        algorithm = key_algorithm or crypto.algorithm_for_key(key)
    if not crypto.key_fits(algorithm, key):
        raise fail(Reason.UNSUPPORTED_ALGORITHM, f"{algorithm} does not fit the key")
    return algorithm


def verify_rfc9421(
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
    algorithm = resolve_algorithm(parsed, checked, key_algorithm)
    base = _signed_base(parsed, request, policy)
    if not crypto.verify_bytes(algorithm, checked, encode_base(base), parsed.signature):
        raise fail(Reason.SIGNATURE_MISMATCH, "the signature does not match the request")
    _check_content(parsed, request, now, policy)


def _signed_base(parsed: ParsedSignature, request: HttpRequestParts, policy: VerifyPolicy) -> str:
    """The signature base, once the covered components are there and are the required set."""
    base = signature_base(parsed, request)
    if policy.required_covered:
        _check_required(parsed)
    if policy.require_digest_for_body and request.body and not request.has_field("content-digest"):
        raise fail(Reason.MISSING_REQUIRED_COMPONENT, "a request with a body needs Content-Digest")
    return base


def _check_content(parsed: ParsedSignature, request: HttpRequestParts, now: float,
                   policy: VerifyPolicy) -> None:
    """The Content-Digest matching the body and covered, and the time window."""
    check_present_digests(request)
    if (
        policy.require_digest_for_body
        and wants_digest(request)
        and not parsed.covers("content-digest")
    ):
        raise fail(Reason.CONTENT_DIGEST_NOT_COVERED, "a POST must cover content-digest")
    if parsed.created is not None:
        check_window(parsed.created, now, policy, Reason.CREATED_OUTSIDE_WINDOW, "created",
                     expires=parsed.expires)
    else:
        check_expires(parsed.expires, now, policy)


def precheck_rfc9421(
    parsed: ParsedSignature, request: HttpRequestParts, *, now: float, policy: VerifyPolicy
) -> None:
    """What verify_rfc9421 checks that needs no key (see signatures_cavage.precheck_cavage)."""
    check_algorithm_name(parsed)
    _signed_base(parsed, request, policy)
    _check_content(parsed, request, now, policy)


def signed_authority(parsed: ParsedSignature, request: HttpRequestParts) -> str | None:
    """The authority covered (by @target-uri or @authority): the request's own, or None."""
    if parsed.covers("@target-uri") or parsed.covers("@authority"):
        return request.url_parts().authority
    return None


def _check_required(parsed: ParsedSignature) -> None:
    if not parsed.covers("@method"):
        raise fail(Reason.MISSING_REQUIRED_COMPONENT, "@method must be covered")
    if not (
        parsed.covers("@target-uri")
        or (
            parsed.covers("@authority")
            and (parsed.covers("@path") or parsed.covers("@request-target"))
        )
    ):
        raise fail(
            Reason.MISSING_REQUIRED_COMPONENT,
            "@target-uri (or @authority and @path) must be covered",
        )
    if parsed.created is None:
        raise fail(Reason.MISSING_REQUIRED_COMPONENT, "the created parameter is required")


# --- signing --------------------------------------------------------------------------------


def sign_rfc9421(
    request: HttpRequestParts,
    *,
    key_id: str,
    private_key: crypto.PrivateKey,
    now: float,
    label: str = "sig1",
    expires_in: int | None = None,
    algorithm: str | None = None,
    include_alg: bool = False,
) -> HttpRequestParts:
    """Add Content-Digest (POST / body), Signature-Input and Signature, replacing old ones."""
    alg = algorithm or crypto.algorithm_for_key(private_key)
    if alg not in crypto.RFC9421_ALGORITHMS or not crypto.key_fits(alg, private_key):
        raise fail(Reason.UNSUPPORTED_ALGORITHM, f"{alg} cannot sign with this key")
    names = ["@method", "@target-uri"]
    staged = request.without_fields(("signature", "signature-input"))
    if wants_digest(request):
        staged = staged.with_fields((("Content-Digest", content_digest(request.body)),))
        names.append("content-digest")
    inner = InnerList([Item(name) for name in names])
    inner.params["created"] = int(now)
    inner.params["keyid"] = key_id
    if expires_in is not None:
        inner.params["expires"] = int(now) + expires_in
    if include_alg:
        inner.params["alg"] = alg
    unsigned = ParsedSignature(
        scheme="rfc9421",
        key_id=key_id,
        algorithm=alg if include_alg else None,
        covered=tuple(f'"{name}"' for name in names),
        created=int(now),
        expires=None,
        signature=b"",
        label=label,
        components=tuple(Component(name=n, params=(), identifier=f'"{n}"') for n in names),
        signature_params=str(inner),
    )
    signature = crypto.sign_bytes(alg, private_key, encode_base(signature_base(unsigned, staged)))
    inputs = Dictionary()
    inputs[label] = inner
    signatures = Dictionary()
    signatures[label] = signature
    return staged.with_fields((("Signature-Input", str(inputs)), ("Signature", str(signatures))))
