"""The old homes of ESIA's names still work for one release, and say where the names went.

ESIA lives in ``sso_bridge.esia``; ``sso_bridge.oidc`` knows no ESIA and never imports it.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from sso_bridge.errors import ConfigError
from sso_bridge.esia import gost
from sso_bridge.esia.access_token import validate_esia_access_token
from sso_bridge.esia.cms import sign_client_secret
from sso_bridge.esia.config import EsiaAuthMethod, EsiaConfig, esia_provider_config
from sso_bridge.esia.keys import GostKeyring
from sso_bridge.esia.person_api import identity_from_esia_person
from sso_bridge.esia.provider import EsiaProvider, EsiaRelyingParty
from sso_bridge.esia.signer import InProcessGostSigner
from sso_bridge.oidc import OidcError, ProviderConfig, RelyingParty
from sso_bridge.oidc.http import HttpResponse
from sso_bridge.oidc.provider import OidcProvider

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BASE = "https://esia.example"
REDIRECT = "https://school.example/cb"
_KEY = gost.generate_private_key()
SIGNER = InProcessGostSigner(_KEY, gost.self_signed_certificate(_KEY, "school", NOW))
IDP_CERT = gost.self_signed_certificate(_KEY, "esia", NOW)


class _NoHttp:
    def get(self, url: str, *, headers: Any = None) -> HttpResponse:
        raise AssertionError(f"no request expected, got GET {url}")

    def post(self, url: str, *, data: Any, headers: Any = None) -> HttpResponse:
        raise AssertionError(f"no request expected, got POST {url}")


def _esia_config() -> EsiaConfig:
    return esia_provider_config(
        BASE, "SCHOOL01", SIGNER, REDIRECT, "openid fullname", certificates=[IDP_CERT]
    )


@pytest.mark.parametrize(
    ("module", "name", "moved"),
    [
        ("sso_bridge.esia_cms", "sign_client_secret", sign_client_secret),
        ("sso_bridge.oidc.esia_keys", "GostKeyring", GostKeyring),
        ("sso_bridge.oidc.esia_access", "validate_esia_access_token", validate_esia_access_token),
    ],
)
def test_an_old_module_re_exports_the_moved_names(module: str, name: str, moved: Any) -> None:
    sys.modules.pop(module, None)
    with pytest.warns(DeprecationWarning, match="moved to sso_bridge.esia"):
        old = importlib.import_module(module)
    assert getattr(old, name) is moved


@pytest.mark.parametrize(
    ("module", "name", "moved"),
    [
        ("sso_bridge.oidc.config", "esia_provider_config", esia_provider_config),
        ("sso_bridge.oidc.keys", "GostKeyring", GostKeyring),
        ("sso_bridge.oidc.identity", "identity_from_esia_person", identity_from_esia_person),
        ("sso_bridge.oidc", "identity_from_esia_person", identity_from_esia_person),
    ],
)
def test_an_old_name_is_still_found_where_it_was(module: str, name: str, moved: Any) -> None:
    with pytest.warns(DeprecationWarning, match="moved to sso_bridge.esia"):
        assert getattr(importlib.import_module(module), name) is moved
    assert not hasattr(importlib.import_module(module), "no_such_name")


def test_provider_config_with_an_esia_method_builds_the_esia_config() -> None:
    made = ProviderConfig(
        issuer="http://esia.example/",
        authorization_endpoint=BASE + "/aas/oauth2/v2/ac",
        token_endpoint=BASE + "/aas/oauth2/v3/te",
        jwks_uri=BASE + "/aas/oauth2/certificates",
        client_id="SCHOOL01",
        redirect_uri=REDIRECT,
        auth_method="esia_gost",
        signer=SIGNER,
        algorithms=("GOST3410_2012_256",),
        gost_certificates=[IDP_CERT],
        esia_person_api=BASE,
    )
    assert isinstance(made, EsiaConfig)
    assert made.auth_method is EsiaAuthMethod.GOST
    assert made.esia_person_api == BASE
    with pytest.raises(ConfigError, match="needs a signer"):
        ProviderConfig(
            issuer="i", authorization_endpoint="a", token_endpoint="t", jwks_uri="j",
            client_id="c", redirect_uri="r", auth_method="esia_gost",
        )  # fmt: skip


def test_an_unknown_method_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="not a client authentication method"):
        ProviderConfig(
            issuer="i", authorization_endpoint="a", token_endpoint="t", jwks_uri="j",
            client_id="c", redirect_uri="r", auth_method="carrier_pigeon",
        )  # fmt: skip


def test_the_generic_relying_party_builds_the_esia_one_for_an_esia_config() -> None:
    made = RelyingParty(_esia_config(), _NoHttp())
    assert type(made) is EsiaRelyingParty
    assert made.config.esia_person_api == BASE


def test_a_plain_provider_knows_nothing_of_esia() -> None:
    config = ProviderConfig(
        issuer="https://idp.example/",
        authorization_endpoint="https://idp.example/a",
        token_endpoint="https://idp.example/t",
        jwks_uri="https://idp.example/j",
        client_id="c",
        redirect_uri=REDIRECT,
        client_secret="s",
    )
    rp = RelyingParty(config, _NoHttp())
    assert type(rp) is RelyingParty
    assert not hasattr(config, "esia_person_api")
    for name in ("esia_person", "esia_roles", "esia_organisation"):
        assert not hasattr(rp, name)
    assert type(OidcProvider("idp", rp)) is OidcProvider
    with pytest.raises(OidcError) as caught:
        EsiaProvider("esia", rp)
    assert caught.value.code == "oidc.config_invalid"


def test_the_generic_provider_builds_the_esia_one_for_an_esia_relying_party() -> None:
    rp = RelyingParty(_esia_config(), _NoHttp())
    made = OidcProvider("esia", rp, title="ESIA", enabled=False)
    assert type(made) is EsiaProvider
    assert (made.name, made.title, made.enabled, made.issuer) == (
        "esia", "ESIA", False, "http://esia.example/"
    )  # fmt: skip
    assert type(attrs.evolve(made, enabled=True)) is EsiaProvider
    assert type(OidcProvider(name="esia", relying_party=rp)) is EsiaProvider


def test_oidc_imports_no_esia() -> None:
    code = (
        "import sys, sso_bridge.oidc, sso_bridge.oidc.rp, sso_bridge.oidc.client_auth\n"
        "print(sorted(m for m in sys.modules if 'esia' in m))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"
