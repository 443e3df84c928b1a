"""The cluster of the load and fault runs: a synthetic region in the mock IdP and in a
dedicated PostgreSQL database, two instances of the FastAPI integration example (each its
own process) on PostgreSQL and Redis through fault proxies, and a way to take it down.

Shared by ``bench/load.py`` and ``tests/ops``: what differs is only the size of the region
and the store timeouts.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import redis
import sqlalchemy as sa

from helpers.fault_proxy import FaultProxy
from mock_idp.region import generate_directory
from mock_idp.server import free_port
from mock_idp.users import person_from_dict
from sso_bridge.mfa.otp import encode_secret, new_secret

__all__ = ["POSTGRES_ENV", "REDIS_ENV", "Cluster", "LoadPerson", "make_region"]

POSTGRES_ENV = "SSO_BRIDGE_TEST_POSTGRES"
REDIS_ENV = "SSO_BRIDGE_TEST_REDIS"
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SITE = "http://site.test"
"""The one address of the site: the client's balancer sends each request to an instance."""
CLIENT_ID, CLIENT_SECRET = "load-portal", "load-portal-secret"
KEY_HEX = "5e" * 32


@dataclass(frozen=True)
class LoadPerson:
    """A person the mock IdP knows: ESIA login, password and authenticator secret."""

    oid: int
    login: str
    password: str
    totp_secret: str
    accounts: int


def _gender(middle: str) -> str:
    return "F" if middle.endswith(("на", "зы")) else "M"


def _acceptable(person: dict[str, Any]) -> bool:
    """Whether the mock IdP takes ``person`` (it refuses, say, a SNILS with bad digits)."""
    try:
        person_from_dict(person)
    except Exception:
        return False
    return True


def make_region(work: Path, people: int, accounts: int, seed: int = 20) -> list[LoadPerson]:
    """Write ``accounts.csv`` (``accounts`` school accounts) and ``idp.json`` (``people`` of
    their owners, with a SNILS, as ESIA people with logins) into ``work``."""
    directory = generate_directory(
        random.Random(seed),  # noqa: S311 - a seeded region
        accounts,
        work / "accounts.csv",
    )
    rng = random.Random(seed + 1)  # noqa: S311
    # staff accounts need the site's own second factor: people without one log in by ESIA alone
    candidates = [p for p in directory.people if p.snils and p.accounts and p.group != "staff"]
    rng.shuffle(candidates)
    users: list[dict[str, Any]] = []
    chosen: list[LoadPerson] = []
    for person in candidates:
        if len(chosen) == people:
            break
        oid = 1_200_000_000 + len(chosen)
        login, password = f"p{oid}@load.test", f"pw-{oid}"
        secret = encode_secret(new_secret())
        data = {
            "oid": oid,
            "login": login,
            "password": password,
            "last_name": person.last,
            "first_name": person.first,
            "middle_name": person.middle or None,
            "birth_date": person.birth.strftime("%d.%m.%Y"),
            "gender": _gender(person.middle),
            "snils": person.snils,
            "second_factor": "totp",
            "totp_secret": secret,
        }
        if not _acceptable(data):
            continue
        users.append(data)
        chosen.append(LoadPerson(oid, login, password, secret, len(person.accounts)))
    redirect = f"{SITE}/auth/callback/esia"
    client = {"client_id": CLIENT_ID, "secret": CLIENT_SECRET, "redirect_uris": [redirect]}
    client["auth_method"] = "client_secret_basic"
    (work / "idp.json").write_text(json.dumps({"users": users, "clients": [client]}))
    return chosen


