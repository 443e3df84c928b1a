"""The broker's login contenders of bench/broker.py, each a harness whose ``once()`` is one
login and returns the CPU seconds the broker spent on it.

* :class:`HttpLogin`: OIDC against mock_idp over its real HTTP interface, the IdP in a child
  process (its work neither counts nor shares this interpreter).
* :class:`OidcLogin`: the same login with the IdP's answers served in process: token,
  userinfo and JWKS are answered by mock_idp's own code (its real keys sign the tokens)
  through an HTTP client that calls it directly; the CPU of those calls is the IdP's and is
  taken out.
* :class:`SamlLogin`: a SAML login against mock_idp's SAML IdP in process: the AuthnRequest
  is read and the Response (RSA-2048, Response and Assertion both signed) built by the IdP
  between the broker's two calls, outside the timed region.

The broker's login is ``begin_federated`` then ``finish`` for a person whose account is
already linked: state machine, relying party or SAML checks, links lookup, session, audit
records (SQLite through the store of :func:`sso_bridge.store.open_store`).
"""

from __future__ import annotations

import inspect
import itertools
import json
import multiprocessing
import time
from collections.abc import Callable, Mapping
from datetime import date
from importlib import resources
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mock_idp.control import MockIdP
from mock_idp.server import RunningIdP, free_port
from sso_bridge.broker import (
    Broker,
    ChooseAccount,
    Client,
    LoggedIn,
    OidcProvider,
    SamlProvider,
)
from sso_bridge.linking import RequestContext
from sso_bridge.mfa import InMemoryCredentialStore, OutboxSender
from sso_bridge.model import LocalAccount, Organisation
from sso_bridge.oidc import HttpResponse, RelyingParty, StdlibHttpClient, discover
from sso_bridge.saml import InMemoryReplayCache, InMemoryRequestStore, ServiceProviderConfig
from sso_bridge.saml.requests import sp_metadata
from sso_bridge.store import open_store
from sso_bridge.store.memory import InMemoryEphemeralStore

SAMPLE = Path(str(resources.files("mock_idp") / "sample.yaml"))
BASE = "http://idp.bench"
CALLBACK = "https://school.bench/auth/callback/esia"
SP_ENTITY = "https://school.bench/auth/saml"
ACS = "https://school.bench/auth/acs/esia-saml"
SECRET = bytes(range(64, 96))
KEY = bytes(range(32))
ANNA = 1000000103
SCOPES = ("openid", "fullname", "birthdate", "snils")
MOCK_CLIENT = {
    "client_id": "school",
    "redirect_uris": [CALLBACK],
    "auth_method": "client_secret_basic",
    "secret": "school-secret",
    "id_token_alg": "RS256",
}
_LOGINS = itertools.count()


def _client() -> Client:
    """The browser of the next login, each from its own address: the broker allows 600
    IdP logins per address in 5 minutes, and a run makes more (the counter still runs)."""
    n = next(_LOGINS)
    return Client(browser_id="bench-browser", ip=f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}")


