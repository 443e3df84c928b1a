"""ESIA's certificates as files, directories and zip archives: formats, limits, the keyring."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwt

from helpers.clock import NOW, FixedClock
from helpers.keys import self_signed
from mock_idp.keys import certificate_pem
from sso_bridge import base64url
from sso_bridge.errors import BridgeError
from sso_bridge.esia import certificates as certs
from sso_bridge.esia import gost
from sso_bridge.esia.certificates import (
    MAX_ARCHIVE_BYTES,
    MAX_ARCHIVE_ENTRIES,
    MAX_ENTRY_BYTES,
    RsaCertificate,
    certificates_from_bytes,
    certificates_from_paths,
)
from sso_bridge.esia.keys import GostKeyring
from sso_bridge.esia.tokens import sign_gost_jwt
from sso_bridge.oidc.http import HttpResponse

GOST_KEY = gost.generate_private_key()
GOST_CERT = gost.self_signed_certificate(GOST_KEY, "ESIA GOST", NOW)
GOST_KEY_2 = gost.generate_private_key()
GOST_CERT_2 = gost.self_signed_certificate(GOST_KEY_2, "ESIA GOST 2", NOW)
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PEM = self_signed(RSA_KEY, "ESIA RSA", NOW)[1]
RSA_KEY_2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_DER_2 = self_signed(RSA_KEY_2, "ESIA RSA 2", NOW)[2].public_bytes(serialization.Encoding.DER)
WEAK_PEM = self_signed(
    rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505 - refused
    "weak",
)[1]
EC_PEM = self_signed(ec.generate_private_key(ec.SECP256R1()), "ec")[1]


def archive(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as made:
        for name, content in files.items():
            if name.endswith("/"):
                made.writestr(zipfile.ZipInfo(name), b"")
            else:
                made.writestr(name, content)
    return buffer.getvalue()


ESIA_ZIP = archive(
    {
        "esia/": b"",
        "esia/GOST_2026.cer": GOST_CERT.der,  # DER, as ESIA's download has them
        "esia/nested/next.CER": certificate_pem(GOST_CERT_2).encode(),
        "esia/rsa.pem": RSA_PEM,
        "rsa2": RSA_DER_2,  # names are irrelevant
        "readme.txt": "Сертификаты ЕСИА".encode(),
        "weak.pem": WEAK_PEM,
        "ec.pem": EC_PEM,
    }
)


def test_a_zip_archive_gives_its_gost_and_rsa_certificates() -> None:
    found = certificates_from_bytes(ESIA_ZIP)
    assert found.gost == (GOST_CERT, GOST_CERT_2)
    assert [c.subject for c in found.rsa] == ["CN=ESIA RSA", "CN=ESIA RSA 2"]
    assert all(isinstance(c, RsaCertificate) and c.bits == 2048 for c in found.rsa)
    assert found.weak == 1  # under 2048 bits: counted, not used


@pytest.mark.parametrize(
    "data",
    [GOST_CERT.der, certificate_pem(GOST_CERT).encode(), json.dumps([certificate_pem(GOST_CERT)])],
    ids=["der", "pem", "json-list"],
)
def test_single_files_and_the_json_list_still_work(data: bytes | str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    assert certificates_from_bytes(raw).gost == (GOST_CERT,)


def test_a_pem_bundle_gives_every_certificate_once() -> None:
    bundle = RSA_PEM + certificate_pem(GOST_CERT).encode() + RSA_PEM
    found = certificates_from_bytes(bundle)
    assert (len(found.gost), len(found.rsa)) == (1, 1)


def test_damaged_and_encrypted_entries_are_skipped() -> None:
    stored = zipfile.ZIP_STORED
    data = bytearray(archive({"a.cer": GOST_CERT.der, "b.cer": GOST_CERT_2.der}, stored))
    start = data.index(GOST_CERT_2.der)
    data[start + 10 : start + 30] = b"\xff" * 20  # the CRC no longer fits
    found = certificates_from_bytes(bytes(data))
    assert found.gost == (GOST_CERT,)
    encrypted = bytearray(archive({"a.cer": GOST_CERT.der}, zipfile.ZIP_STORED))
    encrypted[6] |= 1  # the local header's "encrypted" flag
    central = encrypted.index(b"PK\x01\x02")
    encrypted[central + 8] |= 1
    assert len(certificates_from_bytes(bytes(encrypted))) == 0


def test_an_archive_over_the_size_limit_is_refused_before_it_is_opened() -> None:
    big = ESIA_ZIP + b"\0" * MAX_ARCHIVE_BYTES
    with pytest.raises(BridgeError) as caught:
        certificates_from_bytes(big, source="https://esia.example/c.zip")
    assert caught.value.code == "oidc.jwks_invalid"
    assert "https://esia.example/c.zip" in caught.value.message
    assert "\n" not in caught.value.message


def test_an_archive_with_too_many_entries_is_refused() -> None:
    files = {f"{i}.cer": b"x" for i in range(MAX_ARCHIVE_ENTRIES + 1)}
    with pytest.raises(BridgeError, match="more than 64 entries") as caught:
        certificates_from_bytes(archive(files))
    assert caught.value.code == "oidc.jwks_invalid"


def test_a_zip_bomb_costs_little() -> None:
    bomb = archive({"bomb.cer": b"\0" * (64 * 1024 * 1024)})  # 64 MiB inflating from ~64 KiB
    assert len(bomb) < MAX_ARCHIVE_BYTES
    started = time.process_time()
    with pytest.raises(BridgeError, match="inflates to more than 64 KiB") as caught:
        certificates_from_bytes(bomb)
    assert time.process_time() - started < 0.05
    assert caught.value.code == "oidc.jwks_invalid"


def test_a_header_that_understates_the_size_is_not_trusted() -> None:
    data = bytearray(archive({"a.cer": b"A" * (MAX_ENTRY_BYTES * 4)}))
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")  # uncompressed size: 100
    data[22:26] = (100).to_bytes(4, "little")
    # zipfile stops at the announced size (and the CRC then fails): the entry is skipped
    assert len(certificates_from_bytes(bytes(data))) == 0


def test_a_damaged_archive_is_one_line_of_error() -> None:
    with pytest.raises(BridgeError) as caught:
        certificates_from_bytes(b"PK\x03\x04" + b"\0" * 100)
    assert caught.value.code == "oidc.jwks_invalid"


def test_files_directories_and_archives_are_read_from_paths(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "one.cer").write_bytes(GOST_CERT.der)
    (tmp_path / "dir" / "notes.txt").write_text("not a certificate")
    (tmp_path / "dir" / "sub").mkdir()
    (tmp_path / "esia.zip").write_bytes(archive({"x": RSA_PEM, "y": GOST_CERT_2.der}))
    (tmp_path / "rsa.pem").write_bytes(RSA_PEM)
    found = certificates_from_paths(
        [tmp_path / "dir", str(tmp_path / "esia.zip"), tmp_path / "rsa.pem"]
    )
    assert found.gost == (GOST_CERT, GOST_CERT_2)
    assert len(found.rsa) == 1


def test_a_path_without_certificates_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    (tmp_path / "weak.pem").write_bytes(WEAK_PEM)
    with pytest.raises(BridgeError) as caught:
        certificates_from_paths([tmp_path / "notes.txt"])
    assert caught.value.code == "oidc.jwks_invalid"
    with pytest.raises(BridgeError, match="under the minimum key size"):
        certificates_from_paths([tmp_path / "weak.pem"])
    with pytest.raises(BridgeError) as caught:
        certificates_from_paths([tmp_path / "missing.pem"])
    assert caught.value.code == "oidc.config_invalid"


def test_the_keyring_loads_from_files_and_checks_both_algorithms(tmp_path: Path) -> None:
    (tmp_path / "esia.zip").write_bytes(ESIA_ZIP)
    keyring = GostKeyring.from_files([tmp_path / "esia.zip"])
    assert len(keyring.certificates()) == 2
    assert len(keyring.rsa_certificates()) == 2
    gost_token = _parts(sign_gost_jwt({"sub": "1"}, GOST_KEY_2, None))
    assert keyring.key(None, "GOST3410_2012_256").verify(*gost_token)
    rsa_token = _parts(str(jwt.encode({"sub": "1"}, RSA_KEY_2, algorithm="RS256")))
    assert keyring.key(None, "RS256").verify(*rsa_token)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = _parts(str(jwt.encode({"sub": "1"}, stranger, algorithm="RS256")))
    assert not keyring.key(None, "RS256").verify(*forged)


def _parts(token: str) -> tuple[bytes, bytes]:
    head, payload, signature = token.split(".")
    return f"{head}.{payload}".encode(), base64url.decode(signature)


class _Http:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.fetches = 0

    def get(self, url: str, *, headers: Any = None) -> HttpResponse:
        self.fetches += 1
        return HttpResponse(status=200, body=self.body)

    def post(self, url: str, *, data: Any = None, headers: Any = None) -> HttpResponse:
        raise AssertionError("no POST expected")


def test_the_keyring_fetches_the_published_archive() -> None:
    http = _Http(archive({"a.cer": GOST_CERT.der}))
    keyring = GostKeyring(certificates_uri="https://esia.example/c.zip", http=http)
    assert keyring.certificates() == (GOST_CERT,)
    http.body = b"PK\x03\x04" + b"\0" * (MAX_ARCHIVE_BYTES + 1)
    with pytest.raises(BridgeError) as caught:
        keyring.refresh()
    assert caught.value.code == "oidc.jwks_invalid"


def test_only_weak_rsa_certificates_make_rs256_a_weak_key_refusal() -> None:
    weak = certs.load_esia_certificate(WEAK_PEM)
    assert weak == 1024
    keyring = GostKeyring(
        certificates_uri="https://e/c", http=_Http(WEAK_PEM), clock=FixedClock(NOW)
    )
    with pytest.raises(BridgeError) as caught:
        keyring.key(None, "RS256")
    assert caught.value.code == "oidc.weak_key"
