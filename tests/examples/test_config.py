"""The portal's settings as a service reads them: URLs or file paths, keys and secrets
from the environment, and a one-line error with a stable code for what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from school_portal.config import database_url, secret_from, settings_from_environment
from school_portal.portal import DEMO_SECRET

from sso_bridge.errors import ConfigError

BASE = {
    "PORTAL_IDP_URL": "http://idp.school.test:8100",
    "PORTAL_BASE_URL": "https://portal.school.test",
    "SSO_BRIDGE_KEY": "5a" * 32,
    "PORTAL_SECRET": "6b" * 32,
}


def test_a_file_path_is_a_sqlite_url_and_a_url_stays_as_it_is() -> None:
    assert database_url("build/demo.db") == "sqlite:///build/demo.db"
    assert database_url("postgresql://portal@db/portal") == "postgresql://portal@db/portal"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_the_environment_names_the_stores_the_keys_and_the_proxies() -> None:
    env = {
        **BASE,
        "PORTAL_DB": "postgresql://portal@db/portal",
        "SSO_BRIDGE_EPHEMERAL": "redis://redis:6379/0",
        "PORTAL_TRUSTED_PROXIES": "172.28.0.10/32, 10.0.0.0/8",
        "PORTAL_METRICS": "1",
        "PORTAL_SP_KEY_DIR": "/var/lib/portal/sp",
    }
    settings = settings_from_environment(env)
    assert settings.database_url == "postgresql://portal@db/portal"
    assert settings.db_path is None
    assert settings.ephemeral_url == "redis://redis:6379/0"
    assert settings.store_key == bytes.fromhex("5a" * 32)
    assert settings.secret == bytes.fromhex("6b" * 32)
    assert settings.trusted_proxies == ("172.28.0.10/32", "10.0.0.0/8")
    assert settings.metrics is True
    assert settings.sp_key_dir == Path("/var/lib/portal/sp")
    assert settings.link_demo_people is False  # the seeding step links, once


def test_a_server_database_without_its_key_is_refused() -> None:
    env = {k: v for k, v in BASE.items() if k != "SSO_BRIDGE_KEY"}
    with pytest.raises(ConfigError) as refused:
        settings_from_environment({**env, "PORTAL_DB": "postgresql://portal@db/portal"})
    assert refused.value.code == "config.key_missing"


def test_the_key_file_and_the_secret_file_are_read(tmp_path: Path) -> None:
    (tmp_path / "bridge.key").write_text("7c" * 32 + "\n")
    (tmp_path / "secret").write_text("8d" * 32 + "\n")
    env = {k: v for k, v in BASE.items() if k not in ("SSO_BRIDGE_KEY", "PORTAL_SECRET")}
    env |= {
        "PORTAL_DB": "postgresql://portal@db/portal",
        "SSO_BRIDGE_KEY_FILE": str(tmp_path / "bridge.key"),
        "PORTAL_SECRET_FILE": str(tmp_path / "secret"),
    }
    settings = settings_from_environment(env)
    assert settings.store_key == bytes.fromhex("7c" * 32)
    assert settings.secret == bytes.fromhex("8d" * 32)


def test_the_public_demo_secret_serves_only_a_loopback_demo() -> None:
    assert secret_from({}, demo=True) == DEMO_SECRET
    env = {k: v for k, v in BASE.items() if k != "PORTAL_SECRET"}
    with pytest.raises(ConfigError) as refused:
        settings_from_environment({**env, "PORTAL_DB": "postgresql://portal@db/portal"})
    assert refused.value.code == "config.key_missing"
    with pytest.raises(ConfigError) as short:
        secret_from({"PORTAL_SECRET": "ab" * 8}, demo=False)
    assert short.value.code == "config.bad_key"


def test_the_addresses_must_be_given() -> None:
    env = {k: v for k, v in BASE.items() if k != "PORTAL_BASE_URL"}
    with pytest.raises(ConfigError) as refused:
        settings_from_environment({**env, "PORTAL_DB": "postgresql://portal@db/portal"})
    assert refused.value.code == "config.invalid"
    assert "PORTAL_BASE_URL" in refused.value.message
