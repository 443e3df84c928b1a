"""A whole broker world in one process: the mock IdP (served in-process over its real HTTP
interface), a relying party and a service provider for it, the sample accounts in SQLite,
in-memory short-lived stores and credentials, and helpers that play the browser."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs
from starlette.testclient import TestClient

from helpers.accounts import KEY
from helpers.clock import FixedClock
from mock_idp.app import MockIdP, create_app
from sso_bridge.broker import (
    Broker,
    BrokerPolicy,
    Client,
    LoggedIn,
    OidcProvider,
    Redirect,
    SamlProvider,
    SecondFactorForm,
)
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.mfa import (
    InMemoryCredentialStore,
    OutboxSender,
    decode_secret,
    password_hasher,
    totp,
)
from sso_bridge.model import LocalAccount, Organisation
from sso_bridge.oidc import HttpxClient, RelyingParty, discover
from sso_bridge.saml import InMemoryReplayCache, InMemoryRequestStore, ServiceProviderConfig
from sso_bridge.saml.requests import sp_metadata
from sso_bridge.store import SqlStore, open_store
from sso_bridge.store.memory import InMemoryEphemeralStore

BASE = "http://idp.test"
SAML_IDP = BASE + "/idp/shibboleth"
CALLBACK = "https://school.test/auth/callback/esia"
SP_ENTITY = "https://school.test/auth/saml"
ACS = "https://school.test/auth/acs/esia-saml"
SAMPLE = Path(str(resources.files("mock_idp") / "sample.yaml"))
SECRET = bytes(range(100, 132))

MARIA = 1000000101
"""Confirmed ESIA account; her SNILS matches accounts in two schools."""
ANNA = 1000000103
"""Confirmed ESIA account; matches exactly one account."""
MARIA_SIMPLIFIED = 1000000107
"""A namesake with an unconfirmed (simplified) ESIA account."""

PASSWORDS = {1000000101: "parol-101", 1000000103: "parol-103", 1000000107: "parol-107"}
LOGINS = {
    1000000101: "+7 (900) 000-01-01",
    1000000103: "a.kuznetsova@example.org",
    1000000107: "+7 (900) 000-01-07",
}

TOTP_SECRETS = {1000000103: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}
"""People whose second factor at the mock IdP is an authenticator app."""

ORGS = (
    Organisation("sch1", "Школа № 1"),
    Organisation("sch2", "Школа № 2"),
    Organisation("club", "Клуб «Радуга»"),
)


def sample_accounts() -> list[LocalAccount]:
    maria = {
        "last_name": "Смирнова",
        "first_name": "Мария",
        "middle_name": "Петровна",
        "birth_date": date(1984, 3, 12),
    }
    return [
        LocalAccount("t-maria", "sch1", login="smirnova", roles=("teacher",), **maria),
        LocalAccount("p-maria", "sch2", login="smirnova.m", roles=("parent",), **maria),
        LocalAccount(
            "a-anna",
            "sch1",
            "Кузнецова",
            "Анна",
            "Сергеевна",
            login="kuznetsova",
            roles=("parent",),
            birth_date=date(1988, 2, 2),
        ),
        LocalAccount(
            "c-ivan",
            "club",
            "Иванов",
            "Иван",
            login="ivanov",
            roles=("pupil",),
            birth_date=date(2011, 5, 5),
        ),
    ]


LOCAL_PASSWORD = "school-pass-1"

CHEAP_HASHER = password_hasher(time_cost=1, memory_cost=8, parallelism=1)
"""Argon2id at its lowest cost: the broker's flows, not the hash, are under test."""


