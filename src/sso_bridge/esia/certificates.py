"""ESIA's token-signing certificates as ESIA hands them out: files, a directory, a zip archive.

ESIA publishes its signing certificates as an archive of certificate files. This module
reads, telling the formats apart by content (names are never looked at):

* a zip archive (it starts with ``PK\\x03\\x04``) of certificate files, in any folders;
* a certificate file: PEM (one or more ``CERTIFICATE`` blocks) or DER;
* the JSON list of PEM strings (``[...]`` or ``{"certificates": [...]}``) read before;
* a directory of any of these (its files, not its subdirectories).

A certificate with a GOST R 34.10-2012 256-bit key checks ``GOST3410_2012_256`` tokens; one
with an RSA key checks ``RS256`` tokens, when the key has at least the minimum size of
:mod:`sso_bridge.keysize` (smaller ones are counted in :attr:`CertificateSet.weak` and not
used). Other certificates, other files, folders and entries that cannot be read are
skipped. An archive is bounded before and while it is read: :data:`MAX_ARCHIVE_BYTES` in
all, :data:`MAX_ARCHIVE_ENTRIES` entries (counted before the archive is opened), and each
entry read up to :data:`MAX_ENTRY_BYTES` whatever its header says, so that a zip bomb costs
a few kilobytes of inflating. Anything over a limit is ``oidc.jwks_invalid`` with one line
naming the source and the limit.
"""

from __future__ import annotations

import io
import lzma
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sso_bridge.errors import BridgeError, InvalidInput
from sso_bridge.esia import gost
from sso_bridge.esia.gost import GostCertificate
from sso_bridge.esia.gost_keys import pem_body
from sso_bridge.jsonparse import parse_json
from sso_bridge.keysize import MAX_RSA_KEY_BITS, rsa_minimum
from sso_bridge.token_errors import OidcConfigError

__all__ = [
    "MAX_ARCHIVE_BYTES",
    "MAX_ARCHIVE_ENTRIES",
    "MAX_CERTIFICATES",
    "MAX_ENTRY_BYTES",
    "CertificateSet",
    "EsiaCertificate",
    "RsaCertificate",
    "certificates_from_bytes",
    "certificates_from_paths",
    "load_esia_certificate",
]

MAX_ARCHIVE_BYTES: Final = 1024 * 1024
"""The largest archive, file or published document of certificates read (1 MiB)."""
MAX_ARCHIVE_ENTRIES: Final = 64
"""The most entries an archive (or files a directory) may have, folders included."""
MAX_ENTRY_BYTES: Final = 64 * 1024
"""The most an archive entry may inflate to (64 KiB); certificates have 1-2 KiB."""
MAX_CERTIFICATES: Final = 64
"""The most distinct usable certificates one source may hold; at most four times as many
certificates of any kind, repeats included, are read."""

_ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")  # a first entry; an empty archive
_END_OF_DIRECTORY: Final = b"PK\x05\x06"
_UNREADABLE: Final = (
    zipfile.BadZipFile,
    RuntimeError,
    NotImplementedError,
    EOFError,
    OSError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
)
_PEM_CERTIFICATE_RE: Final = re.compile(
    rb"-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]{1,65536}?)-----END CERTIFICATE-----"
)


@attrs.frozen
class RsaCertificate:
    """An X.509 certificate with an RSA key, for ``RS256`` tokens: its DER, key, size."""

    der: bytes = attrs.field(repr=False)
    public_key: rsa.RSAPublicKey = attrs.field(eq=False, repr=False)
    subject: str
    bits: int

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's RS256 (PKCS #1 v1.5, SHA-256) signature."""
        if len(signature) != (self.bits + 7) // 8:
            return False
        try:
            self.public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True


EsiaCertificate = GostCertificate | RsaCertificate
"""A certificate ESIA signs tokens with: GOST R 34.10-2012-256 or RSA."""


@attrs.frozen
class CertificateSet:
    """The usable certificates of a source, by algorithm, and how many RSA ones were too
    small to use."""

    gost: tuple[GostCertificate, ...] = ()
    rsa: tuple[RsaCertificate, ...] = ()
    weak: int = 0

    def __len__(self) -> int:
        return len(self.gost) + len(self.rsa)

    @property
    def all(self) -> tuple[EsiaCertificate, ...]:
        """Every usable certificate: the GOST ones, then the RSA ones."""
        return (*self.gost, *self.rsa)


