import os

import flask

from sso_bridge.broker import Broker, OidcProvider
from sso_bridge.mfa import OutboxSender
from sso_bridge.oidc import JwksCache, RelyingParty, StdlibHttpClient, discover
from sso_bridge.store import DatabaseSettings, RedisSettings, open_ephemeral_store, open_store
from sso_bridge.store.adapters import EphemeralStateStore
from sso_bridge.store.sql_credentials import SqlCredentialStore
from sso_bridge.web import WebConfig
from sso_bridge.web.flask import SsoBridge, require_session

env, http, key = os.environ, StdlibHttpClient(), bytes.fromhex(os.environ["BRIDGE_KEY"])
# the stores' timeouts and pool sizes: SSO_BRIDGE_DB_* and SSO_BRIDGE_REDIS_* (docs/storage.md)
sql_cfg, redis_cfg = DatabaseSettings.from_environment(env), RedisSettings.from_environment(env)
db = open_store(env["BRIDGE_DB"], key, settings=sql_cfg)  # accounts: `sso-bridge accounts import`
temp = open_ephemeral_store(env["BRIDGE_EPHEMERAL"], redis_settings=redis_cfg)  # redis://... shared
scopes = ("openid", "fullname", "birthdate", "snils")  # what matching an account needs
client = {"client_id": env["ESIA_CLIENT"], "client_secret": env["ESIA_SECRET"], "scopes": scopes}
rp = discover(http, env["ESIA"], redirect_uri=env["SITE"] + "/auth/callback/esia", **client)
jwks = JwksCache(http, rp.jwks_uri, rp.algorithms, store=temp)  # one fetch for all processes
esia = OidcProvider(
    "esia", RelyingParty(rp, http, state_store=EphemeralStateStore(temp), jwks=jwks)
)
sql = {"directory": db, "links": db, "audit": db}  # one database serves these three ports
creds, sms = SqlCredentialStore(db.engine, key), OutboxSender()  # put your SMS gateway here
broker = Broker(**sql, store=temp, credentials=creds, sender=sms, secret=key, providers=[esia])
app = flask.Flask(__name__)
proxies = env.get("TRUSTED_PROXIES", "").split()  # a balancer that sets X-Forwarded-For
SsoBridge(app, broker=broker, config=WebConfig(site_name="Школа № 17", trusted_proxies=proxies))


@app.route("/grades", methods=["GET", "POST"])
@require_session
def grades() -> str:
    return f"{flask.g.sso_session.account_id}, form token {flask.g.sso_csrf_token}"


if __name__ == "__main__":
    # development only; in production a WSGI server (gunicorn) without werkzeug's ProxyFix:
    # sso_bridge reads X-Forwarded-For itself, only from WebConfig(trusted_proxies=[...])
    app.run(host="127.0.0.1", port=8000)