@attrs.define
class World:
    idp: MockIdP
    http: TestClient
    store: SqlStore
    ephemeral: EphemeralStore
    credentials: InMemoryCredentialStore
    sender: OutboxSender
    clock: FixedClock
    rp: RelyingParty
    saml: ServiceProviderConfig
    broker: Broker
    alerts: list[Any]

    def client(self, browser: str = "browser-1", ip: str = "10.0.0.5") -> Client:
        return Client(browser_id=browser, ip=ip, user_agent="pytest")

    def code_for(self, account_id: str) -> str:
        """The last one-time code sent to the account's phone."""
        phone = self.credentials.get(account_id)
        assert phone is not None and phone.phone is not None
        code = self.sender.last_code_for(phone.phone)
        assert code is not None
        return code

    def local_login(
        self, org_id: str, login: str, client: Client | None = None, password: str = LOCAL_PASSWORD
    ) -> LoggedIn:
        """A whole local login, second factor included."""
        client = client or self.client()
        form = self.broker.begin_local(client)
        result = self.broker.local_login(form.step_id, org_id, login, password, client)
        if isinstance(result, SecondFactorForm):
            account = self.store.find_by_login(org_id, login)
            assert account is not None
            result = self.broker.second_factor(
                result.step_id, self.code_for(account.account_id), client
            )
        assert isinstance(result, LoggedIn), result
        return result

    def link_admin(self, subject: int, account_id: str, issuer: str | None = None) -> None:
        """Link ``subject`` (of the OIDC IdP unless ``issuer``) as an administrator would."""
        admin = Linker(self.store, self.store, self.store, self.clock)
        ctx = RequestContext(actor="admin")
        admin.link_admin(issuer or self.idp.issuer, str(subject), account_id, ctx)

    def unlink_admin(self, subject: int, account_id: str) -> None:
        admin = Linker(self.store, self.store, self.store, self.clock)
        admin.unlink(self.idp.issuer, str(subject), account_id, RequestContext(actor="admin"))

    def broker_like(self, **changes: Any) -> Broker:
        """Another broker instance over the same stores (a second process)."""
        return make_broker(self, **changes)

    # -- playing the IdP ------------------------------------------------------------------

    def oidc_callback(
        self, redirect: Redirect, oid: int, *, second_factor: str = ""
    ) -> dict[str, str]:
        """The callback query as if ``oid`` had logged in at the IdP (``second_factor``:
        what the IdP reports in ``amr`` besides the password)."""
        query = dict(parse_qsl(urlsplit(redirect.url).query))
        code = self.idp.authorization_code(
            self.rp.config.client_id,
            oid,
            redirect_uri=query["redirect_uri"],
            nonce=query.get("nonce"),
            code_challenge=query["code_challenge"],
            scopes=self.rp.config.scopes,
            second_factor=second_factor,
        )
        return {"code": code, "state": query["state"], "iss": self.idp.issuer}

    def saml_post(self, redirect: Redirect, oid: int) -> dict[str, str]:
        """Log ``oid`` in through the IdP's pages; the form it posts to the ACS."""
        self.http.cookies.clear()  # each login is another browser at the IdP
        page = self.http.get(redirect.url.removeprefix(BASE))
        txn = re.search(r'name="txn" value="([^"]+)"', page.text)
        assert txn is not None, page.text
        form = {"txn": txn.group(1), "login": LOGINS[oid], "password": PASSWORDS[oid]}
        self.http.post("/login", data=form)
        if oid in TOTP_SECRETS:
            self.clock.advance(timedelta(seconds=30))  # the IdP accepts each step once
            key = decode_secret(TOTP_SECRETS[oid])
            code = totp(key, int(self.clock.now().timestamp()))
        else:
            code = self.idp.last_code()
        done = self.http.post("/login/code", data={"txn": txn.group(1), "code": code})
        assert done.status_code == 200, done.text
        return _form_fields(done.text)


def _form_fields(page: str) -> dict[str, str]:
    return {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'name="([^"]+)" value="([^"]*)"', page)
    }


def make_broker(world: World, **changes: Any) -> Broker:
    options: dict[str, Any] = {
        "directory": world.store,
        "links": world.store,
        "audit": world.store,
        "store": world.ephemeral,
        "credentials": world.credentials,
        "sender": world.sender,
        "secret": SECRET,
        "providers": (
            OidcProvider("esia", world.rp),
            SamlProvider("esia-saml", world.saml, InMemoryRequestStore(), InMemoryReplayCache()),
        ),
        "policy": BrokerPolicy(),
        "clock": world.clock,
        "alert": world.alerts.append,
        "password_hasher": CHEAP_HASHER,
    }
    options.update(changes)
    return Broker(**options)


def build_world(
    tmp: Path,
    *,
    accounts: Iterable[LocalAccount] | None = None,
    ephemeral: EphemeralStore | None = None,
    db_url: str | None = None,
    policy: BrokerPolicy | None = None,
    extra_mock_client: Mapping[str, Any] | None = None,
) -> World:
    clock = FixedClock()
    idp = MockIdP.from_config(SAMPLE, BASE)
    idp.provider.clock = clock  # the IdP's time moves with the broker's
    idp.saml.clock = clock
    http = TestClient(create_app(idp), base_url=BASE, follow_redirects=False)
    client = {
        "client_id": "school",
        "redirect_uris": [CALLBACK],
        "auth_method": "client_secret_basic",
        "secret": "school-secret",
        "id_token_alg": "RS256",
        **(extra_mock_client or {}),
    }
    idp.add_client(client)
    transport = HttpxClient(http)
    config = discover(
        transport,
        idp.issuer,
        client_id="school",
        redirect_uri=CALLBACK,
        algorithms=("RS256",),
        client_secret="school-secret",
        scopes=("openid", "fullname", "birthdate", "snils"),
    )
    rp = RelyingParty(config, transport, clock=clock)
    saml = ServiceProviderConfig.from_idp_metadata(
        http.get("/idp/shibboleth").text,
        entity_id=SP_ENTITY,
        acs_url=ACS,
        idp_entity_id=SAML_IDP,
    )
    idp.add_service_provider({"metadata": sp_metadata(saml)})
    store = open_store(db_url or f"sqlite:///{tmp / 'broker.db'}", KEY)
    store.import_accounts(list(accounts if accounts is not None else sample_accounts()), ORGS)
    world = World(
        idp=idp,
        http=http,
        store=store,
        ephemeral=ephemeral if ephemeral is not None else InMemoryEphemeralStore(),
        credentials=InMemoryCredentialStore(),
        sender=OutboxSender(),
        clock=clock,
        rp=rp,
        saml=saml,
        broker=None,  # type: ignore[arg-type]
        alerts=[],
    )
    world.broker = make_broker(world, policy=policy or BrokerPolicy())
    for number, account in enumerate(accounts if accounts is not None else sample_accounts()):
        world.broker.passwords.set_password(account.account_id, LOCAL_PASSWORD, clock.now())
        world.credentials.set_contacts(account.account_id, phone=phone_of(number))
    return world


def phone_of(number: int) -> str:
    return f"+7 (900) 100-00-{number:02d}"
