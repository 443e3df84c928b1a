"""The Redirect binding's encoding: the query is exactly what ``urlencode`` writes for the
message, RelayState, SigAlg and Signature, the deflated message inflates back to the XML
with any window, and text read from elements is the whole text whatever the shape."""

from __future__ import annotations

import base64
import random
import string
import zlib
from urllib.parse import parse_qsl, urlencode, urlsplit

import attrs
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from helpers.saml import make_idp
from mock_idp.saml_idp import SamlIdP
from sso_bridge.saml import SamlError, ServiceProviderConfig
from sso_bridge.saml.codec import (
    RSA_SHA256,
    decode_post,
    decode_redirect,
    deflate,
    redirect_query,
)
from sso_bridge.saml.requests import _authn_request_text, _authn_request_tree
from sso_bridge.saml.xml import element_text, new_id, parse_xml

RELAY_ALPHABETS = (
    string.ascii_letters + string.digits + "-_.~",
    string.printable + "äя€\u2028%+&=?# ",
)


def reference_query(
    location: str, name: str, xml: bytes, relay_state: str | None, key: rsa.RSAPrivateKey | None
) -> str:
    """The query as the binding defines it, built with ``urlencode`` throughout."""
    pairs = [(name, base64.b64encode(deflate(xml)).decode("ascii"))]
    if relay_state is not None:
        pairs.append(("RelayState", relay_state))
    query = urlencode(pairs)
    if key is not None:
        query += "&" + urlencode({"SigAlg": RSA_SHA256})
        signature = key.sign(query.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        query += "&" + urlencode({"Signature": base64.b64encode(signature).decode("ascii")})
    return location + ("&" if urlsplit(location).query else "?") + query


@pytest.fixture(scope="module")
def idp() -> SamlIdP:
    return make_idp()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_redirect_query_is_what_urlencode_writes(key: rsa.RSAPrivateKey) -> None:
    rnd = random.Random(20)  # noqa: S311 - reproducible cases, not secrets
    for case in range(400):
        xml = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 1200)))
        relay = (
            None
            if case % 5 == 0
            else "".join(rnd.choice(RELAY_ALPHABETS[case % 2]) for _ in range(rnd.randrange(0, 80)))
        )
        location = rnd.choice(("https://idp.example/sso", "https://idp.example/sso?tenant=1"))
        name = rnd.choice(("SAMLRequest", "SAMLResponse"))
        signer = key if case % 9 == 0 else None
        expected = reference_query(location, name, xml, relay, signer)
        assert redirect_query(location, name, xml, relay, signer) == expected


def test_deflated_message_inflates_back_with_any_window() -> None:
    rnd = random.Random(7)  # noqa: S311 - reproducible cases, not secrets
    for size in (0, 1, 600, 5000, 70000):
        xml = b"<a>" + bytes(rnd.choice(b"abc <>&\"'") for _ in range(size)) + b"</a>"
        compressed = deflate(xml)
        assert zlib.decompress(compressed, -zlib.MAX_WBITS) == xml
        assert decode_redirect(base64.b64encode(compressed), 1 << 20) == xml


def test_redirect_message_reads_back(key: rsa.RSAPrivateKey) -> None:
    xml = b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a"/>'
    url = redirect_query("https://idp.example/sso", "SAMLRequest", xml, "r-1~x.y", key)
    params = dict(parse_qsl(urlsplit(url).query))
    assert decode_redirect(params["SAMLRequest"], 1 << 16) == xml
    assert params["RelayState"] == "r-1~x.y"
    assert params["SigAlg"] == RSA_SHA256


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("<v>plain</v>", "plain"),
        ("<v></v>", ""),
        ("<v/>", ""),
        ("<v>be<!-- cut -->fore</v>", "before"),
        ("<v><!-- only a comment --></v>", ""),
        ("<v>a<b>inner</b>tail</v>", "ainnertail"),
        ("<v><![CDATA[x < y]]> &amp; z</v>", "x < y & z"),
        ("<v>a<?pi data?>b</v>", "ab"),
        ("<v>Анна</v>", "Анна"),
    ],
)
def test_element_text_is_all_text_but_comments(body: str, text: str) -> None:
    element = parse_xml(f"<r>{body}</r>".encode())[0]
    assert element_text(element) == text


@pytest.mark.parametrize(
    ("field", "xml"),
    [
        (b"PGEvPg==", b"<a/>"),
        (b"PGEv\r\nPg==", b"<a/>"),
        (b" PGEvPg==\n", b"<a/>"),
        (b"PGEvPg= =", b"<a/>"),
        (b"PGEvPg===", None),
        (b"PGEvPg==\n=", None),
        (b"PGEvPg", None),
        (b"PGEv*Pg==", None),
        (b"PGEvPg==PGEvPg==", None),
    ],
)
def test_post_field_is_strict_base64_whitespace_aside(field: bytes, xml: bytes | None) -> None:
    if xml is not None:
        assert decode_post(field, 1 << 10) == xml
        assert decode_post(field.decode("ascii"), 1 << 10) == xml
    else:
        with pytest.raises(SamlError) as refused:
            decode_post(field, 1 << 10)
        assert refused.value.code == "saml.bad_encoding"


def _request_fields(
    rnd: random.Random, config: ServiceProviderConfig, alphabet: str
) -> tuple[ServiceProviderConfig, str, str, bool, tuple[str, ...]]:
    def text() -> str:
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 40)))

    changed = attrs.evolve(
        config,
        entity_id="https://sp.example/" + text(),
        acs_url="https://sp.example/acs?x=" + text(),
        idp_sso_url="https://idp.example/sso/" + text(),
    )
    contexts = tuple(text() for _ in range(rnd.randrange(0, 3)))
    return changed, new_id(), "2026-12-06T21:49:18Z", rnd.random() < 0.5, contexts


# Printable ASCII but the four characters XML escapes; then everything else as well.
PLAIN = "".join(c for c in string.printable[:95] if c not in '"&<>')
ESCAPED = PLAIN + '"&<>\t\n\r'
REQUEST_ALPHABETS = (PLAIN, PLAIN, ESCAPED, ESCAPED + "äя€\u2028")


def test_authn_request_from_the_template_is_what_lxml_writes(idp: SamlIdP) -> None:
    config = ServiceProviderConfig.from_idp_metadata(
        idp.metadata(),
        entity_id="https://sp.example",
        acs_url="https://sp.example/acs",
        idp_entity_id=idp.entity_id,
    )
    rnd = random.Random(5)  # noqa: S311 - reproducible cases, not secrets
    plain = 0
    for case in range(400):
        fields = _request_fields(rnd, config, REQUEST_ALPHABETS[case % 4])
        tree = etree.tostring(_authn_request_tree(*fields), encoding="UTF-8")
        text = _authn_request_text(*fields)
        if text is not None:
            plain += 1
            assert text == tree
        assert parse_xml(text or tree).get("ID") == fields[1]
    assert plain >= 200
