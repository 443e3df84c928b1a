"""``sso-bridge accounts unlock | set-password | set-contacts | recovery-codes``: local
logins and their second factor.

The credentials (password hashes, lockout counters, contacts for one-time codes, sealed
TOTP secrets) live in the ``credentials`` table of the same database. Their TOTP secrets
are sealed under a key derived from the database's blind-index key (a different HKDF
purpose), so the one key file serves both.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from sso_bridge.cli.accounts import accounts
from sso_bridge.cli.main import _open, actor_option, store_options
from sso_bridge.cli.output import echo_json, identifier, json_option, text
from sso_bridge.errors import AccountNotFound
from sso_bridge.keyfile import resolve_key
from sso_bridge.mfa import LocalPasswords, RecoveryCodes, TotpVerifier
from sso_bridge.mfa.limits import SecondFactorBudget
from sso_bridge.model import AuditAction, AuditEvent
from sso_bridge.store import open_ephemeral_store
from sso_bridge.store.sql_credentials import SqlCredentialStore
from sso_bridge.store.sql_store import SqlStore

__all__ = ["open_credentials"]


def open_credentials(store: SqlStore, key: bytes) -> SqlCredentialStore:
    """The credential store of ``store``'s database, sealed under ``key``."""
    return SqlCredentialStore(store.engine, key)


def _stores(
    db_url: str, key_file: Path | None, account_id: str
) -> tuple[SqlStore, SqlCredentialStore]:
    store = _open(db_url, key_file)
    if store.get_account(account_id) is None:
        raise AccountNotFound(f"no local account {account_id!r}")
    return store, open_credentials(store, resolve_key(db_url, key_file))


def _done(as_json: bool, account_id: str, what: str) -> None:
    if as_json:
        echo_json({"account_id": account_id, "done": what})
    else:
        joiner = " " if what == "unlocked" else " for "
        click.echo(f"{what}{joiner}{text(account_id)}")


@accounts.command("unlock")
@click.argument("account_id", callback=identifier)
@click.option(
    "--ephemeral-url",
    envvar="SSO_BRIDGE_EPHEMERAL_URL",
    help="The brokers' short-lived store (redis://... or a database URL): lift the "
    "second-factor lock kept there too (env SSO_BRIDGE_EPHEMERAL_URL).",
)
@actor_option
@json_option
@store_options
def accounts_unlock(
    account_id: str,
    ephemeral_url: str | None,
    actor: str,
    as_json: bool,
    db_url: str,
    key_file: Path | None,
) -> None:
    """Unlock a local login locked after too many wrong passwords or second-factor codes."""
    store, credentials = _stores(db_url, key_file, account_id)
    if ephemeral_url:
        ephemeral = open_ephemeral_store(ephemeral_url)
        try:
            budget = SecondFactorBudget(ephemeral)
            LocalPasswords(credentials, second_factor=budget).unlock(account_id)
        finally:
            close = getattr(ephemeral, "close", None)
            if close is not None:
                close()
    else:
        LocalPasswords(credentials).unlock(account_id)
    store.record(AuditEvent(AuditAction.UNLOCK, datetime.now(UTC), actor, account_id=account_id))
    _done(as_json, account_id, "unlocked")


@accounts.command("set-password")
@click.argument("account_id", callback=identifier)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@actor_option
@json_option
@store_options
def accounts_set_password(
    account_id: str,
    password_stdin: bool,
    actor: str,
    as_json: bool,
    db_url: str,
    key_file: Path | None,
) -> None:
    """Set the local password of an account (argon2id), after the password policy."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    store, credentials = _stores(db_url, key_file, account_id)
    LocalPasswords(credentials).set_password(account_id, password, datetime.now(UTC))
    store.record(
        AuditEvent(
            AuditAction.CREDENTIALS,
            datetime.now(UTC),
            actor,
            account_id=account_id,
            detail="password set",
        )
    )
    _done(as_json, account_id, "password set")


@accounts.command("set-contacts")
@click.argument("account_id", callback=identifier)
@click.option("--phone", help="Phone for one-time codes by SMS.")
@click.option("--email", help="Address for one-time codes by e-mail.")
@actor_option
@json_option
@store_options
def accounts_set_contacts(
    account_id: str,
    phone: str | None,
    email: str | None,
    actor: str,
    as_json: bool,
    db_url: str,
    key_file: Path | None,
) -> None:
    """Set where one-time codes go (both at once; an omitted one is removed)."""
    store, credentials = _stores(db_url, key_file, account_id)
    credentials.set_contacts(account_id, phone=phone, email=email)
    store.record(
        AuditEvent(
            AuditAction.CREDENTIALS,
            datetime.now(UTC),
            actor,
            account_id=account_id,
            detail="contacts set",
        )
    )
    _done(as_json, account_id, "contacts set")


@accounts.command("recovery-codes")
@click.argument("account_id", callback=identifier)
@actor_option
@json_option
@store_options
def accounts_recovery_codes(
    account_id: str, actor: str, as_json: bool, db_url: str, key_file: Path | None
) -> None:
    """Make a new set of recovery codes for an account with an authenticator app.

    The codes are printed once and only their hashes are kept; any earlier set stops
    working. Hand them to the person in a way only they can read.
    """
    store, credentials = _stores(db_url, key_file, account_id)
    TotpVerifier(credentials).require_enrolled(account_id)
    codes = RecoveryCodes(credentials).generate(account_id)
    store.record(
        AuditEvent(
            AuditAction.RECOVERY_CODES_GENERATED,
            datetime.now(UTC),
            actor,
            account_id=account_id,
            detail=f"{len(codes)} new recovery codes; any earlier ones are void",
        )
    )
    if as_json:
        echo_json({"account_id": account_id, "recovery_codes": list(codes)})
        return
    for code in codes:
        click.echo(code)
