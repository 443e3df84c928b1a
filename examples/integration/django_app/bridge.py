import os

from sso_bridge.broker import Broker, OidcProvider
from sso_bridge.mfa import OutboxSender
from sso_bridge.oidc import HttpxClient, RelyingParty, discover
from sso_bridge.store import open_ephemeral_store, open_store
from sso_bridge.store.sql_credentials import SqlCredentialStore


def broker() -> Broker:  # named in settings.SSO_BRIDGE; called on the first request
    env, http, key = os.environ, HttpxClient(), bytes.fromhex(os.environ["BRIDGE_KEY"])
    db = open_store(env["BRIDGE_DB"], key)  # local accounts: `sso-bridge accounts import`
    client = {"client_id": env["ESIA_CLIENT"], "client_secret": env["ESIA_SECRET"]}
    rp = discover(http, env["ESIA"], redirect_uri=env["SITE"] + "/auth/callback/esia", **client)
    esia = OidcProvider("esia", RelyingParty(rp, http))
    sql = {"directory": db, "links": db, "audit": db}  # one database serves these three ports
    temp = open_ephemeral_store(env["BRIDGE_EPHEMERAL"])  # redis://... for several processes
    creds, sms = SqlCredentialStore(db.engine, key), OutboxSender()  # your SMS gateway here
    return Broker(**sql, store=temp, credentials=creds, sender=sms, secret=key, providers=[esia])