def _refuse(source: str, reason: str) -> BridgeError:
    # imported here: sso_bridge.oidc imports this module while it initialises
    from sso_bridge.oidc.errors import OidcError  # noqa: PLC0415

    return OidcError(f"ESIA's certificates from {source}: {reason}", code="oidc.jwks_invalid")


def load_esia_certificate(
    data: bytes, *, min_rsa_bits: int | None = None
) -> EsiaCertificate | int | None:
    """One certificate (PEM or DER): a :class:`GostCertificate`, an
    :class:`RsaCertificate`, the size in bits of an RSA key too small to use, or None for
    anything else (another key type, not a certificate)."""
    try:
        return gost.load_certificate(data)
    except (BridgeError, ValueError):
        pass
    try:
        body = pem_body(data, "CERTIFICATE")
        certificate = x509.load_der_x509_certificate(body)
        key = certificate.public_key()
    except (ValueError, TypeError):
        return None
    if not isinstance(key, rsa.RSAPublicKey):
        return None
    bits = int(key.key_size)
    if not rsa_minimum(min_rsa_bits) <= bits <= MAX_RSA_KEY_BITS:
        return bits
    return RsaCertificate(body, key, certificate.subject.rfc4514_string(), bits)


class _Collector:
    """Gathers certificates once each (by DER), up to :data:`MAX_CERTIFICATES`."""

    def __init__(self, source: str, min_rsa_bits: int | None) -> None:
        self.source = source
        self.min_rsa_bits = min_rsa_bits
        self.found: dict[bytes, EsiaCertificate] = {}
        self.weak = 0
        self.usable = 0  # usable certificates seen, repeats included
        self.attempts = 0

    def add(self, data: bytes) -> None:
        self.attempts += 1
        if self.attempts > 4 * MAX_CERTIFICATES:
            raise _refuse(self.source, f"more than {4 * MAX_CERTIFICATES} certificates to read")
        loaded = load_esia_certificate(data, min_rsa_bits=self.min_rsa_bits)
        if isinstance(loaded, int):
            self.weak += 1
        elif loaded is not None:
            self.usable += 1
            if loaded.der in self.found:
                return
            if len(self.found) >= MAX_CERTIFICATES:
                raise _refuse(self.source, f"more than {MAX_CERTIFICATES} certificates")
            self.found[loaded.der] = loaded

    def add_file(self, data: bytes) -> None:
        """A certificate file: every PEM block in it, else the whole of it as DER."""
        blocks = _PEM_CERTIFICATE_RE.findall(data) if b"-----BEGIN" in data else []
        if not blocks:
            self.add(data)
        for block in blocks:
            self.add(b"-----BEGIN CERTIFICATE-----" + block + b"-----END CERTIFICATE-----")

    def result(self) -> CertificateSet:
        values = list(self.found.values())
        return CertificateSet(
            tuple(c for c in values if isinstance(c, GostCertificate)),
            tuple(c for c in values if isinstance(c, RsaCertificate)),
            self.weak,
        )


def _entry_count(data: bytes, source: str) -> None:
    """Refuse an archive whose end record announces too many entries, before the central
    directory is parsed (the count read afterwards is checked again)."""
    end = data.rfind(_END_OF_DIRECTORY, max(0, len(data) - 22 - 65535))
    if end < 0 or end + 22 > len(data):
        raise _refuse(source, "not a readable zip archive (no end of central directory)")
    announced = int.from_bytes(data[end + 10 : end + 12], "little")
    if announced > MAX_ARCHIVE_ENTRIES:
        raise _refuse(source, f"the archive has more than {MAX_ARCHIVE_ENTRIES} entries")


