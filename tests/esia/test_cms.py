"""ESIA client_secret: detached CMS signatures and timestamps."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms as asn1_cms  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.esia.cms import (
    MAX_SECRET_LENGTH,
    check_timestamp,
    client_secret_message,
    esia_timestamp,
    parse_esia_timestamp,
    sign_client_secret,
    verify_client_secret,
)
from sso_bridge.keytypes import PrivateKey

MESSAGE = client_secret_message(
    "openid fullname",
    "2026.11.22 10:37:03 +0000",
    "SCHOOL01",
    "0f8e6ba5-1c9d-4a8e-b1f2-3c4d5e6f7a8b",
)
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(
    OPENSSL is None, reason="the openssl command-line program is not installed"
)


# --- keys and certificates ----------------------------------------------------------------


def make_cert(
    key: PrivateKey | ed25519.Ed25519PrivateKey,
    *,
    serial: int = 1001,
    common_name: str = "client",
    key_identifier: bytes | None = None,
) -> x509.Certificate:
    """A self-signed certificate; with a subject key identifier extension if one is given."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
    )
    if key_identifier is not None:
        builder = builder.add_extension(x509.SubjectKeyIdentifier(key_identifier), critical=False)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(key, algorithm)


def key_id_of(key: PrivateKey) -> bytes:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_cert(rsa_key: rsa.RSAPrivateKey) -> x509.Certificate:
    return make_cert(rsa_key, key_identifier=key_id_of(rsa_key))


@pytest.fixture(scope="module")
def ec_cert(ec_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return make_cert(ec_key, key_identifier=key_id_of(ec_key))


@pytest.fixture(params=["rsa", "ec"])
def signer(
    request: pytest.FixtureRequest,
    rsa_key: rsa.RSAPrivateKey,
    rsa_cert: x509.Certificate,
    ec_key: ec.EllipticCurvePrivateKey,
    ec_cert: x509.Certificate,
) -> tuple[PrivateKey, x509.Certificate]:
    if request.param == "rsa":
        return rsa_key, rsa_cert
    return ec_key, ec_cert


@pytest.fixture
def rsa_secret(rsa_key: rsa.RSAPrivateKey, rsa_cert: x509.Certificate) -> str:
    return sign_client_secret(MESSAGE, rsa_cert, rsa_key)


# --- helpers ------------------------------------------------------------------------------


def to_der(secret: str) -> bytes:
    return base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))


def to_secret(der: bytes) -> str:
    return base64.urlsafe_b64encode(der).rstrip(b"=").decode("ascii")


def raw_sign(key: PrivateKey, data: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), algorithm)
    return key.sign(data, ec.ECDSA(algorithm))


def rebuild(
    secret: str,
    mutate: Callable[[Any, Any], None],
    *,
    resign: PrivateKey | None = None,
    algorithm: hashes.HashAlgorithm | None = None,
) -> str:
    """Change the parsed SignedData, then sign the signed attributes again if asked."""
    info = asn1_cms.ContentInfo.load(to_der(secret))
    signed_data = info["content"]
    signer_info = signed_data["signer_infos"][0]
    mutate(signed_data, signer_info)
    if resign is not None:
        attrs = signer_info["signed_attrs"].untag().dump(force=True)
        signer_info["signature"] = raw_sign(resign, attrs, algorithm or hashes.SHA256())
    return to_secret(info.dump(force=True))


def set_attribute(signer_info: Any, name: str, values: list[Any]) -> None:
    for attr in signer_info["signed_attrs"]:
        if attr["type"].native == name:
            attr["values"] = values
            return
    raise AssertionError(name)


def drop_attribute(signer_info: Any, name: str) -> None:
    attrs = [a for a in signer_info["signed_attrs"] if a["type"].native != name]
    signer_info["signed_attrs"] = attrs


def refused(secret: str, message: bytes, cert: x509.Certificate) -> str:
    with pytest.raises(BridgeError) as info:
        verify_client_secret(secret, message, cert)
    return info.value.code


# --- round trips --------------------------------------------------------------------------


def test_round_trip(signer: tuple[PrivateKey, x509.Certificate]) -> None:
    key, cert = signer
    secret = sign_client_secret(MESSAGE, cert, key)
    assert "=" not in secret
    assert set(secret) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    verify_client_secret(secret, MESSAGE, cert)
    # padded form is accepted too
    verify_client_secret(secret + "=" * (-len(secret) % 4), MESSAGE, cert)


