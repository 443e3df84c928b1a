"""Where the portal's stores and secrets come from when it runs as a service: command-line
flags, else the environment (the names below), else the demo's defaults.

    PORTAL_DB (or SSO_BRIDGE_DB)     sqlite:///FILE, postgresql://USER@HOST/DB, or a file path
    SSO_BRIDGE_EPHEMERAL             memory: (one process) or redis://HOST:PORT/DB (several)
    SSO_BRIDGE_KEY / _KEY_FILE       the blind-index key (hex); SQLite: <database>.key beside it
    PORTAL_SECRET / _SECRET_FILE     the broker secret (hex, 32 bytes or more), the same on
                                     every instance
    PORTAL_IDP_URL, PORTAL_BASE_URL  the state portal (IdP) and the portal's public address
    PORTAL_PROTOCOL                  oidc (default) or saml
    PORTAL_TRUSTED_PROXIES           comma-separated networks whose X-Forwarded-For is read
    PORTAL_SP_KEY_DIR                where the SAML signing key pair lives (made on first use)
    PORTAL_METRICS                   1: serve /auth/metrics (let the proxy refuse it outside)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from school_portal.portal import DEMO_SECRET, PortalSettings
from sso_bridge.errors import ConfigError
from sso_bridge.keyfile import KEY_ENV, parse_key, read_key_file, sqlite_path

__all__ = [
    "ENV_BASE_URL",
    "ENV_DB",
    "ENV_EPHEMERAL",
    "ENV_IDP_URL",
    "database_url",
    "secret_from",
    "settings_from_environment",
    "store_key_from",
]

ENV_DB: Final = "PORTAL_DB"
ENV_EPHEMERAL: Final = "SSO_BRIDGE_EPHEMERAL"
ENV_IDP_URL: Final = "PORTAL_IDP_URL"
ENV_BASE_URL: Final = "PORTAL_BASE_URL"
ENV_SECRET: Final = "PORTAL_SECRET"  # noqa: S105 - a variable name
KEY_FILE_ENV: Final = "SSO_BRIDGE_KEY_FILE"


def database_url(value: str) -> str:
    """A database URL as given, or a file path as a SQLite URL."""
    if "://" in value or value.startswith("sqlite:"):
        return value
    return f"sqlite:///{Path(value)}"


def store_key_from(url: str, env: Mapping[str, str]) -> bytes:
    """The blind-index key: ``SSO_BRIDGE_KEY``, ``SSO_BRIDGE_KEY_FILE``, or for SQLite the
    ``<database>.key`` file the seeding step wrote; ``config.key_missing`` otherwise."""
    if env.get(KEY_ENV):
        return parse_key(env[KEY_ENV], KEY_ENV)
    if env.get(KEY_FILE_ENV):
        return read_key_file(Path(env[KEY_FILE_ENV]))
    path = sqlite_path(url)
    if path is not None:
        return read_key_file(path.with_name(path.name + ".key"))
    raise ConfigError(
        f"set {KEY_ENV} or {KEY_FILE_ENV}: a server database needs its blind-index key",
        code="config.key_missing",
    )


def secret_from(env: Mapping[str, str], *, demo: bool) -> bytes:
    """The broker secret: ``PORTAL_SECRET`` (hex) or the file ``PORTAL_SECRET_FILE`` names;
    the public demo secret only when ``demo`` allows it."""
    text = env.get(ENV_SECRET)
    origin = ENV_SECRET
    if not text and env.get(f"{ENV_SECRET}_FILE"):
        origin = env[f"{ENV_SECRET}_FILE"]
        try:
            text = Path(origin).read_text(encoding="ascii")
        except OSError as exc:
            raise ConfigError(f"{origin}: {exc.strerror}", code="config.key_missing") from None
    if text:
        return parse_key(text, origin)
    if demo:
        return DEMO_SECRET
    raise ConfigError(
        f"set {ENV_SECRET} or {ENV_SECRET}_FILE: the broker secret of every instance",
        code="config.key_missing",
    )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set", code="config.invalid")
    return value


def settings_from_environment(env: Mapping[str, str] | None = None) -> PortalSettings:
    """The settings of one portal process, read from ``env`` (default: ``os.environ``).

    Nothing is seeded and no link is made here: the seeding step does that once.
    """
    env = os.environ if env is None else env
    url = database_url(env.get(ENV_DB) or env.get("SSO_BRIDGE_DB") or "build/demo.db")
    base_url = _required(env, ENV_BASE_URL)
    sp_dir = env.get("PORTAL_SP_KEY_DIR")
    proxies = tuple(p.strip() for p in env.get("PORTAL_TRUSTED_PROXIES", "").split(",") if p)
    db_path = sqlite_path(url)
    return PortalSettings(
        db_path=db_path,
        idp_url=_required(env, ENV_IDP_URL),
        base_url=base_url,
        protocol=env.get("PORTAL_PROTOCOL", "oidc"),
        # the public demo secret only for a demo on loopback over plain HTTP
        secret=secret_from(env, demo=base_url.startswith("http://127.0.0.1")),
        trusted_proxies=proxies,
        db_url=url,
        ephemeral_url=env.get(ENV_EPHEMERAL, "memory:"),
        store_key=store_key_from(url, env),
        sp_key_dir=Path(sp_dir) if sp_dir else None,
        link_demo_people=False,
        metrics=env.get("PORTAL_METRICS", "") in ("1", "yes", "true"),
    )
