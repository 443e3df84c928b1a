"""Plugging :class:`~sso_bridge.integrations.pysaml2.XmlSecBackend` into pysaml2: loading
a configuration without the xmlsec1 program, the security context, entities and servers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import UnsupportedAlgorithm
from saml2.config import Config, IdPConfig
from saml2.entity import Entity
from saml2.server import Server
from saml2.sigver import RSACrypto, SecurityContext, import_rsa_key_from_file

from sso_bridge.errors import ConfigError
from sso_bridge.integrations.pysaml2.algorithms import DIGEST_METHODS, SIGNATURE_METHODS
from sso_bridge.integrations.pysaml2.backend import XmlSecBackend

if TYPE_CHECKING:
    from xmlsec.constants import __Transform as Transform

__all__ = ["create_server", "install_backend", "load_config", "security_context"]


def load_config(settings: Mapping[str, Any], config_class: type[Config] = IdPConfig) -> Config:
    """Load pysaml2 ``settings`` into ``config_class`` without needing the xmlsec1 program.

    Unless the settings choose a ``crypto_backend``, pysaml2's "XMLSecurity" is named so
    that loading metadata does not look for the program; entities built from the result
    still need :func:`install_backend` (or :func:`create_server`) to sign.
    """
    return config_class().load({"crypto_backend": "XMLSecurity", **settings})


def security_context(config: Config, backend: XmlSecBackend | None = None) -> SecurityContext:
    """A pysaml2 ``SecurityContext`` for ``config`` whose crypto backend is ``backend``.

    Mirrors ``saml2.sigver.security_context`` without looking for the xmlsec1 program, and
    also sets up the RSA signer pysaml2 uses for HTTP-Redirect signatures.
    """
    backend = backend or XmlSecBackend()
    key_file = config.key_file
    redirect_signer = None
    if key_file:
        try:
            redirect_signer = RSACrypto(import_rsa_key_from_file(key_file))
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise ConfigError(f"cannot load the SAML signing key {key_file}: {exc}") from exc
    keypairs = config.encryption_keypairs or ()
    return SecurityContext(
        backend,
        key_file,
        cert_file=config.cert_file,
        metadata=getattr(config, "metadata", None),
        only_use_keys_in_metadata=config.only_use_keys_in_metadata,
        cert_handler_extra_class=config.cert_handler_extra_class,
        generate_cert_info=config.generate_cert_info,
        tmp_cert_file=config.tmp_cert_file,
        tmp_key_file=config.tmp_key_file,
        validate_certificate=config.validate_certificate,
        enc_key_files=[pair["key_file"] for pair in keypairs if "key_file" in pair],
        encryption_keypairs=config.encryption_keypairs,
        sec_backend=redirect_signer,
        delete_tmpfiles=config.delete_tmpfiles,
    )


def install_backend(entity: Entity, backend: XmlSecBackend | None = None) -> XmlSecBackend:
    """Make the pysaml2 ``entity`` (a Server, a Saml2Client, ...) sign with ``backend``.

    Also settles the entity's default signature and digest algorithms: the configured
    ones if any (rejected with :class:`ConfigError` if outside the allowed lists), else
    the backend's, instead of pysaml2's RSA-SHA1 fallback.
    """
    backend = backend or XmlSecBackend()
    config = entity.config
    entity.signing_algorithm = _configured_algorithm(
        config, "signing_algorithm", SIGNATURE_METHODS, backend.signature_algorithm
    )
    entity.digest_algorithm = _configured_algorithm(
        config, "digest_algorithm", DIGEST_METHODS, backend.digest_algorithm
    )
    entity.sec = security_context(config, backend)
    return backend


def create_server(
    config: Config, backend: XmlSecBackend | None = None, **server_args: Any
) -> Server:
    """A ``saml2.server.Server`` for ``config`` that signs and encrypts with ``backend``.

    Sets ``config.crypto_backend`` to "XMLSecurity" (when it is "xmlsec1") so constructing
    the server does not look for the xmlsec1 program; a config with metadata must have
    been loaded that way already (see :func:`load_config`). ``server_args`` go to
    ``Server``.
    """
    if config.crypto_backend == "xmlsec1":
        config.crypto_backend = "XMLSecurity"
    server = Server(config=config, **server_args)
    install_backend(server, backend)
    return server


def _configured_algorithm(
    config: Config, name: str, allowed: Mapping[str, Transform], default: str
) -> str:
    # pysaml2 reads these per service ("service" -> "idp"), ignoring a top-level setting.
    configured = config.getattr(name) or getattr(config, name, None)
    if configured is None:
        return default
    if configured not in allowed:
        raise ConfigError(f"{name} not allowed: {configured}; use one of {sorted(allowed)}")
    return str(configured)