def test_signature_is_detached_sha256_and_by_certificate(rsa_secret: str) -> None:
    signed_data = asn1_cms.ContentInfo.load(to_der(rsa_secret))["content"]
    assert signed_data["encap_content_info"]["content"].native is None
    signer_info = signed_data["signer_infos"][0]
    assert signer_info["digest_algorithm"]["algorithm"].native == "sha256"
    assert signer_info["sid"].name == "issuer_and_serial_number"


def test_message_bytes_are_signed_as_given(
    signer: tuple[PrivateKey, x509.Certificate],
) -> None:
    # No MIME canonicalisation: a bare LF must not become CRLF.
    key, cert = signer
    message = client_secret_message("openid\n", "t", "клиент", "s")
    secret = sign_client_secret(message, cert, key)
    verify_client_secret(secret, message, cert)
    assert refused(secret, message.replace(b"\n", b"\r\n"), cert) == "esia.secret_bad_digest"


def test_without_signed_attributes(signer: tuple[PrivateKey, x509.Certificate]) -> None:
    key, cert = signer
    rsa_padding = padding.PKCS1v15() if isinstance(key, rsa.RSAPrivateKey) else None
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(MESSAGE)
        .add_signer(cert, key, hashes.SHA256(), rsa_padding=rsa_padding)
        .sign(
            serialization.Encoding.DER,
            [
                pkcs7.PKCS7Options.DetachedSignature,
                pkcs7.PKCS7Options.Binary,
                pkcs7.PKCS7Options.NoAttributes,
            ],
        )
    )
    assert (
        asn1_cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signed_attrs"].native is None
    )
    verify_client_secret(to_secret(der), MESSAGE, cert)
    assert refused(to_secret(der), MESSAGE + b"x", cert) == "esia.secret_bad_signature"


def test_client_secret_message() -> None:
    assert client_secret_message("openid", "2026.11.22 10:37:03 +0000", "ИС", "st") == (
        "openid2026.11.22 10:37:03 +0000ИСst".encode()
    )


# --- wrong message, signer, tampering -----------------------------------------------------


def test_wrong_message(signer: tuple[PrivateKey, x509.Certificate]) -> None:
    key, cert = signer
    secret = sign_client_secret(MESSAGE, cert, key)
    assert refused(secret, MESSAGE + b"x", cert) == "esia.secret_bad_digest"
    assert refused(secret, b"", cert) == "esia.secret_bad_digest"


