"""In-process XML signatures and encryption for pysaml2, built on python-xmlsec.

pysaml2 normally runs the ``xmlsec1`` program for every signature and every encrypted
assertion. :class:`XmlSecBackend` does the same work inside the process with libxmlsec1,
which the ``xmlsec`` wheels bundle, so the program is never needed.

Plugging it into an identity provider::

    config = load_config(settings)  # IdPConfig, loaded without looking for xmlsec1
    server = create_server(config)  # saml2.server.Server signing with XmlSecBackend
    server.create_authn_response(..., sign_response=True, sign_assertion=True)

An entity built elsewhere gets the backend with ``install_backend(entity)``. pysaml2
builds security contexts while loading metadata and while constructing an entity, and its
default ``crypto_backend`` ("xmlsec1") fails there when the program is missing; so the
settings must name pysaml2's program-free "XMLSecurity" backend (:func:`load_config` does
that), whose context :func:`install_backend` then replaces on the entity.

Signatures are enveloped, with exclusive canonicalization, exactly one reference
(``#`` + the ID of the signed element) and the signer's certificate in ``KeyInfo``.
Assertions are encrypted with a fresh AES session key (AES-128-GCM unless chosen
otherwise), which is itself encrypted with RSA-OAEP to the recipient's certificate.

Verification (``validate_signature``, which pysaml2 service providers call) runs
:func:`sso_bridge.saml.verify.verify_enveloped`: the signature of the named element and
no other, every structural check of the SAML signature profile, keys only from metadata.
Where the ``xmlsec1`` program is installed, pysaml2's own backend remains available by
setting ``crypto_backend: "xmlsec1"``.

The modules: :mod:`~sso_bridge.integrations.pysaml2.algorithms` (the allowed algorithms
by URI), :mod:`~sso_bridge.integrations.pysaml2.backend` (:class:`XmlSecBackend`),
:mod:`~sso_bridge.integrations.pysaml2.entities` (configs, security contexts, servers),
:mod:`~sso_bridge.integrations.pysaml2.documents` (parsing, templates, PEM input) and
:mod:`~sso_bridge.integrations.pysaml2.errors` (:class:`SamlCryptoError`).
"""

from __future__ import annotations

from sso_bridge.integrations.pysaml2.algorithms import (
    AES128_CBC,
    AES128_GCM,
    AES256_CBC,
    AES256_GCM,
    DATA_ENCRYPTION_METHODS,
    DIGEST_METHODS,
    RSA_SHA256,
    RSA_SHA384,
    RSA_SHA512,
    SHA256,
    SHA384,
    SHA512,
    SIGNATURE_METHODS,
)
from sso_bridge.integrations.pysaml2.backend import XmlSecBackend
from sso_bridge.integrations.pysaml2.entities import (
    create_server,
    install_backend,
    load_config,
    security_context,
)
from sso_bridge.integrations.pysaml2.errors import SamlCryptoError

__all__ = [
    "AES128_CBC",
    "AES128_GCM",
    "AES256_CBC",
    "AES256_GCM",
    "DATA_ENCRYPTION_METHODS",
    "DIGEST_METHODS",
    "RSA_SHA256",
    "RSA_SHA384",
    "RSA_SHA512",
    "SHA256",
    "SHA384",
    "SHA512",
    "SIGNATURE_METHODS",
    "SamlCryptoError",
    "XmlSecBackend",
    "create_server",
    "install_backend",
    "load_config",
    "security_context",
]
