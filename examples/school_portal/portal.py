"""The school portal: an electronic diary that signs people in through sso_bridge.

    portal = build_portal(PortalSettings(Path("build/demo.db"), idp_url, base_url))
    uvicorn.run(portal.app, proxy_headers=False)  # sso_bridge reads X-Forwarded-For itself

Everything sso_bridge needs is made here, once: the directory and credentials in the
demo's SQLite file or the database ``db_url`` names (PostgreSQL for several instances),
short-lived entries in the store ``ephemeral_url`` names (``memory:`` for one process,
Redis for several), the state portal as an OIDC client or a SAML service provider, the
broker and its auth pages under ``/auth``. The diary's own pages are in
:mod:`school_portal.views`; :mod:`school_portal.serve` runs the portal alone.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import attrs
import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.routing import Route

from school_portal import views
from school_portal.diary import GradeBook
from school_portal.seed import STORE_KEY, link_seeded, open_region
from sso_bridge.broker import (
    Broker,
    BrokerPolicy,
    OidcProvider,
    SamlProvider,
    SharedComputerMode,
)
from sso_bridge.clock import Clock, SystemClock
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.errors import ConfigError
from sso_bridge.mfa import CredentialStore, LocalPasswords, Message, OutboxSender
from sso_bridge.observe import Observe, instrument_engine
from sso_bridge.oidc import JwksCache, RelyingParty, StdlibHttpClient, discover
from sso_bridge.saml import ServiceProviderConfig
from sso_bridge.saml.requests import sp_metadata
from sso_bridge.sessions import CookieSettings, SessionPolicy
from sso_bridge.store import SqlStore, open_ephemeral_store
from sso_bridge.store.adapters import (
    EphemeralReplayCache,
    EphemeralRequestStore,
    EphemeralStateStore,
)
from sso_bridge.store.settings import RedisSettings
from sso_bridge.web import AuthRoutes, WebConfig
from sso_bridge.web.starlette import auth_routes

__all__ = [
    "DEMO_SECRET",
    "EchoSender",
    "Portal",
    "PortalSettings",
    "build_portal",
    "oidc_client_registration",
    "saml_sp_metadata",
]

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
LOCALE: Final = Path(__file__).resolve().parent / "locale"
DEMO_SECRET: Final = b"school-portal-demo-broker-secret"
"""The broker secret of the demo. Demo only: a real portal reads 32 random bytes from its
secret store, the same on every instance."""
CLIENT_ID: Final = "school-portal"
CLIENT_SECRET: Final = "school-portal-demo-secret"  # noqa: S105 - the demo client's, public
PROVIDER: Final = "esia"
SCOPES: Final = ("openid", "fullname", "birthdate", "snils")


@attrs.define
class PortalSettings:
    """Where the portal keeps its data, where it and the state portal (the IdP) live,
    and how long sessions last. ``echo`` sees every one-time code the portal sends.

    ``db_path`` is the demo's SQLite file; ``db_url`` names any database instead (then
    ``db_path`` may be None, and ``sp_key_dir`` keeps the SAML key pair). ``store_key`` is
    the blind-index key (the demo's public one unless given).
    """

    db_path: Path | None
    idp_url: str
    base_url: str
    protocol: str = "oidc"
    secret: bytes = DEMO_SECRET
    idle_timeout: timedelta = timedelta(minutes=30)
    absolute_lifetime: timedelta = timedelta(hours=8)
    trusted_proxies: tuple[str, ...] = ()
    shared_computer: bool = False
    """Shared-computer mode (docs/reauthentication.md): every login asks the state portal
    for the password again, and sessions last at most ``shared_session_minutes``."""
    shared_session_minutes: float = 20.0
    clock: Clock | None = None
    echo: Callable[[str], None] | None = None
    db_url: str | None = None
    ephemeral_url: str = "memory:"
    store_key: bytes = STORE_KEY
    sp_key_dir: Path | None = None
    link_demo_people: bool = True
    """Make the demo's links at start (the all-in-one demo); the seeding step does it when
    the portal runs as several processes."""
    metrics: bool = False
    """Serve ``/auth/metrics`` (the probes ``/auth/healthz`` and ``/auth/readyz`` always)."""

    @property
    def database_url(self) -> str:
        if self.db_url is not None:
            return self.db_url
        if self.db_path is None:
            raise ConfigError("the portal needs db_path or db_url", code="config.invalid")
        return f"sqlite:///{self.db_path}"

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url.rstrip('/')}/auth/callback/{PROVIDER}"

    @property
    def sp_entity_id(self) -> str:
        return f"{self.base_url.rstrip('/')}/auth/saml"

    @property
    def acs_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/auth/acs/{PROVIDER}"

    @property
    def idp_saml_entity_id(self) -> str:
        return f"{self.idp_url.rstrip('/')}/idp/shibboleth"

    @property
    def post_logout_redirect_uri(self) -> str:
        """Where the state portal sends the browser back after logging it out there."""
        return f"{self.base_url.rstrip('/')}/auth/logout/done/{PROVIDER}"

    @property
    def backchannel_logout_uri(self) -> str:
        """Where the state portal posts its logout tokens (OIDC Back-Channel Logout)."""
        return f"{self.base_url.rstrip('/')}/auth/backchannel-logout/{PROVIDER}"

    @property
    def slo_url(self) -> str:
        """The portal's SAML single logout endpoint."""
        return f"{self.base_url.rstrip('/')}/auth/slo/{PROVIDER}"

    @property
    def idp_issuer(self) -> str:
        """The issuer of the identities the IdP vouches for over :attr:`protocol` (the
        key of links): the OIDC issuer, or the SAML IdP's entity id."""
        if self.protocol == "saml":
            return self.idp_saml_entity_id
        return self.idp_url.rstrip("/") + "/"


class EchoSender(OutboxSender):
    """Keeps every message like :class:`OutboxSender` and shows it through ``echo``: the
    demo's stand-in for an SMS gateway."""

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.echo = echo

    def send(self, message: Message) -> None:
        super().send(message)
        if self.echo is not None:
            self.echo(f"portal {message.channel} to {message.destination}: {message.text}")


@attrs.define
class Portal:
    """The running portal: the ASGI ``app`` and the parts tests look into."""

    app: Starlette
    broker: Broker
    sender: OutboxSender
    store: SqlStore
    credentials: CredentialStore
    auth: AuthRoutes
    grades: GradeBook
    settings: PortalSettings
    clock: Clock


def oidc_client_registration(settings: PortalSettings) -> dict[str, Any]:
    """The portal as an OIDC client of the mock IdP (``MockIdP.add_client``)."""
    return {
        "client_id": CLIENT_ID,
        "secret": CLIENT_SECRET,
        "auth_method": "client_secret_basic",
        "redirect_uris": [settings.redirect_uri],
        "post_logout_redirect_uris": [settings.post_logout_redirect_uri],
        "backchannel_logout_uri": settings.backchannel_logout_uri,
    }


def _sp_signing_key(settings: PortalSettings) -> tuple[bytes, bytes]:
    """The portal's SAML signing key and certificate (PEM), kept beside the database so
    that its metadata stays the same across starts; made on first use. Demo only: a real
    portal's key comes from its secret store."""
    if settings.sp_key_dir is not None:
        key_path = settings.sp_key_dir / "sp-key.pem"
        certificate_path = settings.sp_key_dir / "sp-cert.pem"
    elif settings.db_path is not None:
        key_path = Path(f"{settings.db_path}.sp-key.pem")
        certificate_path = Path(f"{settings.db_path}.sp-cert.pem")
    else:
        raise ConfigError("a SAML portal needs sp_key_dir", code="config.invalid")
    if not (key_path.exists() and certificate_path.exists()):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "school portal (demo)")])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.unlink(missing_ok=True)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key_pem)
        certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path.read_bytes(), certificate_path.read_bytes()