class StoreClock:
    """Counts the CPU this thread spends in the public methods of ``store`` (a call made
    from within another is counted once): the SQL share of a login."""

    def __init__(self, store: Any) -> None:
        self.cpu = 0.0
        self._depth = 0
        for name in dir(type(store)):
            if not name.startswith("_") and inspect.isfunction(getattr(type(store), name)):
                setattr(store, name, self._timed(getattr(store, name)))

    def _timed(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            start = time.thread_time()
            try:
                return method(*args, **kwargs)
            finally:
                self._depth -= 1
                if not self._depth:
                    self.cpu += time.thread_time() - start

        return timed


def make_broker(
    db: Path, providers: tuple[Any, ...], links: tuple[tuple[str, str], ...]
) -> tuple[Broker, StoreClock]:
    """A broker over SQLite at ``db`` with Anna's account, linked to each (issuer, subject),
    and the clock of its SQL store."""
    store = open_store(f"sqlite:///{db}", KEY)
    account = LocalAccount(
        "a-anna",
        "sch1",
        "Кузнецова",
        "Анна",
        "Сергеевна",
        login="kuznetsova",
        roles=("parent",),
        birth_date=date(1988, 2, 2),
    )
    store.import_accounts([account], [Organisation("sch1", "Школа № 1")])
    broker = Broker(
        directory=store,
        links=store,
        audit=store,
        store=InMemoryEphemeralStore(),
        credentials=InMemoryCredentialStore(),
        sender=OutboxSender(),
        secret=SECRET,
        providers=providers,
    )
    for issuer, subject in links:
        broker._linker.link_admin(issuer, subject, "a-anna", RequestContext(actor="bench"))
    return broker, StoreClock(store)


def _logged_in(result: object) -> None:
    if not isinstance(result, LoggedIn):
        raise SystemExit(f"the login did not end in a session: {result!r}")


# -- OIDC over loopback HTTP ------------------------------------------------------------------


def _serve_idp(conn: Connection, port: int) -> None:
    """The mock IdP in its own process: HTTP on ``port``, codes minted on request."""
    running = RunningIdP(SAMPLE, port=port).start()
    running.idp.add_client(dict(MOCK_CLIENT))
    conn.send(running.idp.issuer)
    while (asked := conn.recv()) is not None:
        conn.send(running.idp.authorization_code("school", ANNA, **asked))
    running.stop()


def _code_request(redirect_url: str, scopes: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    query = dict(parse_qsl(urlsplit(redirect_url).query))
    asked = {
        "redirect_uri": query["redirect_uri"],
        "nonce": query.get("nonce"),
        "code_challenge": query["code_challenge"],
        "scopes": scopes,
        "second_factor": "sms",
    }
    return asked, query["state"]


class HttpLogin:
    """OIDC login; the IdP in a child process answers over loopback HTTP."""

    def __init__(self, tmp: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_idp, args=(child, free_port()), daemon=True)
        self._process.start()
        self.issuer = self._conn.recv()
        http = StdlibHttpClient(timeout=10)
        config = discover(
            http,
            self.issuer,
            client_id="school",
            redirect_uri=CALLBACK,
            algorithms=("RS256",),
            client_secret="school-secret",
            scopes=SCOPES,
        )
        self.rp = RelyingParty(config, http)
        self.broker, self.store = make_broker(
            tmp / "http.db", (OidcProvider("esia", self.rp),), ((self.issuer, str(ANNA)),)
        )
        self.store_cpu: list[float] = []
        """The CPU of each login spent in the SQL store, in order."""

    def close(self) -> None:
        self._conn.send(None)
        self._process.join(10)

    def once(self) -> float:
        client = _client()
        self.store.cpu = 0.0
        start = time.thread_time()
        redirect = self.broker.begin_federated("esia", client)
        middle = time.thread_time()
        asked, state = _code_request(redirect.url, self.rp.config.scopes)
        self._conn.send(asked)
        code = self._conn.recv()
        resume = time.thread_time()
        result = self.broker.finish(
            "esia", {"code": code, "state": state, "iss": self.issuer}, client
        )
        end = time.thread_time()
        _logged_in(result)
        self.store_cpu.append(self.store.cpu)
        return (middle - start) + (end - resume)


# -- OIDC with the IdP's answers served in process --------------------------------------------


def _json(body: object, status: int = 200) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(body).encode())


class IdpInProcess:
    """An :class:`~sso_bridge.oidc.HttpClient` answered by mock_idp's own code, without
    HTTP; ``idp_cpu`` is the CPU this thread spent in the IdP (to be taken out)."""

    def __init__(self, idp: MockIdP) -> None:
        self._idp = idp
        self.idp_cpu = 0.0

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpResponse:
        start = time.thread_time()
        try:
            path = url.removeprefix(self._idp.base_url)
            provider = self._idp.provider
            if path == "/.well-known/openid-configuration":
                return _json(self._idp.discovery())
            if path == "/jwks":
                return _json(provider.keys.jwks())
            if path == "/userinfo":
                access = provider.access(_header(headers, "authorization"))
                return _json(provider.userinfo(access))
            return HttpResponse(404)
        finally:
            self.idp_cpu += time.thread_time() - start

    def post(
        self, url: str, *, data: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        start = time.thread_time()
        try:
            if url != self._idp.discovery()["token_endpoint"]:
                return HttpResponse(404)
            provider = self._idp.provider
            client = provider.authenticate_client(
                dict(data), _header(headers, "authorization"), url
            )
            return _json(provider.exchange_code(client, dict(data)))
        finally:
            self.idp_cpu += time.thread_time() - start


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


class OidcLogin:
    """OIDC login; token, userinfo and JWKS answered in process, the IdP's CPU left out."""

    def __init__(self, tmp: Path) -> None:
        self.idp = MockIdP.from_config(SAMPLE, BASE)
        self.idp.add_client(dict(MOCK_CLIENT))
        self.http = IdpInProcess(self.idp)
        config = discover(
            self.http,
            self.idp.issuer,
            client_id="school",
            redirect_uri=CALLBACK,
            algorithms=("RS256",),
            client_secret="school-secret",
            scopes=SCOPES,
        )
        self.rp = RelyingParty(config, self.http)
        self.broker, self.store = make_broker(
            tmp / "oidc.db", (OidcProvider("esia", self.rp),), ((self.idp.issuer, str(ANNA)),)
        )
        self.store_cpu: list[float] = []
        """The CPU of each login spent in the SQL store, in order."""

    def once(self) -> float:
        self.http.idp_cpu = 0.0
        client = _client()
        self.store.cpu = 0.0
        start = time.thread_time()
        redirect = self.broker.begin_federated("esia", client)
        middle = time.thread_time()
        asked, state = _code_request(redirect.url, self.rp.config.scopes)
        code = self.idp.authorization_code("school", ANNA, **asked)
        params = {"code": code, "state": state, "iss": self.idp.issuer}
        resume = time.thread_time()
        result = self.broker.finish("esia", params, client)
        end = time.thread_time()
        _logged_in(result)
        self.store_cpu.append(self.store.cpu)
        return (middle - start) + (end - resume) - self.http.idp_cpu


# -- SAML, the IdP in process ------------------------------------------------------------------


def saml_response(idp: MockIdP, redirect_url: str) -> dict[str, str]:
    """The IdP's signed Response to the AuthnRequest in ``redirect_url``: Anna logged in."""
    query = urlsplit(redirect_url).query
    info = idp.saml.parse_authn_request("redirect", dict(parse_qsl(query)), query_string=query)
    person = idp.provider.people.get(ANNA)
    if person is None:
        raise SystemExit("the sample people have no Anna")
    return dict(idp.saml.login_response(info, person).fields)


class SamlLogin:
    """SAML login (HTTP-Redirect request, HTTP-POST response) against mock_idp in process."""

    def __init__(self, tmp: Path) -> None:
        self.idp = MockIdP.from_config(SAMPLE, BASE)
        config = ServiceProviderConfig.from_idp_metadata(
            self.idp.saml.metadata(),
            entity_id=SP_ENTITY,
            acs_url=ACS,
            idp_entity_id=self.idp.saml.entity_id,
        )
        self.idp.saml.register_sp(sp_metadata(config))
        provider = SamlProvider("esia-saml", config, InMemoryRequestStore(), InMemoryReplayCache())
        self.broker, self.store = make_broker(
            tmp / "saml.db", (provider,), ((config.idp_entity_id, str(ANNA)),)
        )
        self.store_cpu: list[float] = []
        """The CPU of each login spent in the SQL store, in order."""
        self.finish_cpu: list[float] = []
        """The CPU of each ``finish`` alone (the broker's ACS), in order."""

    def once(self) -> float:
        client = _client()
        self.store.cpu = 0.0
        start = time.thread_time()
        redirect = self.broker.begin_federated("esia-saml", client)
        middle = time.thread_time()
        form = saml_response(self.idp, redirect.url)
        resume = time.thread_time()
        result = self.broker.finish("esia-saml", form, client)
        end = time.thread_time()
        _logged_in(result)
        self.store_cpu.append(self.store.cpu)
        self.finish_cpu.append(end - resume)
        return (middle - start) + (end - resume)


# -- every account at every login: a linked login with and without an unlinked candidate -----

MARIA = 1000000101
"""Her SNILS is on two parent accounts here: one linked, the other an unlinked candidate."""


class OfferLogin(OidcLogin):
    """:class:`OidcLogin` for Anna (one linked account, no other candidate) or Maria (one
    linked account and an unlinked candidate: the chooser, then her linked account)."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        maria = {"last_name": "Смирнова", "first_name": "Мария", "middle_name": "Петровна"}
        born, snils = date(1984, 3, 12), "123-456-789 64"
        self.broker.directory.import_accounts(  # type: ignore[attr-defined]
            [
                LocalAccount("p-maria-1", "sch1", login="smirnova", roles=("parent",),
                             birth_date=born, snils=snils, **maria),
                LocalAccount("p-maria-2", "sch2", login="smirnova.m", roles=("parent",),
                             birth_date=born, snils=snils, **maria),
            ],
            [Organisation("sch2", "Школа № 2")],
        )  # fmt: skip
        admin = RequestContext(actor="bench")
        self.broker._linker.link_admin(self.idp.issuer, str(MARIA), "p-maria-1", admin)

    def once_of(self, oid: int, pick: str) -> float:
        """One login of ``oid``, through the chooser to ``pick`` when it is shown."""
        self.http.idp_cpu = 0.0
        client = _client()
        start = time.thread_time()
        redirect = self.broker.begin_federated("esia", client)
        middle = time.thread_time()
        asked, state = _code_request(redirect.url, self.rp.config.scopes)
        code = self.idp.authorization_code("school", oid, **asked)
        resume = time.thread_time()
        params = {"code": code, "state": state, "iss": self.idp.issuer}
        result = self.broker.finish("esia", params, client)
        if isinstance(result, ChooseAccount):
            result = self.broker.choose(result.step_id, pick, client)
        end = time.thread_time()
        _logged_in(result)
        return (middle - start) + (end - resume) - self.http.idp_cpu
