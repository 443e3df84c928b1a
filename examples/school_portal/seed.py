"""The demo region: schools, local accounts, passwords, phones and the links made before
the first login. The same people, with the same names, birth dates and SNILS, sign in at
the mock IdP (``idp.yaml``), so that record matching meets every case of docs/matching.md.

Everything here, keys and passwords included, is for a local demo only.

Seeding a shared database (PostgreSQL) once, before the portal's processes start; running
it again changes nothing:

    python examples/school_portal/seed.py --db postgresql://USER@HOST/DB \
        --idp-url http://idp.school.test:8100 [--protocol saml]

The blind-index key comes from ``SSO_BRIDGE_KEY`` or ``SSO_BRIDGE_KEY_FILE``; ``--db`` also
reads ``PORTAL_DB``. A SQLite file (``--db build/demo.db``) is made anew with the demo's key.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

import attrs

if not __package__:  # run as a file: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mock_idp.region import generate_directory
from school_portal.diary import create_grade_table
from sso_bridge.errors import BridgeError
from sso_bridge.importing import import_accounts_csv
from sso_bridge.mfa import LocalPasswords, decode_secret, password_hasher
from sso_bridge.model import (
    AccountStatus,
    AuditAction,
    AuditEvent,
    Link,
    LinkMethod,
    LocalAccount,
    Organisation,
)
from sso_bridge.store import SqlStore, open_store
from sso_bridge.store.settings import DatabaseSettings
from sso_bridge.store.sql_credentials import SqlCredentialStore

__all__ = [
    "ACCOUNTS",
    "DEMO_ISSUER",
    "ORGANISATIONS",
    "PEOPLE",
    "STORE_KEY",
    "DemoPerson",
    "link_seeded",
    "main",
    "open_region",
    "seed_database",
    "seed_region",
    "write_key_file",
]

STORE_KEY: Final = b"school-portal-demo-store-key-32b"
"""The blind-index and credential key of the demo database (demo only: it is public)."""

DEMO_ISSUER: Final = "http://127.0.0.1:8100/"
"""The mock IdP's issuer when it runs on its demo port."""

PASSWORD: Final = "Shkola-2024"  # noqa: S105 - a public demo password
"""Every demo account's local password."""


@attrs.frozen
class DemoPerson:
    """One person of the demo, as the people table and the tests know them."""

    key: str
    name: str
    esia_login: str | None
    esia_password: str | None
    esia_second_factor: str | None
    org_id: str | None
    login: str | None
    password: str | None
    phone: str | None
    shows: str
    oid: int | None = None
    accounts: tuple[str, ...] = ()
    linked: tuple[str, ...] = ()
    totp_secret: str | None = None


ORGANISATIONS: Final = (
    Organisation("sch17", "Школа № 17"),
    Organisation("gym5", "Гимназия № 5"),
    Organisation("lyc2", "Лицей № 2"),
    Organisation("sch3", "Школа № 3"),
)

_MARIA_BORN = date(1984, 3, 12)


def _maria(account_id: str, org_id: str, login: str, role: str, snils: str) -> LocalAccount:
    """One of the accounts of the two Марии Петровны Смирновы (same name and birth date)."""
    return LocalAccount(
        account_id, org_id, "Смирнова", "Мария", "Петровна", login=login, roles=(role,),
        birth_date=_MARIA_BORN, snils=snils,
    )  # fmt: skip


ACCOUNTS: Final = (
    _maria("t-smirnova", "sch17", "smirnova", "teacher", "123-456-789 64"),
    _maria("p-smirnova-g5", "gym5", "smirnova.m", "parent", "123-456-789 64"),
    _maria("p-smirnova-l2", "lyc2", "smirnova", "parent", "123-456-789 64"),
    LocalAccount(
        "s-smirnov", "gym5", "Смирнов", "Артём", "Олегович", login="smirnov.a",
        roles=("pupil",), birth_date=date(2012, 9, 1), snils="234-567-891 00",
    ),
    LocalAccount(
        "p-kuznetsova", "sch17", "Кузнецова", "Анна", "Сергеевна", login="kuznetsova",
        roles=("parent",), birth_date=date(1988, 2, 2), snils="156-327-841 79",
    ),
    LocalAccount(
        "p-novikova", "sch3", "Новикова", "Ольга", "Ивановна", login="novikova",
        roles=("parent",), birth_date=date(1990, 6, 15),
    ),
    _maria("p-smirnova-s3", "sch3", "smirnova.mp", "parent", "345-678-912 26"),
    LocalAccount(
        "p-popov", "lyc2", "Попов", "Дмитрий", "Игоревич", login="popov",
        roles=("parent",), birth_date=date(1979, 11, 20), snils="456-789-123 44",
    ),
    LocalAccount(
        "d-sokolov", "gym5", "Соколов", "Игорь", "Викторович", login="sokolov",
        roles=("director",), birth_date=date(1975, 5, 5), snils="567-891-234 53",
    ),
    LocalAccount(
        "t-fedorov", "lyc2", "Фёдоров", "Павел", "Андреевич", login="fedorov",
        roles=("teacher",), birth_date=date(1992, 4, 8),
    ),
    LocalAccount(
        "p-belova", "sch17", "Белова", "Ирина", "Павловна", login="belova",
        roles=("parent",), birth_date=date(1986, 7, 30), status=AccountStatus.BLOCKED,
    ),
)  # fmt: skip