def _saml_config(settings: PortalSettings, http: httpx.Client) -> ServiceProviderConfig:
    metadata = http.get(settings.idp_saml_entity_id)
    if metadata.status_code != 200:
        raise ConfigError(
            f"the IdP's SAML metadata answered HTTP {metadata.status_code}",
            code="config.invalid",
        )
    key_pem, certificate_pem = _sp_signing_key(settings)
    return ServiceProviderConfig.from_idp_metadata(
        metadata.text,
        entity_id=settings.sp_entity_id,
        acs_url=settings.acs_url,
        idp_entity_id=settings.idp_saml_entity_id,
        # single logout: the portal signs its LogoutRequests and answers the IdP's
        slo_url=settings.slo_url,
        signing_key_pem=key_pem,
        signing_certificate_pem=certificate_pem,
    )


def saml_sp_metadata(settings: PortalSettings) -> str:
    """The portal's SAML SP metadata, for ``MockIdP.add_service_provider({"metadata": ...})``."""
    with httpx.Client(timeout=10) as http:
        return sp_metadata(_saml_config(settings, http))


def _provider(
    settings: PortalSettings, clock: Clock, temp: EphemeralStore
) -> OidcProvider | SamlProvider:
    # every per-login entry lives in ``temp``, so that instances sharing it act as one
    if settings.protocol == "saml":
        with httpx.Client(timeout=10) as fetch:
            saml = _saml_config(settings, fetch)
        stores = (EphemeralRequestStore(temp, clock=clock), EphemeralReplayCache(temp))
        return SamlProvider(PROVIDER, saml, *stores, title="Госуслуги")
    if settings.protocol != "oidc":
        raise ConfigError("protocol must be 'oidc' or 'saml'", code="config.invalid")
    http = StdlibHttpClient(timeout=10)
    config = discover(
        http,
        settings.idp_url.rstrip("/") + "/",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=settings.redirect_uri,
        algorithms=("RS256",),
        scopes=SCOPES,
    )
    keys = JwksCache(http, config.jwks_uri, config.algorithms, clock=clock, store=temp)
    rp = RelyingParty(config, http, clock=clock, state_store=EphemeralStateStore(temp), jwks=keys)
    return OidcProvider(
        PROVIDER,
        rp,
        title="Госуслуги",
        post_logout_redirect_uri=settings.post_logout_redirect_uri,
    )