def test_other_key_same_subject_other_serial(
    rsa_secret: str, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    impostor = make_cert(other_rsa_key, serial=2002)
    assert refused(rsa_secret, MESSAGE, impostor) == "esia.secret_wrong_signer"


def test_other_key_same_subject_and_serial(
    rsa_secret: str, rsa_cert: x509.Certificate, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    impostor = make_cert(other_rsa_key, serial=rsa_cert.serial_number)
    assert refused(rsa_secret, MESSAGE, impostor) == "esia.secret_bad_signature"


def test_other_issuer(rsa_secret: str, rsa_key: rsa.RSAPrivateKey) -> None:
    same_key_other_name = make_cert(rsa_key, common_name="someone else")
    assert refused(rsa_secret, MESSAGE, same_key_other_name) == "esia.secret_wrong_signer"


def test_issuer_compared_as_rfc5280_names(rsa_secret: str, rsa_cert: x509.Certificate) -> None:
    def shout(_: Any, signer_info: Any) -> None:
        signer_info["sid"] = asn1_cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={
                "issuer": asn1_x509.Name.build({"common_name": "  CLIENT "}),
                "serial_number": rsa_cert.serial_number,
            },
        )

    verify_client_secret(rebuild(rsa_secret, shout), MESSAGE, rsa_cert)


def test_tampered_signature_bytes(signer: tuple[PrivateKey, x509.Certificate]) -> None:
    key, cert = signer

    def flip(_: Any, signer_info: Any) -> None:
        signature = bytearray(signer_info["signature"].native)
        signature[len(signature) // 2] ^= 0x01
        signer_info["signature"] = bytes(signature)

    secret = rebuild(sign_client_secret(MESSAGE, cert, key), flip)
    assert refused(secret, MESSAGE, cert) == "esia.secret_bad_signature"


def test_tampered_message_digest_attribute(rsa_secret: str, rsa_cert: x509.Certificate) -> None:
    forged = MESSAGE.replace(b"fullname", b"snils")

    def retarget(_: Any, signer_info: Any) -> None:
        set_attribute(signer_info, "message_digest", [hashlib.sha256(forged).digest()])

    secret = rebuild(rsa_secret, retarget)
    assert refused(secret, MESSAGE, rsa_cert) == "esia.secret_bad_digest"
    # The digest now fits the forged message, but the signature over the attributes does not.
    assert refused(secret, forged, rsa_cert) == "esia.secret_bad_signature"


def test_tampered_signing_time(rsa_secret: str, rsa_cert: x509.Certificate) -> None:
    def backdate(_: Any, signer_info: Any) -> None:
        when = asn1_cms.Time(name="utc_time", value=datetime(2001, 1, 1, tzinfo=UTC))
        set_attribute(signer_info, "signing_time", [when])

    assert refused(rebuild(rsa_secret, backdate), MESSAGE, rsa_cert) == "esia.secret_bad_signature"


# --- algorithms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "algorithm", "digest"),
    [
        ("sha1", hashes.SHA1(), hashlib.sha1),  # noqa: S303 - the point is refusing it
        ("md5", hashes.MD5(), hashlib.md5),  # noqa: S303 - the point is refusing it
        ("sha512", hashes.SHA512(), hashlib.sha512),
    ],
)
def test_digest_other_than_sha256_refused(
    rsa_secret: str,
    rsa_key: rsa.RSAPrivateKey,
    rsa_cert: x509.Certificate,
    name: str,
    algorithm: hashes.HashAlgorithm,
    digest: Callable[[bytes], Any],
) -> None:
    def weaken(signed_data: Any, signer_info: Any) -> None:
        signed_data["digest_algorithms"] = [{"algorithm": name}]
        signer_info["digest_algorithm"] = {"algorithm": name}
        set_attribute(signer_info, "message_digest", [digest(MESSAGE).digest()])

    secret = rebuild(rsa_secret, weaken, resign=rsa_key, algorithm=algorithm)
    assert refused(secret, MESSAGE, rsa_cert) == "esia.secret_unsupported_algorithm"


def test_weak_digest_only_listed_refused(rsa_secret: str, rsa_cert: x509.Certificate) -> None:
    def list_md5(signed_data: Any, _: Any) -> None:
        signed_data["digest_algorithms"] = [{"algorithm": "sha256"}, {"algorithm": "md5"}]

    secret = rebuild(rsa_secret, list_md5)
    assert refused(secret, MESSAGE, rsa_cert) == "esia.secret_unsupported_algorithm"


def test_sha256_with_rsa_signature_oid_accepted(
    rsa_secret: str, rsa_cert: x509.Certificate
) -> None:
    def rename(_: Any, signer_info: Any) -> None:
        signer_info["signature_algorithm"] = {"algorithm": "sha256_rsa"}

    verify_client_secret(rebuild(rsa_secret, rename), MESSAGE, rsa_cert)


@pytest.mark.parametrize("algorithm", ["sha256_ecdsa", "sha512_rsa", "sha1_rsa", "rsassa_pss"])
def test_signature_algorithm_must_fit_rsa_key(
    rsa_secret: str, rsa_cert: x509.Certificate, algorithm: str
) -> None:
    def rename(_: Any, signer_info: Any) -> None:
        signer_info["signature_algorithm"] = {"algorithm": algorithm}

    secret = rebuild(rsa_secret, rename)
    assert refused(secret, MESSAGE, rsa_cert) == "esia.secret_unsupported_algorithm"


@pytest.mark.parametrize("algorithm", ["rsassa_pkcs1v15", "sha256_rsa", "sha384_ecdsa"])
def test_signature_algorithm_must_fit_ec_key(
    ec_key: ec.EllipticCurvePrivateKey, ec_cert: x509.Certificate, algorithm: str
) -> None:
    def rename(_: Any, signer_info: Any) -> None:
        signer_info["signature_algorithm"] = {"algorithm": algorithm}

    secret = rebuild(sign_client_secret(MESSAGE, ec_cert, ec_key), rename)
    assert refused(secret, MESSAGE, ec_cert) == "esia.secret_unsupported_algorithm"


def test_rsa_pss_refused(rsa_key: rsa.RSAPrivateKey, rsa_cert: x509.Certificate) -> None:
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(MESSAGE)
        .add_signer(rsa_cert, rsa_key, hashes.SHA256(), rsa_padding=pss)
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )
    assert refused(to_secret(der), MESSAGE, rsa_cert) == "esia.secret_unsupported_algorithm"


