"""A running mock IdP's state and the Python API that tests drive it with:
:class:`MockIdP`, made from a config file (people, clients, keys, SAML service providers)."""

from __future__ import annotations

import hmac
import os
import secrets
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from mock_idp.archive import certificates_archive
from mock_idp.backchannel import BackchannelNotifier
from mock_idp.keys import KeyRing, certificate_pem
from mock_idp.paths import ADMIN_HEADER, AUTHORIZE_PATHS, END_SESSION_PATH, TOKEN_PATHS
from mock_idp.provider import Client, Provider, client_from_dict
from mock_idp.saml import SamlFault, SamlIdP, SamlSigningKey
from mock_idp.session_control import SessionControl
from mock_idp.sso import IdpSessions, session_acr
from mock_idp.tokens import TokenFault
from mock_idp.users import Directory, Level, load_config, person_from_dict
from sso_bridge.esia import gost
from sso_bridge.esia.signer import InProcessGostSigner

__all__ = ["MockIdP", "add_service_provider", "write_saml_key"]

_AUTH_METHODS = (
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "esia_cms",
    "esia_gost",
)
_SCOPES = frozenset(
    {"openid", "fullname", "birthdate", "gender", "snils", "id_doc", "contacts", "usr_org"}
)
_CLAIMS = ("sub", "iss", "aud", "exp", "iat", "nonce", "at_hash", "acr", "amr", "auth_time", "sid")