def _policy(settings: PortalSettings) -> BrokerPolicy:
    touch = min(timedelta(seconds=60), settings.idle_timeout / 2)
    sessions = SessionPolicy(
        absolute_lifetime=settings.absolute_lifetime,
        idle_timeout=settings.idle_timeout,
        touch_interval=touch,
    )
    shared = None
    if settings.shared_computer:
        lifetime = timedelta(minutes=settings.shared_session_minutes)
        shared = SharedComputerMode(session_lifetime=lifetime)
    return BrokerPolicy(sessions=sessions, shared_computer=shared)


def build_portal(settings: PortalSettings) -> Portal:
    """The portal over the seeded database of ``settings``, talking to the IdP at
    ``settings.idp_url`` (which must be up: its configuration is read now)."""
    clock = settings.clock or SystemClock()
    store, credentials = open_region(settings.database_url, settings.store_key)
    # timeouts from SSO_BRIDGE_REDIS_* (docs/storage.md), defaults otherwise
    temp = open_ephemeral_store(
        settings.ephemeral_url, redis_settings=RedisSettings.from_environment()
    )
    provider = _provider(settings, clock, temp)
    if settings.link_demo_people:
        # the demo's links name the IdP the portal really talks to, known only now
        link_seeded(store, provider.issuer, clock.now())
    sender = EchoSender(settings.echo)
    broker = Broker(
        directory=store,
        links=store,
        audit=store,
        store=temp,
        credentials=credentials,
        sender=sender,
        secret=settings.secret,
        providers=(provider,),
        policy=_policy(settings),
        clock=clock,
    )
    broker.passwords = LocalPasswords(credentials, lockout=timedelta(minutes=5))
    config = WebConfig(
        # plain-http cookies only for a portal served over http (the local demo); a portal
        # reachable over a network is served over HTTPS and keeps the default cookies
        cookies=CookieSettings(secure=settings.base_url.startswith("https://")),
        after_login="/diary",
        trusted_proxies=settings.trusted_proxies,
        site_name="Электронный дневник",
        template_dirs=(TEMPLATES,),
        # the diary's own texts, in every language of the pages
        locale_dirs=(LOCALE,),
        # the journal's grade form fills itself in with what an expired session kept
        restore_in_place=("/journal/",),
        # the header's account menu on sso_bridge's own pages (settings, authenticator app)
        template_globals={"account_menu": functools.partial(views.account_menu, store)},
    )
    observe = Observe(metrics_endpoint=settings.metrics)
    instrument_engine(store.engine, observe.metrics)
    mount = auth_routes(broker, config, observe=observe)
    app = Starlette(
        routes=[
            mount,
            Route("/", views.home),
            Route("/diary", views.diary),
            Route("/journal/{class_id}", views.journal, methods=["GET", "POST"]),
        ],
        exception_handlers={404: views.page_not_found, 405: views.method_not_allowed},
    )
    grades = GradeBook(store.engine)
    portal = Portal(app, broker, sender, store, credentials, mount.auth, grades, settings, clock)
    app.state.portal = portal
    return portal
