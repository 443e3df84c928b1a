import os

from sso_bridge.broker import Broker, OidcProvider
from sso_bridge.mfa import OutboxSender
from sso_bridge.oidc import JwksCache, RelyingParty, StdlibHttpClient, discover
from sso_bridge.store import DatabaseSettings, RedisSettings, open_ephemeral_store, open_store
from sso_bridge.store.adapters import EphemeralStateStore
from sso_bridge.store.sql_credentials import SqlCredentialStore

SCOPES = ("openid", "fullname", "birthdate", "snils")  # what matching an account needs


def broker() -> Broker:  # named in settings.SSO_BRIDGE; called on the first request
    env, http, key = os.environ, StdlibHttpClient(), bytes.fromhex(os.environ["BRIDGE_KEY"])
    # the stores' timeouts and pool sizes: SSO_BRIDGE_DB_*, SSO_BRIDGE_REDIS_* (docs/storage.md)
    sql_cfg, redis_cfg = DatabaseSettings.from_environment(env), RedisSettings.from_environment(env)
    db = open_store(env["BRIDGE_DB"], key, settings=sql_cfg)  # `sso-bridge accounts import`
    temp = open_ephemeral_store(env["BRIDGE_EPHEMERAL"], redis_settings=redis_cfg)  # redis://
    client = {"client_id": env["ESIA_CLIENT"], "client_secret": env["ESIA_SECRET"]}
    callback = env["SITE"] + "/auth/callback/esia"
    rp = discover(http, env["ESIA"], redirect_uri=callback, scopes=SCOPES, **client)
    jwks = JwksCache(http, rp.jwks_uri, rp.algorithms, store=temp)  # one fetch for all processes
    state = EphemeralStateStore(temp)  # each OIDC state used once, whichever process sees it
    esia = OidcProvider("esia", RelyingParty(rp, http, state_store=state, jwks=jwks))
    sql = {"directory": db, "links": db, "audit": db}  # one database serves these three ports
    creds, sms = SqlCredentialStore(db.engine, key), OutboxSender()  # your SMS gateway here
    return Broker(**sql, store=temp, credentials=creds, sender=sms, secret=key, providers=[esia])
