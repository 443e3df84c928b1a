"""Streebog and GOST R 34.10-2012: the standards' examples, keys, certificates, and interop
with ``openssl`` and its gost engine in both directions."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.clock import NOW
from helpers.openssl_gost import openssl_gost_or_skip, run_openssl
from sso_bridge.esia import _der, _libcrypto, _streebog, gost
from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.secret import certificate_hash

# RFC 6986 §10 prints messages and digests as numbers, most significant byte first: the
# bytes hashed and the bytes returned are those numbers reversed.
M1 = bytes.fromhex(
    "323130393837363534333231303938373635343332313039383736353433323130393837363534333231"
    "303938373635343332313039383736353433323130"
)[::-1]
H1 = bytes.fromhex("00557be5e584fd52a449b16b0251d05d27f94ab76cbaa6da890b59d8ef1e159d")[::-1]
M2 = bytes.fromhex(
    "fbe2e5f0eee3c820fbeafaebef20fffbf0e1e0f0f520e0ed20e8ece0ebe5f0f2f120fff0eeec20f120faf2fe"
    "e5e2202ce8f6f3ede220e8e6eee1e8f0f2d1202ce8f0f2e5e220e5d1"
)[::-1]
H2 = bytes.fromhex("508f7e553c06501d749a66fc28c6cac0b005746d97537fa85d9e40904efed29d")[::-1]

# RFC 7091 §7.1: the 256-bit example on its test curve
TEST_CURVE = gost._Curve.custom(
    "rfc7091-test",
    p=0x8000000000000000000000000000000000000000000000000000000000000431,
    a=7,
    b=0x5FBFF498AA938CE739B8E022FBAFEF40563F6E6A3472FC2A514C0CE9DAE23B7E,
    q=0x8000000000000000000000000000000150FE8A1892976154C59CFC193ACCF5B3,
    x=2,
    y=0x08E2A8A0E65147D4BD6316030E16D19C85C97F0A9CA267122B96ABBCEA7E8FC8,
)
EXAMPLE_D = 0x7A929ADE789BB9BE10ED359DD39A72C11B60961F49397EEE1D19CE9891EC3B28
EXAMPLE_QX = 0x7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B
EXAMPLE_QY = 0x26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DA
EXAMPLE_E = 0x2DFBC1B372D89A1188C09C52E0EEC61FCE52032AB1022E8E67ECE6672B043EE5
EXAMPLE_K = 0x77105C9B20BCD3122823C8CF6FCC7B956DE33814E95B7FE64FED924594DCEAB3
EXAMPLE_R = 0x41AA28D2F1AB148280CD9ED56FEDA41974053554A42767B83AD043FD39DC0493
EXAMPLE_S = 0x01456C64BA4642A1653C235A98A60249BCD6D3F746B631DF928014F6C5BF9C40

# openssl's -pkeyopt paramset names for gost2012_256, and the curve each one means
PARAMSETS = {
    "A": "id-GostR3410-2001-CryptoPro-A-ParamSet",
    "B": "id-GostR3410-2001-CryptoPro-B-ParamSet",
    "C": "id-GostR3410-2001-CryptoPro-C-ParamSet",
    "XA": "id-GostR3410-2001-CryptoPro-XchA-ParamSet",
    "XB": "id-GostR3410-2001-CryptoPro-XchB-ParamSet",
    "TCA": "id-tc26-gost-3410-2012-256-paramSetA",
}


@pytest.fixture
def openssl() -> str:
    return openssl_gost_or_skip()


_run = run_openssl


# --- Streebog -----------------------------------------------------------------------------


OPENSSL_STREEBOG = _libcrypto.load_streebog256()
NO_OPENSSL_STREEBOG = (
    "OpenSSL's Streebog is not in use here (libengine-gost-openssl is not installed, or"
    " SSO_BRIDGE_STREEBOG=python)"
)


def _openssl_streebog(data: bytes) -> bytes:
    if OPENSSL_STREEBOG is None:
        pytest.skip(NO_OPENSSL_STREEBOG)
    return OPENSSL_STREEBOG(data)


STREEBOGS = [
    gost.streebog256,
    _streebog.streebog256,
    gost._reference_streebog256,
    _openssl_streebog,
]
STREEBOG_IDS = ["public", "python", "gostcrypto", "openssl"]


@pytest.mark.parametrize("streebog", STREEBOGS, ids=STREEBOG_IDS)
def test_streebog_m1_vector(streebog: Callable[[bytes], bytes]) -> None:
    assert M1 == b"012345678901234567890123456789012345678901234567890123456789012"
    assert streebog(M1) == H1


@pytest.mark.parametrize("streebog", STREEBOGS, ids=STREEBOG_IDS)
def test_streebog_m2_vector(streebog: Callable[[bytes], bytes]) -> None:
    assert streebog(M2) == H2


def test_the_fastest_streebog_here_is_in_use() -> None:
    if OPENSSL_STREEBOG is None:
        assert gost._fast_streebog256 is _streebog.streebog256
        assert gost.streebog_implementation() == "python"
    else:
        assert gost._fast_streebog256 is OPENSSL_STREEBOG
        assert gost.streebog_implementation() == "openssl"


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_fast_streebog_equals_gostcrypto(data: bytes) -> None:
    assert _streebog.streebog256(data) == gost._reference_streebog256(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=6000))
def test_openssl_streebog_equals_the_python_one(data: bytes) -> None:
    assert _openssl_streebog(data) == _streebog.streebog256(data)


@pytest.mark.parametrize("size", [63, 64, 65, 127, 128, 129])
def test_fast_streebog_at_block_edges(size: int) -> None:
    data = bytes(range(256))[:size]
    assert _streebog.streebog256(data) == gost._reference_streebog256(data)
    if OPENSSL_STREEBOG is not None:
        assert OPENSSL_STREEBOG(data) == _streebog.streebog256(data)


def test_openssl_streebog_takes_any_bytes_like_value() -> None:
    data = bytes(range(256)) * 3
    for value in (bytearray(data), memoryview(data)):
        assert _openssl_streebog(value) == _streebog.streebog256(data)  # type: ignore[arg-type]


def test_the_python_streebog_can_be_forced() -> None:
    script = "from sso_bridge.esia import gost; print(gost.streebog_implementation())"
    env = {**os.environ, "SSO_BRIDGE_STREEBOG": "python"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "python"


def test_an_openssl_streebog_that_fails_its_check_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if OPENSSL_STREEBOG is None:
        pytest.skip(NO_OPENSSL_STREEBOG)
    monkeypatch.setattr(_libcrypto, "_EXAMPLE_DIGEST", bytes(32))
    assert _libcrypto._bind() is None
    monkeypatch.setattr(_libcrypto, "_DIGEST", b"no-such-digest")
    assert _libcrypto._bind() is None


def test_the_library_is_found_without_running_ldconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    if OPENSSL_STREEBOG is None:
        pytest.skip(NO_OPENSSL_STREEBOG)

    def no_search(name: str) -> str:
        raise AssertionError("find_library runs a process; the usual names come first")

    monkeypatch.setattr(_libcrypto.ctypes.util, "find_library", no_search)
    assert _libcrypto._bind() is not None


def test_no_openssl_provider_leaves_the_python_streebog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_libcrypto, "_PROVIDER", b"no-such-provider")
    assert _libcrypto._bind() is None


def test_streebog_matches_openssl_output_order(openssl: str) -> None:
    for message in (M1, M2, b"", b"x" * 200):
        out = _run(openssl, "dgst", "-engine", "gost", "-md_gost12_256", "-r", data=message)
        assert gost.streebog256(message).hex() == out.split()[0].decode()


# --- the RFC 7091 example -----------------------------------------------------------------


def test_rfc7091_public_key() -> None:
    q = EXAMPLE_D * TEST_CURVE.ec.G
    assert (q.x, q.y) == (EXAMPLE_QX, EXAMPLE_QY)


def test_rfc7091_signature_with_the_example_nonce() -> None:
    assert gost._sign_digest(TEST_CURVE, EXAMPLE_D, EXAMPLE_E, EXAMPLE_K) == (EXAMPLE_R, EXAMPLE_S)


def test_rfc7091_example_verifies_and_a_changed_one_does_not() -> None:
    point = EXAMPLE_D * TEST_CURVE.ec.G
    verify = functools.partial(gost._verify_digest, TEST_CURVE, point)
    assert verify(EXAMPLE_E, EXAMPLE_R, EXAMPLE_S)
    assert not verify(EXAMPLE_E + 1, EXAMPLE_R, EXAMPLE_S)
    assert not verify(EXAMPLE_E, EXAMPLE_R, EXAMPLE_S + 1)
    assert not verify(EXAMPLE_E, EXAMPLE_S, EXAMPLE_R)


# --- sign and verify ----------------------------------------------------------------------


@pytest.mark.parametrize("curve", gost.CURVES)
def test_sign_verify_round_trip_on_every_curve(curve: str) -> None:
    key = gost.generate_private_key(curve)
    signature = gost.sign(key, b"message")
    assert len(signature) == 64
    assert gost.verify(key.public_key(), b"message", signature)
    assert not gost.verify(key.public_key(), b"messagE", signature)


def test_signature_is_s_then_r_big_endian() -> None:
    key = gost.generate_private_key()
    curve = gost._curve(key.curve)
    signature = gost.sign(key, b"data")
    s, r = (int.from_bytes(half, "big") for half in (signature[:32], signature[32:]))
    e = int.from_bytes(gost.streebog256(b"data"), "little") % curve.q
    point = gost._point(key.public_key())
    assert gost._verify_digest(curve, point, e, r, s)


def test_other_byte_orders_are_refused() -> None:
    key = gost.generate_private_key()
    signature = gost.sign(key, b"data")
    public = key.public_key()
    assert not gost.verify(public, b"data", signature[::-1])  # raw CryptoPro order
    assert not gost.verify(public, b"data", signature[32:] + signature[:32])  # r then s


@pytest.mark.parametrize(
    "signature",
    [b"", b"\x00" * 64, b"\xff" * 64, b"\x01" * 63, b"\x01" * 65],
    ids=["empty", "zeros", "over-q", "short", "long"],
)
def test_verify_refuses_garbage_without_raising(signature: bytes) -> None:
    assert not gost.verify(gost.generate_private_key().public_key(), b"data", signature)


def test_another_key_does_not_verify() -> None:
    signature = gost.sign(gost.generate_private_key(), b"data")
    assert not gost.verify(gost.generate_private_key().public_key(), b"data", signature)


def test_signatures_are_randomised() -> None:
    key = gost.generate_private_key()
    assert gost.sign(key, b"data") != gost.sign(key, b"data")


def test_key_values_are_checked() -> None:
    q = gost._curve(gost.DEFAULT_CURVE).q
    for d in (0, q):
        with pytest.raises(EsiaError) as caught:
            gost.GostPrivateKey(d, gost.DEFAULT_CURVE)
        assert caught.value.code == "esia.gost_bad_key"
    public = gost.generate_private_key().public_key()
    with pytest.raises(EsiaError, match="not on") as caught:
        gost.GostPublicKey(public.x, public.y + 1, public.curve)
    assert caught.value.code == "esia.gost_bad_key"
    with pytest.raises(EsiaError, match="unknown GOST curve"):
        gost.generate_private_key("secp256k1")


def test_private_key_repr_hides_the_scalar() -> None:
    key = gost.generate_private_key()
    assert str(key.d) not in repr(key)
    assert hex(key.d)[2:] not in repr(key)


# --- keys and certificates ----------------------------------------------------------------


@pytest.mark.parametrize("curve", gost.CURVES)
def test_private_key_pem_round_trip(curve: str) -> None:
    key = gost.generate_private_key(curve)
    pem = gost.private_key_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert gost.load_private_key_pem(pem) == key


def test_private_key_accepts_der_and_the_older_wrapped_scalar() -> None:
    key = gost.generate_private_key()
    der = _der.tlv(
        _der.SEQUENCE,
        _der.integer(0)
        + gost._algorithm(key.curve)
        + _der.tlv(_der.OCTET_STRING, _der.tlv(_der.OCTET_STRING, key.d.to_bytes(32, "little"))),
    )
    assert gost.load_private_key_pem(der) == key


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"not a key",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n",
        b"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
    ],
    ids=["empty", "text", "encrypted", "empty-sequence"],
)
def test_bad_private_keys_are_refused(pem: bytes) -> None:
    with pytest.raises(EsiaError) as caught:
        gost.load_private_key_pem(pem)
    assert caught.value.code == "esia.gost_bad_key"


def test_an_ec_p256_key_is_not_a_gost_key() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(EsiaError, match=r"not a GOST R 34.10-2012 256-bit key") as caught:
        gost.load_private_key_pem(pem)
    assert caught.value.code == "esia.gost_bad_key"


def test_self_signed_certificate() -> None:
    key = gost.generate_private_key()
    certificate = gost.self_signed_certificate(key, "Школа № 1", NOW, days=30)
    assert certificate.subject == "CN=Школа № 1"
    assert certificate.public_key == key.public_key()
    assert gost.load_certificate(certificate.der) == certificate
    _, content, _ = _der.read(certificate.der)
    (_, tbs), _, (_, bits) = _der.children(content)
    tbs_der = _der.tlv(_der.SEQUENCE, tbs)
    assert gost.verify(key.public_key(), tbs_der, bits[1:])


def test_certificate_loads_from_pem() -> None:
    certificate = gost.self_signed_certificate(gost.generate_private_key(), "pem", NOW)
    pem = gost._pem("CERTIFICATE", certificate.der)
    assert gost.load_certificate(pem) == certificate


def test_self_signed_certificate_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        gost.self_signed_certificate(gost.generate_private_key(), "x", NOW.replace(tzinfo=None))


def test_an_rsa_or_garbage_certificate_is_refused() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "p256")])
    ecdsa_cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(other.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=1))
        .sign(other, hashes.SHA256())
    ).public_bytes(serialization.Encoding.DER)
    for data in (ecdsa_cert, b"", b"\x30\x03\x02\x01\x00", b"junk"):
        with pytest.raises(EsiaError) as caught:
            gost.load_certificate(data)
        assert caught.value.code == "esia.gost_bad_certificate"


# --- interop with openssl + gost engine ---------------------------------------------------


def _openssl_key(openssl: str, tmp_path: Path, paramset: str) -> Path:
    path = tmp_path / f"key-{paramset}.pem"
    _run(openssl, "genpkey", "-engine", "gost", "-algorithm", "gost2012_256",
         "-pkeyopt", f"paramset:{paramset}", "-out", path)  # fmt: skip
    return path


@pytest.mark.parametrize("paramset", PARAMSETS)
def test_openssl_key_loads_and_our_signature_verifies_in_openssl(
    openssl: str, tmp_path: Path, paramset: str
) -> None:
    key_path = _openssl_key(openssl, tmp_path, paramset)
    key = gost.load_private_key_pem(key_path.read_bytes())
    assert key.curve == PARAMSETS[paramset]
    text = _run(openssl, "pkey", "-engine", "gost", "-in", key_path, "-noout", "-text").decode()
    x, y = re.findall(r"[XY]:([0-9A-F]+)", text)
    assert (key.public_key().x, key.public_key().y) == (int(x, 16), int(y, 16))
    public_path = tmp_path / "public.pem"
    _run(openssl, "pkey", "-engine", "gost", "-in", key_path, "-pubout", "-out", public_path)
    (tmp_path / "data").write_bytes(M2)
    (tmp_path / "sig").write_bytes(gost.sign(key, M2))
    out = _run(openssl, "dgst", "-engine", "gost", "-md_gost12_256", "-verify", public_path,
               "-signature", tmp_path / "sig", tmp_path / "data")  # fmt: skip
    assert b"Verified OK" in out


@pytest.mark.parametrize("paramset", PARAMSETS)
def test_openssl_signature_verifies_here(openssl: str, tmp_path: Path, paramset: str) -> None:
    key_path = _openssl_key(openssl, tmp_path, paramset)
    key = gost.load_private_key_pem(key_path.read_bytes())
    signature = _run(openssl, "dgst", "-engine", "gost", "-md_gost12_256", "-sign", key_path,
                     data=M1)  # fmt: skip
    assert gost.verify(key.public_key(), M1, signature)
    assert not gost.verify(key.public_key(), M2, signature)


@pytest.mark.parametrize("paramset", PARAMSETS)
def test_our_private_key_pem_is_read_by_openssl(
    openssl: str, tmp_path: Path, paramset: str
) -> None:
    key = gost.generate_private_key(PARAMSETS[paramset])
    path = tmp_path / "ours.pem"
    path.write_bytes(gost.private_key_pem(key))
    text = _run(openssl, "pkey", "-engine", "gost", "-in", path, "-noout", "-text").decode()
    assert f"{key.d:X}" in text.replace("\n", "")
    signature = _run(openssl, "dgst", "-engine", "gost", "-md_gost12_256", "-sign", path, data=M1)
    assert gost.verify(key.public_key(), M1, signature)


def test_our_certificate_is_read_and_verified_by_openssl(openssl: str, tmp_path: Path) -> None:
    key = gost.generate_private_key()
    certificate = gost.self_signed_certificate(key, "portal.example", NOW)
    path = tmp_path / "cert.der"
    path.write_bytes(certificate.der)
    text = _run(openssl, "x509", "-engine", "gost", "-inform", "DER", "-in", path, "-noout",
                "-text").decode()  # fmt: skip
    assert "CN = portal.example" in text
    assert "GOST R 34.10-2012 with GOST R 34.11-2012 (256 bit)" in text
    assert f"X:{key.public_key().x:X}" in text
    pem = tmp_path / "cert.pem"
    _run(openssl, "x509", "-engine", "gost", "-inform", "DER", "-in", path, "-out", pem)
    assert b": OK" in _run(openssl, "verify", "-engine", "gost", "-CAfile", pem, pem)


def test_openssl_certificate_loads_here(openssl: str, tmp_path: Path) -> None:
    key_path = _openssl_key(openssl, tmp_path, "A")
    cert_path = tmp_path / "cert.pem"
    _run(openssl, "req", "-engine", "gost", "-new", "-x509", "-key", key_path, "-subj",
         "/CN=esia-client/O=School", "-days", "30", "-out", cert_path)  # fmt: skip
    certificate = gost.load_certificate(cert_path.read_bytes())
    assert certificate.public_key == gost.load_private_key_pem(key_path.read_bytes()).public_key()
    assert certificate.subject == "O=School,CN=esia-client"
    der = _run(openssl, "x509", "-engine", "gost", "-in", cert_path, "-outform", "DER")
    assert certificate.der == der


def test_certificate_hash_equals_openssl_digest_of_the_der(openssl: str, tmp_path: Path) -> None:
    certificate = gost.self_signed_certificate(gost.generate_private_key(), "hash", NOW)
    out = _run(openssl, "dgst", "-engine", "gost", "-md_gost12_256", "-r", data=certificate.der)
    assert certificate_hash(certificate) == out.split()[0].decode()
