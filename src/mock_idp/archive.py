"""The IdP's signing certificates as one ZIP archive, as ESIA publishes its own.

ESIA gives relying parties its signing certificates as an archive of certificate files to
download. The mock serves the same at ``/aas/oauth2/certificates.zip``
(:data:`mock_idp.app.CERTIFICATES_ARCHIVE_PATH`):

* ``gost-<kid>.cer``: each published GOST certificate (the current one and the previous
  one), DER, ``kid`` its hex Streebog-256;
* ``rsa-<kid>.pem``: each RS256 signing key's self-signed X.509 certificate, PEM, ``kid``
  the key's JWK thumbprint, so that an RS256 relying party can check tokens without the
  JWKS.

Entry names are plain file names (no folders), and the entries carry a fixed date, so the
archive is the same bytes for as long as the keys are the same.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Final

from mock_idp.keys import KeyRing

__all__ = ["ARCHIVE_DATE", "certificate_files", "certificates_archive"]

ARCHIVE_DATE: Final = (1980, 1, 1, 0, 0, 0)
"""The date every entry carries (the earliest a ZIP can hold): the bytes stay stable."""
_PLAIN_NAME: Final = re.compile(r"[A-Za-z0-9_-]+\.(cer|pem)")


def certificate_files(keys: KeyRing) -> dict[str, bytes]:
    """The archive's files by name: GOST certificates (DER), then RSA ones (PEM)."""
    files = {f"gost-{key.kid}.cer": key.certificate.der for key in keys.published_gost()}
    files.update({f"rsa-{kid}.pem": pem for kid, pem in keys.rsa_certificates().items()})
    for name in files:
        if not _PLAIN_NAME.fullmatch(name):  # a kid is hex or base64url: never a path
            raise ValueError(f"certificate file name {name!r} is not a plain name")
    return files


def certificates_archive(keys: KeyRing) -> bytes:
    """The ZIP archive of :func:`certificate_files`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in certificate_files(keys).items():
            entry = zipfile.ZipInfo(name, date_time=ARCHIVE_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data)
    return buffer.getvalue()