def test_other_curve_and_key_types_refused(rsa_secret: str, rsa_cert: x509.Certificate) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ConfigError) as info:
        sign_client_secret(MESSAGE, make_cert(p384), p384)
    assert info.value.code == "esia.unsupported_key"
    serial = rsa_cert.serial_number
    for key in (p384, ed25519.Ed25519PrivateKey.generate()):
        cert = make_cert(key, serial=serial)
        assert refused(rsa_secret, MESSAGE, cert) == "esia.secret_unsupported_algorithm"


def test_key_must_belong_to_certificate(
    rsa_cert: x509.Certificate, other_rsa_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(ConfigError) as info:
        sign_client_secret(MESSAGE, rsa_cert, other_rsa_key)
    assert info.value.code == "esia.key_mismatch"


# --- signer identifier by subject key identifier -----------------------------------------


def by_key_identifier(key_id: bytes) -> Callable[[Any, Any], None]:
    def mutate(_: Any, signer_info: Any) -> None:
        signer_info["version"] = "v3"
        signer_info["sid"] = asn1_cms.SignerIdentifier(name="subject_key_identifier", value=key_id)

    return mutate


def test_subject_key_identifier_from_extension(rsa_key: rsa.RSAPrivateKey) -> None:
    cert = make_cert(rsa_key, key_identifier=b"registered-key-1")
    secret = sign_client_secret(MESSAGE, cert, rsa_key)
    verify_client_secret(rebuild(secret, by_key_identifier(b"registered-key-1")), MESSAGE, cert)
    wrong = rebuild(secret, by_key_identifier(b"registered-key-2"))
    assert refused(wrong, MESSAGE, cert) == "esia.secret_wrong_signer"


def test_subject_key_identifier_needs_the_extension(rsa_key: rsa.RSAPrivateKey) -> None:
    # RFC 5652 identifies by the extension's value; a certificate without one has none.
    cert = make_cert(rsa_key)
    secret = rebuild(
        sign_client_secret(MESSAGE, cert, rsa_key), by_key_identifier(key_id_of(rsa_key))
    )
    assert refused(secret, MESSAGE, cert) == "esia.secret_wrong_signer"


# --- structure ----------------------------------------------------------------------------


def test_attached_signature_refused(rsa_key: rsa.RSAPrivateKey, rsa_cert: x509.Certificate) -> None:
    # Documented choice: embedded content is refused even when it equals the message.
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(MESSAGE)
        .add_signer(rsa_cert, rsa_key, hashes.SHA256(), rsa_padding=padding.PKCS1v15())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    assert asn1_cms.ContentInfo.load(der)["content"]["encap_content_info"]["content"].native
    assert refused(to_secret(der), MESSAGE, rsa_cert) == "esia.secret_not_detached"


def test_two_signers_refused(
    rsa_key: rsa.RSAPrivateKey,
    rsa_cert: x509.Certificate,
    ec_key: ec.EllipticCurvePrivateKey,
    ec_cert: x509.Certificate,
) -> None:
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(MESSAGE)
        .add_signer(rsa_cert, rsa_key, hashes.SHA256(), rsa_padding=padding.PKCS1v15())
        .add_signer(ec_cert, ec_key, hashes.SHA256())
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )
    assert refused(to_secret(der), MESSAGE, rsa_cert) == "esia.secret_malformed"


