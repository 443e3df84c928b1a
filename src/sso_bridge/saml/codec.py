"""The SAML 2.0 bindings (HTTP-Redirect and HTTP-POST): encoding, decoding within a size
limit, and the Redirect binding's query signature (SAML 2.0 Bindings, §3.4 and §3.5).

Used alike by the service provider and by the mock IdP, in both directions.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote_plus, urlencode, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sso_bridge.keysize import MIN_RSA_KEY_BITS
from sso_bridge.saml.errors import refuse
from sso_bridge.saml.verify import check_key_size
from sso_bridge.saml.xml import parse_xml

if TYPE_CHECKING:
    from sso_bridge.saml.config import ServiceProviderConfig

__all__ = [
    "BINDING_POST",
    "BINDING_REDIRECT",
    "MAX_REDIRECT_QUERY_BYTES",
    "REDIRECT_SIGNATURE_HASHES",
    "RSA_SHA256",
    "decode_post",
    "decode_redirect",
    "deflate",
    "encode_post",
    "redirect_query",
    "redirect_signed_octets",
    "signed_redirect_root",
    "verify_redirect_signature",
]

BINDING_REDIRECT: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_POST: Final = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
RSA_SHA256: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
REDIRECT_SIGNATURE_HASHES: Final[Mapping[str, type[hashes.HashAlgorithm]]] = {
    RSA_SHA256: hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": hashes.SHA512,
}
"""Query-signature algorithms accepted on the Redirect binding, with their hashes."""

MAX_REDIRECT_QUERY_BYTES: Final = 64 * 1024
"""The longest Redirect-binding query whose signature is checked: browsers and servers cut
URLs far shorter (8 KiB is a common server limit), and a deflated message of 256 KiB
fits in a few KiB."""


def _base64(value: str | bytes, max_bytes: int) -> bytes:
    text = value.encode("ascii", "replace") if isinstance(value, str) else value
    # base64 is 4/3 the size of its content: refuse before decoding anything huge.
    if len(text) > max_bytes * 4 // 3 + 1024:
        raise refuse("saml.too_large", f"the message exceeds {max_bytes} bytes")
    try:
        # Most senders add no line breaks, and strict mode refuses any whitespace: the
        # copy without it is made only for the others.
        return _strict_base64(text)
    except binascii.Error:
        pass
    try:
        return _strict_base64(b"".join(text.split()))
    except binascii.Error:
        raise refuse("saml.bad_encoding", "the message is not base64") from None


def _strict_base64(data: bytes) -> bytes:
    if data.endswith(b"==="):  # strict mode would let surplus padding through
        raise binascii.Error("too much padding")
    return binascii.a2b_base64(data, strict_mode=True)


def decode_post(value: str | bytes, max_bytes: int) -> bytes:
    """The XML of an HTTP-POST form field (base64); ``saml.bad_encoding``/``too_large``."""
    data = _base64(value, max_bytes)
    if len(data) > max_bytes:
        raise refuse("saml.too_large", f"the message exceeds {max_bytes} bytes")
    return data


def decode_redirect(value: str | bytes, max_bytes: int) -> bytes:
    """The XML of an HTTP-Redirect query parameter (base64 of raw DEFLATE), inflated to at
    most ``max_bytes``; ``saml.bad_encoding`` or ``saml.too_large``."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        xml = inflater.decompress(_base64(value, max_bytes), max_bytes + 1)
    except zlib.error:
        raise refuse("saml.bad_encoding", "the message is not DEFLATE-compressed") from None
    if len(xml) > max_bytes or inflater.unconsumed_tail:
        raise refuse("saml.too_large", f"the message exceeds {max_bytes} bytes")
    if not inflater.eof:
        raise refuse("saml.bad_encoding", "the compressed message is truncated")
    return xml


def encode_post(xml: bytes) -> str:
    """An HTTP-POST form field value: the XML in base64."""
    return base64.b64encode(xml).decode("ascii")


def deflate(xml: bytes) -> bytes:
    """Raw DEFLATE (no zlib header), as the Redirect binding carries messages."""
    compressor = zlib.compressobj(
        zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, -_DEFLATE_WINDOW_BITS, _DEFLATE_MEM_LEVEL
    )
    return compressor.compress(xml) + compressor.flush()


# A 4 KiB window and a small hash: SAML requests are far shorter, so the output is the
# same size, while zlib's default state (over 256 KiB) is mapped afresh on many calls and
# then costs several times the compression itself. Any inflater reads the result.
_DEFLATE_WINDOW_BITS: Final = 12
_DEFLATE_MEM_LEVEL: Final = 4


