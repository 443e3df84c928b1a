"""The relying parties a mock IdP knows, and their per-client switches.

A client is registered with an authentication method (``auth_method``) and a few switches
whose defaults follow ESIA for ESIA's own methods (``esia_gost``, ``esia_cms``) and
OAuth 2.0 practice for the others:

* ``require_pkce``: a ``code_challenge`` (S256) must come with the authorization request.
  Off for ESIA clients (ESIA accepts PKCE but does not demand it), on for the others.
* ``token_kid``: the ID and access tokens carry a ``kid`` header. Off for ESIA clients
  (ESIA's tokens name no key: the relying party checks them against the published
  certificates), on for the others.

For logout (OIDC RP-Initiated Logout 1.0 and Back-Channel Logout 1.0):

* ``post_logout_redirect_uris``: where the end-session endpoint may send the browser
  afterwards, compared character for character; none by default.
* ``backchannel_logout_uri``: an absolute http(s) URL without a fragment; when set, the IdP
  POSTs a logout token there whenever an IdP session the client logged in through ends.
* ``backchannel_logout_session_required``: the client needs ``sid`` in logout tokens (the
  mock always sends it, and ``sid`` in ID tokens too); off by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
from cryptography import x509

from sso_bridge.errors import BridgeError
from sso_bridge.esia import gost
from sso_bridge.keysize import rsa_key_acceptable

__all__ = ["AUTH_METHODS", "ESIA_AUTH_METHODS", "ID_TOKEN_ALGS", "Client", "client_from_dict"]

AUTH_METHODS: Final = (
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "esia_cms",
    "esia_gost",
    "none",
)
ESIA_AUTH_METHODS: Final = frozenset({"esia_cms", "esia_gost"})
"""Methods of ESIA's own clients: no PKCE demanded, no ``kid`` in tokens by default."""
ID_TOKEN_ALGS: Final = ("RS256", "ES256", gost.GOST_JWT_ALG)


def _not_esia(client: Client) -> bool:
    """The default of a switch that is on for other clients and off for ESIA's."""
    return client.auth_method not in ESIA_AUTH_METHODS


@attrs.frozen
class Client:
    client_id: str
    redirect_uris: tuple[str, ...]
    auth_method: str = "client_secret_basic"
    secret: str | None = attrs.field(default=None, repr=False)
    certificate_pem: str | None = None  # esia_cms (RSA/EC) or esia_gost (GOST 2012-256)
    jwks: Mapping[str, Any] | None = None  # private_key_jwt
    id_token_alg: str = "RS256"  # noqa: S105 - an algorithm name
    require_trusted: bool = False
    require_pkce: bool = attrs.field(default=attrs.Factory(_not_esia, takes_self=True))
    token_kid: bool = attrs.field(default=attrs.Factory(_not_esia, takes_self=True))
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = False

    def __attrs_post_init__(self) -> None:
        if self.auth_method not in AUTH_METHODS:
            raise ValueError(f"auth_method must be one of {', '.join(AUTH_METHODS)}")
        if self.id_token_alg not in ID_TOKEN_ALGS:
            raise ValueError(f"id_token_alg must be one of {', '.join(ID_TOKEN_ALGS)}")
        if self.backchannel_logout_uri is not None:
            _check_logout_uri(self.backchannel_logout_uri)
        if self.auth_method == "esia_gost":
            self.gost_certificate()  # refuse a client whose certificate cannot be used
        if self.auth_method == "esia_cms" and self.certificate_pem:
            certificate = x509.load_pem_x509_certificate(self.certificate_pem.encode())
            if not rsa_key_acceptable(certificate):
                raise ValueError("certificate_pem has an RSA key under 2048 bits")

    def gost_certificate(self) -> gost.GostCertificate:
        """The registered GOST certificate of an ``esia_gost`` client."""
        if not self.certificate_pem:
            raise ValueError("an esia_gost client needs certificate_pem (GOST 2012-256)")
        try:
            return gost.load_certificate(self.certificate_pem.encode())
        except BridgeError as exc:
            raise ValueError(f"certificate_pem: {exc.message}") from None


def client_from_dict(data: Mapping[str, Any]) -> Client:
    """A client from its YAML/JSON form; a switch left out takes its method's default."""
    switches = {name: bool(data[name]) for name in ("require_pkce", "token_kid") if name in data}
    return Client(
        client_id=str(data["client_id"]),
        redirect_uris=tuple(data.get("redirect_uris") or ()),
        auth_method=str(data.get("auth_method", "client_secret_basic")),
        secret=data.get("secret"),
        certificate_pem=data.get("certificate_pem"),
        jwks=data.get("jwks"),
        id_token_alg=str(data.get("id_token_alg", "RS256")),
        require_trusted=bool(data.get("require_trusted", False)),
        post_logout_redirect_uris=tuple(data.get("post_logout_redirect_uris") or ()),
        backchannel_logout_uri=data.get("backchannel_logout_uri") or None,
        backchannel_logout_session_required=bool(
            data.get("backchannel_logout_session_required", False)
        ),
        **switches,
    )


def _check_logout_uri(uri: str) -> None:
    """A back-channel logout URI: absolute http(s), no fragment (Back-Channel Logout §2.2)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment or "#" in uri:
        raise ValueError("backchannel_logout_uri must be an absolute http(s) URL without fragment")