def _archive_entries(data: bytes, source: str) -> list[bytes]:
    """The content of each file entry, each read up to :data:`MAX_ENTRY_BYTES`."""
    _entry_count(data, source)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
        raise _refuse(source, "not a readable zip archive") from None
    contents = []
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ARCHIVE_ENTRIES:
            raise _refuse(source, f"the archive has more than {MAX_ARCHIVE_ENTRIES} entries")
        for entry in entries:
            if entry.is_dir():
                continue
            try:
                with archive.open(entry) as stream:
                    content = stream.read(MAX_ENTRY_BYTES + 1)
            except _UNREADABLE:  # encrypted, damaged, an unknown compression: skipped
                continue
            if len(content) > MAX_ENTRY_BYTES:
                raise _refuse(
                    source, f"an entry inflates to more than {MAX_ENTRY_BYTES // 1024} KiB"
                )
            contents.append(content)
    return contents


def _json_list(data: bytes, source: str) -> list[bytes]:
    try:
        document = parse_json(data, max_bytes=MAX_ARCHIVE_BYTES)
    except InvalidInput as exc:
        raise _refuse(source, f"not JSON ({exc.message})") from None
    if isinstance(document, dict):
        document = document.get("certificates")
    if not isinstance(document, list) or not all(isinstance(p, str) for p in document):
        raise _refuse(source, "the JSON is not a list of PEM certificates")
    if len(document) > MAX_CERTIFICATES:
        raise _refuse(source, f"more than {MAX_CERTIFICATES} certificates")
    return [p.encode("ascii", "replace") for p in document]


def _read_into(collector: _Collector, data: bytes, source: str) -> None:
    if len(data) > MAX_ARCHIVE_BYTES:
        raise _refuse(source, f"more than {MAX_ARCHIVE_BYTES // 1024} KiB")
    if data[:4] in _ZIP_MAGIC:
        for content in _archive_entries(data, source):
            collector.add_file(content)
    elif data.lstrip()[:1] in (b"[", b"{"):
        for pem in _json_list(data, source):
            collector.add_file(pem)
    else:
        collector.add_file(data)


def certificates_from_bytes(
    data: bytes, *, source: str = "the document", min_rsa_bits: int | None = None
) -> CertificateSet:
    """The certificates in ``data``: a zip archive, the JSON list or a certificate file
    (told apart by content). Unusable entries are skipped; limits are ``oidc.jwks_invalid``.
    ``source`` names the origin in messages."""
    collector = _Collector(source, min_rsa_bits)
    _read_into(collector, data, source)
    return collector.result()


def _read_bounded(path: Path) -> bytes:
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_ARCHIVE_BYTES + 1)
    except OSError as exc:
        raise OidcConfigError(
            f"cannot read {path}: {exc.strerror or exc}", code="oidc.config_invalid"
        ) from None
    if len(data) > MAX_ARCHIVE_BYTES:
        raise _refuse(str(path), f"more than {MAX_ARCHIVE_BYTES // 1024} KiB")
    return data


def _files(path: Path) -> Sequence[Path]:
    if not path.is_dir():
        if not path.is_file():
            raise OidcConfigError(
                f"{path} is neither a certificate file nor a directory",
                code="oidc.config_invalid",
            )
        return [path]
    children = sorted(path.iterdir())
    if len(children) > MAX_ARCHIVE_ENTRIES:
        raise _refuse(str(path), f"the directory has more than {MAX_ARCHIVE_ENTRIES} entries")
    return [child for child in children if child.is_file()]


def certificates_from_paths(
    paths: Iterable[str | os.PathLike[str]], *, min_rsa_bits: int | None = None
) -> CertificateSet:
    """The certificates in files, directories and zip archives (see the module's text).

    A path that yields no usable certificate is ``oidc.jwks_invalid``; a missing or
    unreadable one ``oidc.config_invalid``.
    """
    collector = _Collector("the given files", min_rsa_bits)
    for given in paths:
        path = Path(given)
        before, weak_before = collector.usable, collector.weak
        for file in _files(path):
            collector.source = str(file)
            _read_into(collector, _read_bounded(file), str(file))
        if collector.usable == before:
            weak = collector.weak - weak_before
            reason = (
                f"{weak} RSA certificate(s) under the minimum key size, and no other"
                if weak
                else "no GOST R 34.10-2012-256 or RSA certificate"
            )
            raise _refuse(str(path), reason)
    return collector.result()
