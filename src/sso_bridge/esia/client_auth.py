"""ESIA's client authentication, as :class:`~sso_bridge.oidc.extension.ClientAuthentication`.

* v2/v3 (``/v2/ac``, ``/v3/te``, :class:`GostClientSecret`): ``client_secret`` is the
  signer's raw GOST signature over ``client_id + scope + scope_org + timestamp + state +
  redirect_uri`` (``+ code`` on the token request), sent with ``client_certificate_hash``
  (:mod:`sso_bridge.esia.secret`); the token request carries a fresh ``state`` UUID of its
  own, which the answer must echo.
* v1 (``/ac``, ``/te``, :class:`CmsClientSecret`): a detached CMS signature over
  ``scope + timestamp + client_id + state`` (:mod:`sso_bridge.esia.cms`), on both requests.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from sso_bridge.esia import cms, secret
from sso_bridge.oidc.config import ProviderConfig
from sso_bridge.oidc.errors import OidcError

if TYPE_CHECKING:
    from sso_bridge.esia.config import EsiaConfig

__all__ = [
    "CmsClientSecret",
    "GostClientSecret",
    "cms_secret_params",
    "esia_state",
    "gost_secret_params",
]


def _esia(config: ProviderConfig) -> EsiaConfig:
    from sso_bridge.esia.config import EsiaConfig  # noqa: PLC0415 - it imports this module

    if not isinstance(config, EsiaConfig):
        raise OidcError(
            "ESIA client authentication needs an EsiaConfig", code="oidc.config_invalid"
        )
    return config


def esia_state() -> str:
    """A fresh random UUID: ESIA wants ``state`` in that form."""
    return str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))


def cms_secret_params(config: EsiaConfig, state: str, now: datetime) -> dict[str, str]:
    """ESIA v1's ``timestamp`` and ``client_secret`` (a CMS signature) for ``state``."""
    if config.client_key is None or config.client_certificate is None:
        raise OidcError("esia_cms needs a key and a certificate", code="oidc.config_invalid")
    timestamp = cms.esia_timestamp(now)
    message = cms.client_secret_message(config.scope, timestamp, config.client_id, state)
    signed = cms.sign_client_secret(message, config.client_certificate, config.client_key)
    return {"timestamp": timestamp, "client_secret": signed}


def gost_secret_params(
    config: EsiaConfig, state: str, now: datetime, authorization_code: str | None = None
) -> dict[str, str]:
    """ESIA v2/v3 client authentication for ``state`` (and the authorization code on the
    token request): ``client_secret``, the signer's GOST signature over ``client_id +
    scope + scope_org + timestamp + state + redirect_uri (+ code)``, and
    ``client_certificate_hash`` in ``config.certificate_hash_case`` (uppercase unless
    configured otherwise), with the signed fields themselves."""
    if config.signer is None:
        raise OidcError("esia_gost needs a signer", code="oidc.config_invalid")
    scope_org = " ".join(config.scope_org)
    fields = {
        "client_id": config.client_id,
        "scope": config.scope,
        "scope_org": scope_org,
        "timestamp": secret.esia_timestamp(now),
        "state": state,
        "redirect_uri": config.redirect_uri,
    }
    params = dict(fields)
    if not scope_org:
        del params["scope_org"]
    params["client_secret"] = secret.client_secret(config.signer, code=authorization_code, **fields)
    params["client_certificate_hash"] = secret.certificate_hash(
        config.signer.certificate, case=config.certificate_hash_case
    )
    return params


class GostClientSecret:
    """ESIA v2/v3: the GOST client secret on ``v2/ac`` (with ``access_type``) and ``v3/te``."""

    def authorization_params(
        self, config: ProviderConfig, state: str, now: datetime
    ) -> Mapping[str, str]:
        esia = _esia(config)
        return {**gost_secret_params(esia, state, now), "access_type": esia.esia_access_type}

    def token_params(
        self, config: ProviderConfig, code: str, now: datetime
    ) -> tuple[Mapping[str, str], Mapping[str, str]]:
        data = gost_secret_params(_esia(config), esia_state(), now, code)
        data["token_type"] = "Bearer"  # noqa: S105 - ESIA's token type, not a secret
        return data, {}


class CmsClientSecret:
    """ESIA v1: the CMS client secret on ``/ac`` and, with a fresh ``state``, on ``/te``."""

    def authorization_params(
        self, config: ProviderConfig, state: str, now: datetime
    ) -> Mapping[str, str]:
        return cms_secret_params(_esia(config), state, now)

    def token_params(
        self, config: ProviderConfig, code: str, now: datetime
    ) -> tuple[Mapping[str, str], Mapping[str, str]]:
        # ESIA signs scope + timestamp + client_id + state again, with a fresh state.
        state = secrets.token_urlsafe(32)
        data = {"client_id": config.client_id, "scope": config.scope, "state": state}
        data["token_type"] = "Bearer"  # noqa: S105 - ESIA's token type, not a secret
        data.update(cms_secret_params(_esia(config), state, now))
        return data, {}