_TOTP: Final = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

PEOPLE: Final = (
    DemoPerson(
        "teacher_parent", "Смирнова Мария Петровна", "+7 (900) 000-01-01", "parol-101", "sms",
        "sch17", "smirnova", PASSWORD, "+7 900 000-00-01",
        "the teacher account linked: every login offers all 3 (teacher, 2× parent), "
        "the unlinked ones marked, then the account switcher",
        oid=1000000101, accounts=("t-smirnova", "p-smirnova-g5", "p-smirnova-l2"),
        linked=("t-smirnova",),
    ),
    DemoPerson(
        "pupil", "Смирнов Артём Олегович", "+7 (900) 000-02-01", "parol-201", "sms",
        "gym5", "smirnov.a", PASSWORD, "+7 900 000-00-02",
        "child ESIA account: auto-link on the first login, then his diary",
        oid=1000000201, accounts=("s-smirnov",),
    ),
    DemoPerson(
        "unique", "Кузнецова Анна Сергеевна", "a.kuznetsova@example.org", "parol-103", "sms",
        "sch17", "kuznetsova", PASSWORD, "+7 900 000-00-03",
        "one matching account: auto-link, then her son's diary",
        oid=1000000103, accounts=("p-kuznetsova",),
    ),
    DemoPerson(
        "unconfirmed", "Новикова Ольга Ивановна", "+7 (900) 000-01-07", "parol-107", "sms",
        "sch3", "novikova", PASSWORD, "+7 900 000-00-04",
        "unconfirmed ESIA account: one school login links it (the IdP's SMS was the second factor)",
        oid=1000000107, accounts=("p-novikova",),
    ),
    DemoPerson(
        "namesake", "Смирнова Мария Петровна", "m.smirnova@example.net", "parol-108", "sms",
        "sch3", "smirnova.mp", PASSWORD, "+7 900 000-00-05",
        "same name and birth date as teacher_parent: her 3 accounts vetoed, own one linked",
        oid=1000000108, accounts=("p-smirnova-s3",),
    ),
    DemoPerson(
        "linked", "Попов Дмитрий Игоревич", "+7 (900) 000-01-09", "parol-109", "sms",
        "lyc2", "popov", PASSWORD, "+7 900 000-00-06",
        "linked before: straight into his daughter's diary",
        oid=1000000109, accounts=("p-popov",), linked=("p-popov",),
    ),
    DemoPerson(
        "staff_totp", "Соколов Игорь Викторович", "i.sokolov@example.org", "parol-110", "totp",
        "gym5", "sokolov", PASSWORD, None,
        "director: TOTP code from an app (here and at the IdP), then the school's journal",
        oid=1000000110, accounts=("d-sokolov",), totp_secret=_TOTP,
    ),
    DemoPerson(
        "locked_demo", "Фёдоров Павел Андреевич", None, None, None,
        "lyc2", "fedorov", PASSWORD, "+7 900 000-00-08",
        "local only: five wrong passwords lock the account",
        accounts=("t-fedorov",),
    ),
    DemoPerson(
        "blocked", "Белова Ирина Павловна", None, None, None,
        "sch17", "belova", PASSWORD, "+7 900 000-00-09",
        "a blocked account: the page says whom to ask",
        accounts=("p-belova",),
    ),
)  # fmt: skip


def write_key_file(db_path: Path) -> Path:
    """Write the demo's key beside the database (``<db>.key``, mode 0600), where the
    command line looks for a SQLite database's key."""
    path = Path(f"{db_path}.key")
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(STORE_KEY.hex() + "\n")
    return path


def open_region(
    database: Path | str, key: bytes = STORE_KEY
) -> tuple[SqlStore, SqlCredentialStore]:
    """The directory and the credentials of the demo database: a SQLite file, or the
    database a URL names (created or migrated on first use)."""
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    # timeouts and pool sizes from SSO_BRIDGE_DB_* (docs/storage.md), defaults otherwise
    store = open_store(url, key, settings=DatabaseSettings.from_environment())
    return store, SqlCredentialStore(store.engine, key)


