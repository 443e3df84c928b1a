"""The signer port: whatever makes the GOST signature of an ESIA ``client_secret``.

A :class:`Signer` is any object with a ``certificate`` and a ``sign`` method, so a host that
must use certified cryptography (CryptoPro CSP or DSS, an HSM) writes a small adapter of
that shape; ``docs/esia.md`` shows one. Two come with the library: :class:`InProcessGostSigner`
(a key in memory) and :class:`OpenSslGostSigner` (the ``openssl`` program with the gost
engine, the key in a file).

A signature is always 64 bytes in the order OpenSSL's gost engine writes (``s`` then ``r``,
big-endian); an adapter over CryptoPro's raw output must reverse its bytes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Final, Protocol

from sso_bridge.esia import gost
from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.gost import GostCertificate, GostPrivateKey

__all__ = ["InProcessGostSigner", "OpenSslGostSigner", "Signer"]

_TIMEOUT_SECONDS: Final = 10.0
_PROBE: Final = b"sso_bridge signer self-test"


class Signer(Protocol):
    """Signs for one client certificate."""

    @property
    def certificate(self) -> GostCertificate:
        """The certificate whose key makes the signatures."""
        ...

    def sign(self, data: bytes) -> bytes:
        """The raw GOST R 34.10-2012 signature of ``data`` (Streebog-256), 64 bytes."""
        ...


class InProcessGostSigner:
    """Signs in this process with a key held in memory."""

    def __init__(self, key: GostPrivateKey, certificate: GostCertificate) -> None:
        if key.public_key() != certificate.public_key:
            raise EsiaError(
                f"the key does not belong to the certificate of {certificate.subject}",
                code="esia.key_mismatch",
            )
        self._key = key
        self._certificate = certificate

    @property
    def certificate(self) -> GostCertificate:
        """The certificate of the key."""
        return self._certificate

    def sign(self, data: bytes) -> bytes:
        """The signature of ``data``, as :func:`sso_bridge.esia.gost.sign` makes it."""
        return gost.sign(self._key, data)


class OpenSslGostSigner:
    """Signs by running ``openssl dgst -engine gost -md_gost12_256 -sign KEY``.

    The key never enters this process. The constructor reads the certificate and makes one
    signature to check that ``openssl``, its gost engine and the key work and that the key
    belongs to the certificate; it raises ``esia.signer_not_configured`` or
    ``esia.key_mismatch`` otherwise. A later failure is ``esia.signer_failed``.
    """

    def __init__(self, key_path: Path, certificate_path: Path, *, openssl: str = "openssl") -> None:
        self._command = [
            openssl,
            "dgst",
            "-engine",
            "gost",
            "-md_gost12_256",
            "-sign",
            str(key_path),
        ]
        try:
            data = certificate_path.read_bytes()
        except OSError as exc:
            raise EsiaError(
                f"cannot read the certificate {certificate_path}: {exc.strerror}",
                code="esia.signer_not_configured",
            ) from None
        self._certificate = gost.load_certificate(data)
        if not key_path.is_file():
            raise EsiaError(
                f"the key file {key_path} does not exist", code="esia.signer_not_configured"
            )
        try:
            probe = self._run(_PROBE)
        except EsiaError as exc:
            raise EsiaError(exc.message, code="esia.signer_not_configured") from None
        if not gost.verify(self._certificate.public_key, _PROBE, probe):
            raise EsiaError(
                f"the key {key_path} does not belong to the certificate {certificate_path}",
                code="esia.key_mismatch",
            )

    @property
    def certificate(self) -> GostCertificate:
        """The certificate read from ``certificate_path``."""
        return self._certificate

    def sign(self, data: bytes) -> bytes:
        """The signature of ``data`` made by ``openssl``; 64 bytes, used as it is."""
        return self._run(data)

    def _run(self, data: bytes) -> bytes:
        try:
            done = subprocess.run(  # noqa: S603 - a fixed argument list, no shell
                self._command,
                input=data,
                capture_output=True,
                timeout=_TIMEOUT_SECONDS,
                check=False,
            )
        except FileNotFoundError:
            raise EsiaError(
                f"the program {self._command[0]!r} is not installed",
                code="esia.signer_not_configured",
            ) from None
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EsiaError(f"openssl could not sign: {exc}", code="esia.signer_failed") from None
        if done.returncode != 0:
            reason = _reason(done.stderr)
            raise EsiaError(f"openssl could not sign: {reason}", code="esia.signer_failed")
        if len(done.stdout) != 64:
            raise EsiaError(
                f"openssl wrote {len(done.stdout)} bytes, not a 64-byte GOST signature",
                code="esia.signer_failed",
            )
        return done.stdout


def _reason(stderr: bytes) -> str:
    """The first line of openssl's complaint that says something."""
    for line in stderr.decode("utf-8", "replace").splitlines():
        if line.strip() and not line.startswith("Engine "):
            return line.strip()[:200]
    return "no reason given"