def test_not_signed_data(rsa_cert: x509.Certificate) -> None:
    data = asn1_cms.ContentInfo({"content_type": "data", "content": MESSAGE}).dump()
    assert refused(to_secret(data), MESSAGE, rsa_cert) == "esia.secret_malformed"
    cert_der = rsa_cert.public_bytes(serialization.Encoding.DER)
    assert refused(to_secret(cert_der), MESSAGE, rsa_cert) == "esia.secret_malformed"


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda _, si: drop_attribute(si, "content_type"), id="no-content-type"),
        pytest.param(lambda _, si: drop_attribute(si, "message_digest"), id="no-message-digest"),
        pytest.param(
            lambda _, si: set_attribute(si, "content_type", ["signed_data"]), id="content-type"
        ),
        pytest.param(
            lambda _, si: set_attribute(
                si, "message_digest", [hashlib.sha256(MESSAGE).digest()] * 2
            ),
            id="two-digest-values",
        ),
        pytest.param(
            lambda sd, _: sd["encap_content_info"].__setitem__("content_type", "signed_data"),
            id="econtent-type",
        ),
    ],
)
def test_bad_signed_attributes_refused(
    rsa_secret: str,
    rsa_key: rsa.RSAPrivateKey,
    rsa_cert: x509.Certificate,
    mutate: Callable[[Any, Any], None],
) -> None:
    secret = rebuild(rsa_secret, mutate, resign=rsa_key)
    assert refused(secret, MESSAGE, rsa_cert) == "esia.secret_malformed"


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("", id="empty"),
        pytest.param("=", id="padding-only"),
        pytest.param("not base64!", id="not-base64"),
        pytest.param("MIIB+w/x", id="standard-alphabet"),
        pytest.param("MIIB\nMIIB", id="newline"),
        pytest.param("A", id="one-char"),
        pytest.param("AAA=A", id="padding-inside"),
        pytest.param("AA=", id="short-padding"),
        pytest.param("AAAA==", id="excess-padding"),
        pytest.param("QR", id="non-canonical"),
        pytest.param("AAAA", id="not-der"),
        pytest.param(to_secret(b"\x30\x03\x02\x01\x01"), id="wrong-der"),
        pytest.param(to_secret(bytes(range(256))), id="garbage"),
        pytest.param("A" * (MAX_SECRET_LENGTH + 4), id="too-long"),
    ],
)
def test_malformed_input(secret: str, rsa_cert: x509.Certificate) -> None:
    assert refused(secret, MESSAGE, rsa_cert) == "esia.secret_malformed"