def seed_region(
    db_path: Path, now: datetime, *, issuer: str = DEMO_ISSUER
) -> tuple[DemoPerson, ...]:
    """Create (or overwrite) the demo database at ``db_path``: organisations, accounts,
    passwords, phones, the TOTP secret, and the links made before the first login."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    write_key_file(db_path)
    seed_database(f"sqlite:///{db_path}", STORE_KEY, now, issuer=issuer)
    return PEOPLE


def seed_database(url: str, key: bytes, now: datetime, *, issuer: str = DEMO_ISSUER) -> int:
    """Put the demo region into the database at ``url`` (created if needed): accounts and
    organisations (updated in place), passwords and one-time code contacts where none are
    set yet, and the links made before the first login; the number of links made. Running
    it again changes nothing."""
    store, credentials = open_region(url, key)
    try:
        store.import_accounts(list(ACCOUNTS), ORGANISATIONS)
        # the portal's own parameters (RFC 9106, 64 MiB), about 0.1 s an account: a cheaper
        # stored hash would answer a wrong password faster than an unknown login
        passwords = LocalPasswords(credentials, hasher=password_hasher())
        for person in PEOPLE:
            for account_id in person.accounts:
                held = credentials.get(account_id)
                if person.password is not None and (held is None or not held.password_hash):
                    passwords.set_password(account_id, person.password, now)
                credentials.set_contacts(account_id, phone=person.phone)
                if person.totp_secret is not None and (held is None or not held.totp_enrolled):
                    credentials.set_totp(account_id, decode_secret(person.totp_secret))
        create_grade_table(store.engine)
        return link_seeded(store, issuer, now)
    finally:
        store.close()


def link_seeded(
    store: SqlStore, issuer: str, now: datetime, people: Iterable[DemoPerson] = PEOPLE
) -> int:
    """Make the links the demo starts with, at ``issuer``, for every person who has none
    there yet; the number made."""
    made = 0
    for person in people:
        if not person.linked or person.oid is None:
            continue
        subject = str(person.oid)
        if store.links_for_subject(issuer, subject):
            continue
        for account_id in person.linked:
            link = Link(issuer, subject, account_id, LinkMethod.ADMIN, now, "demo-seed")
            event = AuditEvent(
                AuditAction.LINK,
                now,
                "demo-seed",
                issuer=issuer,
                subject=subject,
                account_id=account_id,
                detail="linked when the demo region was seeded",
            )
            store.create_link(link, event)
            made += 1
    return made


def add_synthetic_region(db_path: Path, accounts: int, seed: int = 20240601) -> int:
    """Import ``accounts`` generated accounts (``mock_idp.region``: other schools of the
    region, with its namesakes and duplicates) around the demo people; returns how many
    schools they are in. The demo people's decisions stay what the table says."""
    with tempfile.TemporaryDirectory(prefix="sso_bridge_demo_") as work:
        path = Path(work) / "region.csv"
        directory = generate_directory(random.Random(seed), accounts, path)  # noqa: S311 - test data
        store, _ = open_region(db_path)
        try:
            import_accounts_csv(store, path)
        finally:
            store.close()
    return directory.schools


def main(argv: Sequence[str] | None = None) -> int:
    """Seed the database ``--db`` names; 0 when done, 1 with a one-line error."""
    from school_portal.config import ENV_DB, database_url, store_key_from  # noqa: PLC0415

    parser = argparse.ArgumentParser(description="Seed the school portal's demo region.")
    parser.add_argument("--db", default=os.environ.get(ENV_DB), help="database URL or file")
    parser.add_argument("--idp-url", required=True, help="the IdP's public address")
    parser.add_argument("--protocol", choices=("oidc", "saml"), default="oidc")
    args = parser.parse_args(argv)
    if not args.db:
        parser.error(f"--db (or {ENV_DB}) is required")
    url = database_url(args.db)
    idp = args.idp_url.rstrip("/")
    issuer = f"{idp}/idp/shibboleth" if args.protocol == "saml" else f"{idp}/"
    now = datetime.now(UTC)
    try:
        if url.startswith("sqlite:") and "://" not in args.db:
            seed_region(Path(args.db), now, issuer=issuer)
            made = sum(len(p.linked) for p in PEOPLE)
        else:
            made = seed_database(url, store_key_from(url, os.environ), now, issuer=issuer)
    except BridgeError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    print(f"seeded the demo region ({len(ACCOUNTS)} accounts, {made} new links)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