def _wait(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing answered at {url}")
        time.sleep(0.1)


@dataclass
class Instance:
    """One process of the example, on its own port."""

    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    started: list[float] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """User + system CPU of the process so far (/proc/PID/stat)."""
        if self.process is None or self.process.poll() is not None:
            return 0.0
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Cluster:
    """Everything a load or fault run needs, started by :meth:`start`, removed by
    :meth:`stop` (the database dropped, the Redis database flushed); a context manager.

    ``store_timeout`` (seconds) is the configured timeout: what a request of an instance
    waits for the database at most, ``statement_timeout + answer_margin`` (docs/storage.md),
    and for Redis; ``redis_db`` the Redis database number it owns for the run.
    """

    def __init__(
        self,
        work: Path,
        people: list[LoadPerson],
        *,
        instances: int = 2,
        store_timeout: float = 2.0,
        redis_db: int = 13,
        app: str = "helpers.load_app:app",
    ) -> None:
        self.work = work
        self.people = people
        self.store_timeout = store_timeout
        self.app = app
        pg_base = os.environ.get(POSTGRES_ENV) or "postgresql://postgres@127.0.0.1:5432/test"
        self._pg = sa.engine.make_url(pg_base.replace("postgresql+psycopg://", "postgresql://"))
        redis_base = os.environ.get(REDIS_ENV) or "redis://127.0.0.1:6379/0"
        # the URL's own database number would win over a db= argument: replace it
        parts = urlsplit(redis_base)
        self._redis = redis.Redis.from_url(urlunsplit(parts._replace(path=f"/{redis_db}")))
        self.redis_db = redis_db
        self.database = "sso_load_" + secrets.token_hex(4)
        self.postgres = FaultProxy(self._pg.host or "127.0.0.1", self._pg.port or 5432)
        pool = self._redis.connection_pool.connection_kwargs
        self.redis = FaultProxy(str(pool.get("host", "127.0.0.1")), int(pool.get("port", 6379)))
        self.instances = [
            Instance(free_port(), work / f"instance-{i}.log") for i in range(instances)
        ]
        self.idp_port = free_port()
        self._idp: subprocess.Popen[bytes] | None = None

    # -- addresses --------------------------------------------------------------------------

    @property
    def idp_url(self) -> str:
        return f"http://127.0.0.1:{self.idp_port}"

    def direct_db_url(self) -> str:
        """The run's database, not through the proxy (for setup and checks)."""
        url = self._pg.set(database=self.database, drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)

    def proxied_db_url(self) -> str:
        url = self._pg.set(
            database=self.database, drivername="postgresql+psycopg", host="127.0.0.1"
        )
        return url.set(port=self.postgres.port).render_as_string(hide_password=False)

    def redis_client(self) -> redis.Redis:
        return self._redis

    def instance_env(self) -> dict[str, str]:
        """The environment of an instance: the example's variables and the timeouts."""
        timeout = self.store_timeout
        margin = min(0.5, timeout / 2)
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT / "examples")]),
            "BRIDGE_KEY": KEY_HEX,
            "BRIDGE_DB": self.proxied_db_url(),
            "BRIDGE_EPHEMERAL": f"redis://127.0.0.1:{self.redis.port}/{self.redis_db}",
            "ESIA": self.idp_url + "/",
            "ESIA_CLIENT": CLIENT_ID,
            "ESIA_SECRET": CLIENT_SECRET,
            "SITE": SITE,
            "TRUSTED_PROXIES": "127.0.0.1/32",  # the client's balancer: X-Forwarded-For
            # the store timeouts, read by sso_bridge.store.settings: a request waits for
            # the database statement_timeout + answer_margin at most
            "SSO_BRIDGE_DB_CONNECT_TIMEOUT": f"{timeout:g}",
            "SSO_BRIDGE_DB_STATEMENT_TIMEOUT": f"{timeout - margin:g}",
            "SSO_BRIDGE_DB_ANSWER_MARGIN": f"{margin:g}",
            "SSO_BRIDGE_DB_POOL_TIMEOUT": f"{timeout:g}",
            "SSO_BRIDGE_REDIS_CONNECT_TIMEOUT": f"{timeout:g}",
            "SSO_BRIDGE_REDIS_SOCKET_TIMEOUT": f"{timeout:g}",
        }

    # -- life -------------------------------------------------------------------------------

    def start(self) -> Cluster:
        self.postgres.start()
        self.redis.start()
        self._redis.flushdb()
        with psycopg.connect(self._admin_dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self._import_accounts()
        log = (self.work / "idp.log").open("wb")
        self._idp = subprocess.Popen(
            [
                *(str(BIN / "mock-idp"), "serve", "--config", str(self.work / "idp.json")),
                *("--port", str(self.idp_port), "--state-dir", str(self.work / "idp-state")),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.work,
        )
        log.close()
        _wait(self.idp_url + "/.well-known/openid-configuration", self._idp, time.monotonic() + 60)
        for index in range(len(self.instances)):
            self.start_instance(index)
        return self

    def _admin_dsn(self) -> str:
        return self._pg.set(drivername="postgresql").render_as_string(hide_password=False)

    def _import_accounts(self) -> None:
        env = {**os.environ, "SSO_BRIDGE_KEY": KEY_HEX}
        command = [str(BIN / "sso-bridge"), "accounts", "import"]
        command += ["--db", self.direct_db_url(), str(self.work / "accounts.csv")]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"accounts import failed: {done.stderr or done.stdout}")

    def start_instance(self, index: int) -> None:
        """(Re)start instance ``index`` and wait until it answers."""
        instance = self.instances[index]
        command = [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1"]
        command += ["--port", str(instance.port), "--no-access-log", "--log-level", "warning"]
        command += ["--no-proxy-headers"]  # the app reads X-Forwarded-For itself (docs)
        with instance.log.open("ab") as log:
            instance.process = subprocess.Popen(
                command, env=self.instance_env(), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
            )
        _wait(instance.url + "/auth/readyz", instance.process, time.monotonic() + 60)
        instance.started.append(time.monotonic())

    def kill(self, index: int) -> None:
        """kill -9 of instance ``index``."""
        process = self.instances[index].process
        if process is not None:
            process.send_signal(signal.SIGKILL)
            process.wait(10)

    def ready(self, index: int) -> int:
        """The status of ``/auth/readyz`` of instance ``index`` (0: no answer)."""
        try:
            return httpx.get(self.instances[index].url + "/auth/readyz", timeout=5).status_code
        except httpx.TransportError:
            return 0

    def tracebacks(self) -> int:
        """Tracebacks the instances have logged so far."""
        return sum(
            i.log.read_text(errors="replace").count("Traceback")
            for i in self.instances
            if i.log.exists()
        )

    def stop(self) -> None:
        for instance in self.instances:
            if instance.process is not None and instance.process.poll() is None:
                instance.process.terminate()
                try:
                    instance.process.wait(10)
                except subprocess.TimeoutExpired:
                    instance.process.kill()
                    instance.process.wait(10)
        if self._idp is not None and self._idp.poll() is None:
            self._idp.terminate()
            self._idp.wait(10)
        self.postgres.stop()
        self.redis.stop()
        with contextlib.suppress(redis.RedisError):
            self._redis.flushdb()
        self._redis.close()
        with psycopg.connect(self._admin_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def __enter__(self) -> Cluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
