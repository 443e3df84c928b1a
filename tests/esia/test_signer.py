"""The signer port: in-process and through the ``openssl`` program with the gost engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.clock import NOW
from helpers.openssl_gost import openssl_gost_or_skip
from sso_bridge.esia import gost
from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.signer import InProcessGostSigner, OpenSslGostSigner, Signer


@pytest.fixture
def openssl() -> str:
    return openssl_gost_or_skip()


@pytest.fixture
def files(tmp_path: Path) -> tuple[gost.GostPrivateKey, Path, Path]:
    key = gost.generate_private_key()
    key_path, cert_path = tmp_path / "key.pem", tmp_path / "cert.der"
    key_path.write_bytes(gost.private_key_pem(key))
    cert_path.write_bytes(gost.self_signed_certificate(key, "client", NOW).der)
    return key, key_path, cert_path


def test_in_process_signer_signs_for_its_certificate() -> None:
    key = gost.generate_private_key()
    certificate = gost.self_signed_certificate(key, "client", NOW)
    signer: Signer = InProcessGostSigner(key, certificate)
    assert signer.certificate is certificate
    assert gost.verify(certificate.public_key, b"data", signer.sign(b"data"))


def test_in_process_signer_refuses_another_key() -> None:
    certificate = gost.self_signed_certificate(gost.generate_private_key(), "client", NOW)
    with pytest.raises(EsiaError) as caught:
        InProcessGostSigner(gost.generate_private_key(), certificate)
    assert caught.value.code == "esia.key_mismatch"


def test_openssl_signer_signs_for_its_certificate(
    openssl: str, files: tuple[gost.GostPrivateKey, Path, Path]
) -> None:
    _, key_path, cert_path = files
    signer: Signer = OpenSslGostSigner(key_path, cert_path, openssl=openssl)
    assert signer.certificate == gost.load_certificate(cert_path.read_bytes())
    signature = signer.sign("Школа".encode())
    assert len(signature) == 64
    assert gost.verify(signer.certificate.public_key, "Школа".encode(), signature)


def test_openssl_signer_refuses_another_key(
    openssl: str, files: tuple[gost.GostPrivateKey, Path, Path], tmp_path: Path
) -> None:
    _, _, cert_path = files
    other = tmp_path / "other.pem"
    other.write_bytes(gost.private_key_pem(gost.generate_private_key()))
    with pytest.raises(EsiaError) as caught:
        OpenSslGostSigner(other, cert_path, openssl=openssl)
    assert caught.value.code == "esia.key_mismatch"


def test_openssl_signer_missing_files_and_program(
    files: tuple[gost.GostPrivateKey, Path, Path], tmp_path: Path
) -> None:
    _, key_path, cert_path = files
    cases = [
        (tmp_path / "absent.pem", cert_path, "openssl", "does not exist"),
        (key_path, tmp_path / "absent.der", "openssl", "cannot read the certificate"),
        (key_path, cert_path, str(tmp_path / "no-openssl"), "is not installed"),
    ]
    for key_file, cert_file, program, reason in cases:
        with pytest.raises(EsiaError, match=reason) as caught:
            OpenSslGostSigner(key_file, cert_file, openssl=program)
        assert caught.value.code == "esia.signer_not_configured"


def test_openssl_signer_reports_openssl_failure_in_one_line(
    openssl: str, files: tuple[gost.GostPrivateKey, Path, Path]
) -> None:
    _, key_path, cert_path = files
    signer = OpenSslGostSigner(key_path, cert_path, openssl=openssl)
    key_path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n")
    with pytest.raises(EsiaError) as caught:
        signer.sign(b"data")
    assert caught.value.code == "esia.signer_failed"
    assert "\n" not in str(caught.value)
    assert "openssl could not sign" in str(caught.value)


def test_openssl_signer_refuses_a_program_without_the_engine(
    files: tuple[gost.GostPrivateKey, Path, Path], tmp_path: Path
) -> None:
    _, key_path, cert_path = files
    fake = tmp_path / "fake-openssl"
    fake.write_text('#!/bin/sh\necho "invalid engine \\"gost\\"" >&2\nexit 1\n')
    fake.chmod(0o755)
    with pytest.raises(EsiaError, match='invalid engine "gost"') as caught:
        OpenSslGostSigner(key_path, cert_path, openssl=str(fake))
    assert caught.value.code == "esia.signer_not_configured"


def test_openssl_signer_refuses_output_of_the_wrong_size(
    files: tuple[gost.GostPrivateKey, Path, Path], tmp_path: Path
) -> None:
    _, key_path, cert_path = files
    fake = tmp_path / "fake-openssl"
    fake.write_text("#!/bin/sh\nprintf 'short'\n")
    fake.chmod(0o755)
    with pytest.raises(EsiaError, match="wrote 5 bytes") as caught:
        OpenSslGostSigner(key_path, cert_path, openssl=str(fake))
    assert caught.value.code == "esia.signer_not_configured"