class MockIdP(SessionControl):
    """A running mock IdP's state and the Python API that tests drive it with; its
    sessions, logout and back-channel notices are :class:`SessionControl`'s."""

    def __init__(
        self,
        provider: Provider,
        base_url: str,
        saml: SamlIdP | None = None,
        *,
        admin_token: str | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.admin_token = admin_token or secrets.token_urlsafe(32)
        """The token ``/admin/*`` and ``/outbox`` require (see :attr:`admin_headers`)."""
        self.saml = saml or SamlIdP(self.base_url, clock=provider.clock)
        self.saml_faults: list[set[SamlFault]] = []
        self.sessions = IdpSessions()
        """The IdP's own sessions (single sign-on): see :mod:`mock_idp.sso`."""
        self.backchannel = BackchannelNotifier()
        """Delivers back-channel logout tokens and records each delivery."""
        # Keeps a temporary directory of config-given SAML keys alive as long as the IdP.
        self._key_dir: tempfile.TemporaryDirectory[str] | None = None
        self._initial_people = list(provider.people)
        self._initial_clients = dict(provider.clients)
        # GOST keys the IdP made for esia_gost clients registered without a certificate
        self._client_keys: dict[str, gost.GostPrivateKey] = {}

    @classmethod
    def from_config(
        cls,
        config: Path | None,
        base_url: str,
        state_dir: Path | None = None,
        *,
        admin_token: str | None = None,
    ) -> MockIdP:
        """People and clients from ``config`` (YAML/JSON), keys from ``state_dir``; a new
        random admin token unless ``admin_token`` is given."""
        data = load_config(config) if config else {}
        people = Directory(person_from_dict(p) for p in data.get("users") or ())
        generated: dict[str, gost.GostPrivateKey] = {}
        clients = {
            c.client_id: c
            for c in (_client(entry, generated) for entry in data.get("clients") or ())
        }
        given = data.get("keys") or {}
        if given.get("oidc"):
            keys = KeyRing.from_config(list(given["oidc"]))
        else:
            keys = KeyRing.load_or_create(state_dir) if state_dir else KeyRing.generate()
        issuer = base_url.rstrip("/") + "/"
        provider = Provider(issuer, people, keys, clients)
        saml_dir = state_dir
        holder = None
        if given.get("saml"):
            if saml_dir is None:
                holder = tempfile.TemporaryDirectory(prefix="mock-idp-")
                saml_dir = Path(holder.name)
            write_saml_key(saml_dir, given["saml"])
        saml = SamlIdP(base_url.rstrip("/"), saml_dir, clock=provider.clock)
        for sp in data.get("saml_service_providers") or ():
            add_service_provider(saml, sp, config.parent if config else Path())
        idp = cls(provider, base_url, saml, admin_token=admin_token)
        idp._key_dir = holder
        idp._client_keys.update(generated)
        return idp

    @property
    def issuer(self) -> str:
        return self.provider.issuer

    @property
    def admin_headers(self) -> dict[str, str]:
        """The header that admits a request to ``/admin/*`` and ``/outbox``."""
        return {ADMIN_HEADER: self.admin_token}

    def is_admin(self, headers: Mapping[str, str]) -> bool:
        """Whether ``headers`` carry the admin token (``X-Mock-IdP-Admin`` or Bearer)."""
        given = headers.get(ADMIN_HEADER.lower()) or ""
        authorization = headers.get("authorization") or ""
        if not given and authorization[:7].lower() == "bearer ":
            given = authorization[7:].strip()
        return bool(given) and hmac.compare_digest(given.encode(), self.admin_token.encode())

    # -- test controls ----------------------------------------------------------------------

    def add_user(self, data: dict[str, Any]) -> None:
        self.provider.people.put(person_from_dict(data))

    def add_client(self, client: Client | dict[str, Any]) -> Client:
        """Add or replace a client; an ``esia_gost`` one without ``certificate_pem`` gets a
        new GOST key and self-signed certificate (see :meth:`client_signer`)."""
        if isinstance(client, dict):
            client = _client(client, self._client_keys)
        self.provider.clients[client.client_id] = client
        return client

    def client_signer(self, client_id: str) -> InProcessGostSigner:
        """A signer with the GOST key the IdP made for ``client_id`` (an ``esia_gost``
        client registered without a certificate)."""
        client = self.provider.clients[client_id]
        return InProcessGostSigner(self._client_keys[client_id], client.gost_certificate())

    def certificates(self) -> list[str]:
        """The IdP's GOST certificates (PEM), as ``/aas/oauth2/certificates`` lists them."""
        return self.provider.keys.certificates()

    def certificates_archive(self) -> bytes:
        """The ZIP that ``/aas/oauth2/certificates.zip`` serves: the published GOST
        certificates (DER, ``.cer``) and each RS256 key's self-signed certificate (PEM,
        ``.pem``)."""
        return certificates_archive(self.provider.keys)

    def add_service_provider(self, settings: dict[str, Any]) -> None:
        """Know a SAML service provider: ``metadata`` (XML) or ``entity_id`` + ``acs_url``."""
        add_service_provider(self.saml, settings, Path())

    def inject(self, *faults: TokenFault | SamlFault | str, responses: int = 1) -> None:
        """Apply these faults to each of the next ``responses`` token or SAML responses.

        Strings name token faults first (``"expired"`` is the token's); write SAML faults
        as ``"saml:expired"``, or pass :class:`SamlFault` members.
        """
        tokens: set[TokenFault] = set()
        saml: set[SamlFault] = set()
        for fault in faults:
            if isinstance(fault, SamlFault):
                saml.add(fault)
            elif isinstance(fault, TokenFault):
                tokens.add(fault)
            elif fault.startswith("saml:"):
                saml.add(SamlFault(fault.removeprefix("saml:")))
            elif fault in set(TokenFault):
                tokens.add(TokenFault(fault))
            else:
                saml.add(SamlFault(fault))
        _enqueue(self.provider.faults, tokens, responses)
        _enqueue(self.saml_faults, saml, responses)

    def take_saml_faults(self) -> set[SamlFault]:
        return self.saml_faults.pop(0) if self.saml_faults else set()

    def rotate_keys(self, alg: str = "RS256") -> str:
        return self.provider.keys.rotate(alg).kid

    @property
    def outbox(self) -> list[dict[str, str]]:
        return [
            {"phone": m.phone, "text": m.text, "code": m.code, "sent_at": m.sent_at.isoformat()}
            for m in self.provider.outbox
        ]

    def last_code(self) -> str:
        """The code of the newest SMS."""
        return self.provider.outbox[-1].code

    def reset(self) -> None:
        """Back to the configured people and clients; no faults, no IdP sessions (ended
        without notices), no deliveries recorded, empty outbox."""
        self.provider.people = Directory(self._initial_people)
        self.provider.clients = dict(self._initial_clients)
        self.provider.faults.clear()
        self.saml_faults.clear()
        self.saml.reset()
        self.sessions.clear()
        self.backchannel.clear()
        self.provider.issued_id_tokens.clear()
        self.provider.outbox.clear()

    # -- pages ------------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        base = self.base_url
        return {
            "issuer": self.issuer,
            "authorization_endpoint": base + AUTHORIZE_PATHS[1],
            "token_endpoint": base + TOKEN_PATHS[1],
            "userinfo_endpoint": base + "/userinfo",
            "jwks_uri": base + "/jwks",
            "end_session_endpoint": base + END_SESSION_PATH,
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            "frontchannel_logout_supported": False,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", gost.GOST_JWT_ALG],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": list(_AUTH_METHODS),
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
            "scopes_supported": sorted(_SCOPES),
            "claims_supported": list(_CLAIMS),
            "acr_values_supported": [session_acr(level.value) for level in Level],
            "prompt_values_supported": ["none", "login"],
            "authorization_response_iss_parameter_supported": True,
        }


_Fault = TypeVar("_Fault", TokenFault, SamlFault)


def _client(data: Mapping[str, Any], generated: dict[str, gost.GostPrivateKey]) -> Client:
    """A client from its config form; an ``esia_gost`` client without a certificate gets a
    new key (kept in ``generated``) and a self-signed certificate."""
    if data.get("auth_method") != "esia_gost" or data.get("certificate_pem"):
        return client_from_dict(data)
    client_id = str(data["client_id"])
    key = generated.get(client_id) or gost.generate_private_key()
    certificate = gost.self_signed_certificate(key, client_id, datetime.now(UTC), days=3650)
    client = client_from_dict({**data, "certificate_pem": certificate_pem(certificate)})
    generated[client_id] = key
    return client


def _enqueue(queue: list[set[_Fault]], faults: set[_Fault], responses: int) -> None:
    """Add ``faults`` to each of the next ``responses`` entries of a per-response queue."""
    if not faults:
        return
    for index in range(responses):
        if index < len(queue):
            queue[index] |= faults
        else:
            queue.append(set(faults))


def write_saml_key(directory: Path, given: Mapping[str, Any]) -> None:
    """Put a SAML key and certificate from the config where the SAML IdP loads them."""
    directory.mkdir(parents=True, exist_ok=True)
    key_path = directory / SamlSigningKey.KEY_FILE
    key_path.unlink(missing_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(str(given["private_key_pem"]))
    (directory / SamlSigningKey.CERTIFICATE_FILE).write_text(
        str(given["certificate_pem"]), encoding="ascii"
    )


def add_service_provider(saml: SamlIdP, settings: Mapping[str, Any], base: Path) -> None:
    """Register an SP from config: ``metadata_file``/``metadata``, or its settings."""
    encrypt = bool(settings.get("encrypt_assertions", False))
    if settings.get("metadata_file"):
        xml = (base / str(settings["metadata_file"])).read_text(encoding="utf-8")
        saml.register_sp(xml, encrypt_assertions=encrypt)
    elif settings.get("metadata"):
        saml.register_sp(str(settings["metadata"]), encrypt_assertions=encrypt)
    else:
        saml.register_sp_settings(
            str(settings["entity_id"]),
            settings["acs_url"],
            certificate_pem=settings.get("certificate_pem"),
            encrypt_assertions=encrypt,
            slo_url=settings.get("slo_url"),
            want_signed_requests=bool(settings.get("want_signed_requests", False)),
        )
