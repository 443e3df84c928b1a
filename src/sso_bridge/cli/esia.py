"""``sso-bridge esia secret | verify-token``: check ESIA v2/v3 GOST signatures by hand.

``secret`` prints what the relying party would send to ``v2/ac`` (or ``v3/te`` with
``--code``): the signed string, ``client_secret`` and ``client_certificate_hash``, so that
an administrator can compare them with another client's or with ESIA's refusal; the hash
is uppercase hex, as ESIA's clients send it (``--hash-case lower`` for lowercase).
``verify-token`` checks a GOST-signed token against ESIA's certificates: certificate
files, directories of them or ESIA's zip archive of them.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from sso_bridge.cli.main import main
from sso_bridge.cli.output import echo_json, exit_status, text
from sso_bridge.errors import BridgeError
from sso_bridge.esia import gost, secret
from sso_bridge.esia.certificates import certificates_from_paths
from sso_bridge.esia.errors import EsiaError
from sso_bridge.esia.signer import InProcessGostSigner
from sso_bridge.esia.tokens import certificate_kid, verify_gost_jwt

__all__ = ["esia"]

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_CERTIFICATES = click.Path(exists=True, path_type=Path)


@main.group()
def esia() -> None:
    """ESIA (Госуслуги) v2/v3: GOST client secrets and tokens."""


@esia.command("secret")
@click.option("--key", "key_path", type=_FILE, required=True, help="GOST 2012-256 key (PEM).")
@click.option("--cert", "cert_path", type=_FILE, required=True, help="Its certificate.")
@click.option("--client-id", required=True, help="The system's mnemonic at ESIA.")
@click.option("--scope", required=True, help="The scopes, space-separated.")
@click.option("--state", required=True, help="The state (a UUID).")
@click.option("--redirect-uri", required=True, help="The redirect_uri, exactly as sent.")
@click.option("--scope-org", default="", help="Organisation scopes, space-separated.")
@click.option("--timestamp", default=None, help="'yyyy.MM.dd HH:mm:ss +0300' (default: now).")
@click.option("--code", default=None, help="The authorization code (token request).")
@click.option(
    "--hash-case",
    type=click.Choice(secret.HASH_CASES),
    default="upper",
    show_default=True,
    help="How client_certificate_hash is spelled.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def esia_secret(
    key_path: Path,
    cert_path: Path,
    client_id: str,
    scope: str,
    state: str,
    redirect_uri: str,
    scope_org: str,
    timestamp: str | None,
    code: str | None,
    hash_case: str,
    as_json: bool,
) -> None:
    """Sign the client_secret of a v2/ac request (v3/te with --code)."""
    certificate = gost.load_certificate(cert_path.read_bytes())
    signer = InProcessGostSigner(gost.load_private_key_pem(key_path.read_bytes()), certificate)
    if timestamp is None:
        timestamp = secret.esia_timestamp(datetime.now(UTC))
    else:
        secret.parse_esia_timestamp(timestamp)
    fields: dict[str, Any] = {
        "client_id": client_id,
        "scope": scope,
        "scope_org": scope_org,
        "timestamp": timestamp,
        "state": state,
        "redirect_uri": redirect_uri,
        "code": code,
    }
    result = {
        "signed": secret.secret_message(**fields).decode("utf-8"),
        "timestamp": timestamp,
        "client_secret": secret.client_secret(signer, **fields),
        "client_certificate_hash": secret.certificate_hash(certificate, case=hash_case),
    }
    if as_json:
        echo_json(result)
        return
    for name, value in result.items():
        click.echo(f"{name}: {text(value)}")


@esia.command("verify-token")
@click.argument("token")
@click.option(
    "--cert",
    "cert_paths",
    type=_CERTIFICATES,
    multiple=True,
    required=True,
    help="ESIA's certificates: a file, a directory or a zip archive (repeat for several).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def esia_verify_token(token: str, cert_paths: tuple[Path, ...], as_json: bool) -> None:
    """Check a GOST3410_2012_256 token's signature (TOKEN '-' reads stdin)."""
    if token == "-":  # noqa: S105 - stdin, not a secret
        token = sys.stdin.readline().strip()
    certificates = certificates_from_paths(cert_paths).gost
    if not certificates:
        raise EsiaError(
            "the certificates given hold no GOST R 34.10-2012-256 certificate",
            code="esia.gost_bad_certificate",
        )
    try:
        claims = verify_gost_jwt(token.strip(), certificates)
    except BridgeError as exc:
        if not as_json:
            raise
        echo_json({"valid": False, "code": exc.code, "message": exc.message})
        sys.exit(exit_status(exc.code))
    kids = [certificate_kid(c) for c in certificates]
    summary = {"valid": True, "sub": claims.get("sub"), "iss": claims.get("iss"), "kids": kids}
    if as_json:
        echo_json(summary)
        return
    click.echo(text(f"valid: GOST signature verifies (sub {claims.get('sub')!r})"))