def test_truncated_and_extended(rsa_secret: str, rsa_cert: x509.Certificate) -> None:
    der = to_der(rsa_secret)
    for cut in (1, 2, 50, len(der) // 2, len(der) - 1):
        assert refused(to_secret(der[:cut]), MESSAGE, rsa_cert) == "esia.secret_malformed"
    assert refused(to_secret(der + b"\x00"), MESSAGE, rsa_cert) == "esia.secret_malformed"
    assert refused(rsa_secret[:-1], MESSAGE, rsa_cert) == "esia.secret_malformed"


def test_error_is_bridge_error(rsa_cert: x509.Certificate) -> None:
    with pytest.raises(BridgeError, match=r"^esia\.secret_malformed: "):
        verify_client_secret("AAAA", MESSAGE, rsa_cert)


# --- timestamps ---------------------------------------------------------------------------


def test_timestamp_format() -> None:
    moment = datetime(2026, 11, 22, 10, 37, 3, 999_999, tzinfo=UTC)
    assert esia_timestamp(moment) == "2026.11.22 10:37:03 +0000"
    moscow = moment.astimezone(timezone(timedelta(hours=3)))
    assert esia_timestamp(moscow) == "2026.11.22 10:37:03 +0000"
    assert esia_timestamp(datetime(987, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0987.01.02 03:04:05 +0000"


def test_timestamp_round_trip() -> None:
    moment = datetime(2026, 2, 28, 23, 59, 59, 123, tzinfo=timezone(timedelta(hours=-5)))
    parsed = parse_esia_timestamp(esia_timestamp(moment))
    assert parsed == moment.replace(microsecond=0)
    assert parsed.tzinfo is UTC
    assert parse_esia_timestamp("2026.11.22 10:37:03 +0000") == datetime(
        2026, 11, 22, 10, 37, 3, tzinfo=UTC
    )


def test_naive_datetime_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        esia_timestamp(datetime(2026, 11, 22, 10, 37, 3))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-11-22 10:37:03",
        "2026.11.22 10:37:03",
        "2026.11.22 10:37:03 +0300",
        "2026.11.22 10:37:03 -0000",
        "2026.11.22 10:37:03 +00:00",
        "2026.11.22 10:37:03 Z",
        "2026.11.22T10:37:03 +0000",
        "2026.11.22  10:37:03 +0000",
        " 2026.11.22 10:37:03 +0000",
        "2026.11.22 10:37:03 +0000\n",
        "2026.1.22 10:37:03 +0000",
        "2026.11.22 10:37:03.5 +0000",
        "2026.13.22 10:37:03 +0000",
        "2026.02.29 10:37:03 +0000",
        "2026.11.22 24:00:00 +0000",
        "2026.11.22 23:59:60 +0000",
        "٢٠٢٦.11.22 10:37:03 +0000",
    ],
)
def test_bad_timestamp(text: str) -> None:
    with pytest.raises(BridgeError) as info:
        parse_esia_timestamp(text)
    assert info.value.code == "esia.timestamp_invalid"


def test_freshness_window() -> None:
    now = datetime(2026, 11, 22, 10, 37, 3, tzinfo=UTC)
    skew = timedelta(minutes=5)
    assert check_timestamp("2026.11.22 10:37:03 +0000", now, skew) == now
    assert check_timestamp("2026.11.22 10:32:03 +0000", now, skew) == now - skew
    assert check_timestamp("2026.11.22 10:42:03 +0000", now, skew) == now + skew
    for stale in (
        "2026.11.22 10:32:02 +0000",
        "2026.11.22 10:42:04 +0000",
        "2025.11.22 10:37:03 +0000",
    ):
        with pytest.raises(BridgeError) as info:
            check_timestamp(stale, now, skew)
        assert info.value.code == "esia.timestamp_stale"
    with pytest.raises(BridgeError) as info:
        check_timestamp("2026-11-22 10:37:03", now, skew)
    assert info.value.code == "esia.timestamp_invalid"


def test_freshness_arguments_checked() -> None:
    now = datetime(2026, 11, 22, 10, 37, 3, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        check_timestamp("2026.11.22 10:37:03 +0000", now.replace(tzinfo=None), timedelta(1))
    with pytest.raises(ValueError, match="negative"):
        check_timestamp("2026.11.22 10:37:03 +0000", now, timedelta(seconds=-1))


# --- interoperability with the openssl command-line program -----------------------------


def openssl(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *map(str, args)], capture_output=True, timeout=20, check=False)


def write_pair(directory: Path, key: PrivateKey, cert: x509.Certificate) -> tuple[Path, Path, Path]:
    msg, cert_pem, key_pem = directory / "msg.bin", directory / "cert.pem", directory / "key.pem"
    msg.write_bytes(MESSAGE)
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return msg, cert_pem, key_pem


@needs_openssl
def test_openssl_accepts_our_signature(
    tmp_path: Path, signer: tuple[PrivateKey, x509.Certificate]
) -> None:
    key, cert = signer
    msg, cert_pem, _ = write_pair(tmp_path, key, cert)
    sig = tmp_path / "sig.der"
    sig.write_bytes(to_der(sign_client_secret(MESSAGE, cert, key)))
    verify = ("cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-noverify")
    done = openssl(*verify, "-content", msg, "-certfile", cert_pem, "-out", tmp_path / "out")
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    # and the check is real: other content fails
    (tmp_path / "other.bin").write_bytes(MESSAGE + b"x")
    done = openssl(*verify, "-content", tmp_path / "other.bin", "-out", tmp_path / "out")
    assert done.returncode != 0


@needs_openssl
@pytest.mark.parametrize(
    "options", [(), ("-noattr",), ("-keyid",)], ids=["attrs", "noattr", "keyid"]
)
def test_we_accept_openssl_signature(
    tmp_path: Path, signer: tuple[PrivateKey, x509.Certificate], options: tuple[str, ...]
) -> None:
    key, cert = signer
    msg, cert_pem, key_pem = write_pair(tmp_path, key, cert)
    sig = tmp_path / "sig.der"
    sign = ("cms", "-sign", "-binary", "-in", msg, "-signer", cert_pem, "-inkey", key_pem)
    done = openssl(*sign, "-md", "sha256", "-outform", "DER", "-out", sig, *options)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    secret = to_secret(sig.read_bytes())
    verify_client_secret(secret, MESSAGE, cert)
    assert refused(secret, MESSAGE + b"x", cert) in {
        "esia.secret_bad_digest",
        "esia.secret_bad_signature",
    }


@needs_openssl
@pytest.mark.parametrize(
    ("options", "code"),
    [
        (("-md", "sha256", "-nodetach"), "esia.secret_not_detached"),
        (("-md", "sha1"), "esia.secret_unsupported_algorithm"),
    ],
    ids=["attached", "sha1"],
)
def test_openssl_signatures_we_refuse(
    tmp_path: Path,
    rsa_key: rsa.RSAPrivateKey,
    rsa_cert: x509.Certificate,
    options: tuple[str, ...],
    code: str,
) -> None:
    msg, cert_pem, key_pem = write_pair(tmp_path, rsa_key, rsa_cert)
    sig = tmp_path / "sig.der"
    sign = ("cms", "-sign", "-binary", "-in", msg, "-signer", cert_pem, "-inkey", key_pem)
    done = openssl(*sign, "-outform", "DER", "-out", sig, *options)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert refused(to_secret(sig.read_bytes()), MESSAGE, rsa_cert) == code