def redirect_query(
    location: str,
    name: str,
    xml: bytes,
    relay_state: str | None = None,
    key: rsa.RSAPrivateKey | None = None,
) -> str:
    """``location`` with the message ``name`` (``SAMLRequest``/``SAMLResponse``) deflated
    into its query; signed with RSA-SHA256 over ``name=…&RelayState=…&SigAlg=…`` exactly
    as encoded when ``key`` is given."""
    query = f"{quote_plus(name)}={_base64_param(deflate(xml))}"
    if relay_state is not None:
        query += "&RelayState=" + _query_value(relay_state)
    if key is not None:
        query += _SIG_ALG_PARAM
        signature = key.sign(query.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        query += "&Signature=" + _base64_param(signature)
    return location + ("&" if urlsplit(location).query else "?") + query


_SIG_ALG_PARAM: Final = "&" + urlencode({"SigAlg": RSA_SHA256})
_UNQUOTED: Final = re.compile(r"[A-Za-z0-9_.~-]*")
"""What ``quote_plus`` leaves as it is."""


def _query_value(value: str) -> str:
    """``value`` as ``urlencode`` writes it (``quote_plus``), without its per-character
    lookups when nothing needs quoting."""
    return value if _UNQUOTED.fullmatch(value) else quote_plus(value)


def _base64_param(data: bytes) -> str:
    """``data`` in base64 as ``urlencode`` writes it: of the base64 alphabet only ``+``,
    ``/`` and ``=`` are quoted, so three replacements do what its per-character quoting
    does, at a fraction of the cost."""
    text = base64.b64encode(data).decode("ascii")
    return text.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")


def redirect_signed_octets(
    message_param: str, params: Mapping[str, str], query_string: str | None
) -> bytes:
    """What a Redirect-binding signature covers: the message, RelayState and SigAlg.

    From the raw ``query_string`` when there is one, exactly as the sender encoded it;
    otherwise re-encoded from ``params``. ``saml.bad_encoding`` for a parameter given
    twice or a raw query without the message or SigAlg.
    """
    order = (message_param, "RelayState", "SigAlg")
    size = (
        len(query_string)
        if query_string is not None
        else sum(len(name) + len(params[name]) for name in order if name in params)
    )
    if size > MAX_REDIRECT_QUERY_BYTES:  # checked before any re-encoding, which is per byte
        raise refuse(
            "saml.too_large", f"the Redirect query exceeds {MAX_REDIRECT_QUERY_BYTES} bytes"
        )
    if query_string is None:
        return urlencode([(name, params[name]) for name in order if name in params]).encode()
    raw: dict[str, str] = {}
    for part in query_string.split("&"):
        name = part.partition("=")[0]
        if name in order:
            if name in raw:
                raise refuse("saml.bad_encoding", f"{name} occurs twice in the query")
            raw[name] = part
    if message_param not in raw or "SigAlg" not in raw:
        raise refuse("saml.bad_encoding", "the query lacks the signed parameters")
    return "&".join(raw[name] for name in order if name in raw).encode("utf-8", "surrogatepass")


def verify_redirect_signature(
    message_param: str,
    params: Mapping[str, str],
    query_string: str | None,
    certificates: Sequence[x509.Certificate],
    *,
    min_rsa_bits: int = MIN_RSA_KEY_BITS,
) -> None:
    """Check a Redirect-binding query signature against ``certificates`` only.

    ``saml.unsigned``, ``saml.bad_algorithm``, ``saml.bad_encoding``, ``saml.weak_key``
    (an RSA key under ``min_rsa_bits``) or ``saml.signature_invalid``.
    """
    if "Signature" not in params:
        raise refuse("saml.unsigned", "the message is not signed")
    hash_type = REDIRECT_SIGNATURE_HASHES.get(params.get("SigAlg", ""))
    if hash_type is None:
        raise refuse("saml.bad_algorithm", "signature algorithm not allowed")
    try:
        signature = base64.b64decode("".join(params["Signature"].split()), validate=True)
    except (binascii.Error, ValueError):
        raise refuse("saml.bad_encoding", "Signature is not base64") from None
    signed = redirect_signed_octets(message_param, params, query_string)
    for certificate in certificates:
        check_key_size(certificate, min_rsa_bits)
    for certificate in certificates:
        public_key = certificate.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            continue
        try:
            public_key.verify(signature, signed, padding.PKCS1v15(), hash_type())
        except InvalidSignature:
            continue
        return
    raise refuse("saml.signature_invalid", "the signature does not verify with the trusted keys")


def signed_redirect_root(
    field: str,
    params: Mapping[str, str],
    encoded: str,
    config: ServiceProviderConfig,
    query_string: str | None,
) -> Any:
    """The root of the HTTP-Redirect message in ``field``, after its query signature was
    checked against the IdP's certificates (the signature comes first: nothing unsigned is
    inflated or parsed)."""
    verify_redirect_signature(
        field, params, query_string, config.idp_certificates, min_rsa_bits=config.min_rsa_key_bits
    )
    limit = config.max_response_bytes
    return parse_xml(decode_redirect(encoded, limit), max_bytes=limit, limits=config.xml_limits)
