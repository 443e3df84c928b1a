"""The demo launcher: seed the region into SQLite, start the mock IdP and the portal on
loopback, print the addresses and the demo people, and show every one-time code as it
is sent. Ctrl-C stops both.

    python examples/school_portal/run.py --db build/demo.db [--port 8000] [--idp-port 8100]
        [--synthetic N]     (N generated accounts of other schools around the demo people)
        [--trust-loopback-proxy]  (believe X-Forwarded-For from 127.0.0.1, to play another IP)
        [--ephemeral redis://127.0.0.1:6379/0]  (short-lived entries; memory: by default)
        [--seed-only]       (seed the database and stop)
    python -m school_portal.run ...          (with examples/ on sys.path)

``--db`` takes a SQLite file (made anew with the demo's key beside it: ``<db>.key``) or a
database URL (``postgresql://...``, seeded in place, its key from ``SSO_BRIDGE_KEY`` or
``SSO_BRIDGE_KEY_FILE``). To run the portal as several processes, see ``serve.py``.

No proxy is trusted unless asked: uvicorn runs with ``proxy_headers=False`` (its default
would let anyone on loopback rewrite the client address), and the portal reads
``X-Forwarded-For`` itself, only from the proxies it is told to trust.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import socket
import sys
import warnings
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# pysaml2 touches a cipher mode that cryptography has moved; not the demo's business
warnings.filterwarnings("ignore", message="CFB has been moved")

import uvicorn  # noqa: E402

from mock_idp.server import RunningIdP  # noqa: E402
from school_portal.config import database_url, store_key_from  # noqa: E402
from school_portal.portal import (  # noqa: E402
    PortalSettings,
    build_portal,
    oidc_client_registration,
    saml_sp_metadata,
)
from school_portal.seed import (  # noqa: E402
    ORGANISATIONS,
    PEOPLE,
    STORE_KEY,
    DemoPerson,
    add_synthetic_region,
    seed_database,
    seed_region,
)
from sso_bridge.errors import BridgeError  # noqa: E402

__all__ = ["main", "people_table"]

IDP_CONFIG = Path(__file__).resolve().parent / "idp.yaml"
HOST = "127.0.0.1"


def say(text: str) -> None:
    print(text, flush=True)


class _EchoOutbox(list[Any]):
    """The mock IdP's SMS outbox that also prints each message as it is added."""

    def __init__(self, echo: Callable[[str], None]) -> None:
        super().__init__()
        self.echo = echo

    def append(self, sms: Any) -> None:
        super().append(sms)
        self.echo(f"mock IdP SMS to {sms.phone}: {sms.text}")


def people_table(people: Sequence[DemoPerson] = PEOPLE) -> str:
    """The demo people as a text table: Gosuslugi and school logins, and what each shows."""
    rows = [
        ("who", "name", "Госуслуги (mock IdP): login / password / 2FA", "school login", "shows")
    ]
    for p in people:
        esia = (
            f"{p.esia_login} / {p.esia_password} / {(p.esia_second_factor or '').upper()}"
            if p.esia_login
            else "—"
        )
        org = next((o.name for o in ORGANISATIONS if o.org_id == p.org_id), p.org_id)
        school = f"{org} / {p.login} / {p.password}" if p.login else "—"
        rows.append((p.key, p.name, esia, school, p.shows))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _notes(people: Sequence[DemoPerson], idp_url: str) -> str:
    notes = [
        "One-time codes appear below as they are sent: the portal's as 'portal sms to …'",
        "(school phones are +7 900 000-00-NN), the mock IdP's as 'mock IdP SMS to …'",
        f"(also listed at {idp_url}/outbox).",
    ]
    for p in people:
        if p.totp_secret:
            notes.append(
                f"TOTP for {p.key}: add the base32 secret {p.totp_secret} to an authenticator "
                "app (the same one works at the portal and at the mock IdP)."
            )
    return "\n".join(notes)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db", default="build/demo.db", help="SQLite file, or a database URL (postgresql://...)"
    )
    parser.add_argument(
        "--ephemeral", default="memory:", help="short-lived store: memory: or redis://..."
    )
    parser.add_argument("--seed-only", action="store_true", help="seed the database and stop")
    parser.add_argument("--port", type=int, default=8000, help="the portal's port")
    parser.add_argument("--idp-port", type=int, default=8100, help="the mock IdP's port")
    parser.add_argument("--protocol", choices=("oidc", "saml"), default="oidc")
    parser.add_argument(
        "--idle-minutes", type=float, default=30.0, help="session idle timeout (try 1)"
    )
    parser.add_argument(
        "--trust-loopback-proxy",
        action="store_true",
        help="believe X-Forwarded-For from 127.0.0.1 (to play a session moving to another IP)",
    )
    parser.add_argument(
        "--shared-computer",
        action="store_true",
        help="shared-computer mode: every login asks the state portal for the password again",
    )
    parser.add_argument(
        "--synthetic",
        type=int,
        default=0,
        metavar="N",
        help="also import N generated accounts of other schools (mock_idp.region)",
    )
    return parser.parse_args(argv)


def taken_port(ports: Sequence[int]) -> int | None:
    """The first of ``ports`` that something on this machine listens on, or None."""
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return port
                raise
    return None


def _seed(args: argparse.Namespace, issuer: str) -> tuple[Path | None, str, bytes]:
    """Seed the database of ``--db``: its file (None for a server database), URL and key."""
    url = database_url(args.db)
    if "://" not in args.db:  # a SQLite file, made anew as the demo always did
        path = Path(args.db)
        seed_region(path, datetime.now(UTC), issuer=issuer)
        if args.synthetic > 0:
            schools = add_synthetic_region(path, args.synthetic)
            say(f"Imported {args.synthetic:,} generated accounts of {schools:,} other schools.")
        return path, url, STORE_KEY
    key = store_key_from(url, os.environ)
    seed_database(url, key, datetime.now(UTC), issuer=issuer)
    return None, url, key


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo until Ctrl-C; 0 when stopped that way, 2 when a port is taken, 1 with
    a one-line error when the database or its key cannot be used."""
    try:
        return _main(_arguments(argv))
    except BridgeError as exc:
        print(f"demo: {exc.code}: {exc.message}", file=sys.stderr)
        return 1


def _main(args: argparse.Namespace) -> int:
    if args.seed_only:
        idp = f"http://{HOST}:{args.idp_port}"
        issuer = f"{idp}/idp/shibboleth" if args.protocol == "saml" else f"{idp}/"
        _seed(args, issuer)
        say(f"Seeded {args.db}.")
        return 0
    taken = taken_port((args.port, args.idp_port))
    if taken is not None:
        print(
            f"demo: port {taken} on {HOST} is taken (another demo running?); choose others, "
            f'e.g. make demo DEMO_ARGS="--port {args.port + 1} --idp-port {args.idp_port + 1}"',
            file=sys.stderr,
        )
        return 2
    idp_url, base_url = f"http://{HOST}:{args.idp_port}", f"http://{HOST}:{args.port}"
    settings = PortalSettings(
        db_path=None,
        idp_url=idp_url,
        base_url=base_url,
        protocol=args.protocol,
        idle_timeout=timedelta(minutes=args.idle_minutes),
        shared_computer=args.shared_computer,
        # only if asked: loopback stands in for a proxy, so X-Forwarded-For plays another IP
        trusted_proxies=("127.0.0.1/32",) if args.trust_loopback_proxy else (),
        echo=say,
    )
    # the links the demo starts with name the issuer of the protocol in use
    settings.db_path, settings.db_url, settings.store_key = _seed(args, settings.idp_issuer)
    settings.ephemeral_url = args.ephemeral
    if settings.db_path is None:
        settings.sp_key_dir = Path("build/portal-sp")
    idp = RunningIdP(IDP_CONFIG, host=HOST, port=args.idp_port)
    idp.idp.provider.outbox = _EchoOutbox(say)
    idp.idp.add_client(oidc_client_registration(settings))
    idp.start()
    try:
        # the SP from its metadata (read from the running IdP): ACS, logout endpoint, key
        idp.idp.add_service_provider({"metadata": saml_sp_metadata(settings)})
        portal = build_portal(settings)
        server = uvicorn.Server(
            uvicorn.Config(
                portal.app,
                host=HOST,
                port=args.port,
                log_level="warning",
                lifespan="off",
                # the client address is the peer's; sso_bridge reads X-Forwarded-For itself,
                # from the proxies in WebConfig.trusted_proxies only
                proxy_headers=False,
            )
        )
        say(f"\nSchool portal: {base_url}/  (sign-in: {args.protocol.upper()} or school login)")
        say(f"Mock IdP:      {idp_url}/")
        say(f"SMS outbox:    curl -H 'X-Mock-IdP-Admin: {idp.admin_token}' {idp_url}/outbox")
        if settings.db_path is not None:
            say(f"Database:      {args.db} (key in {args.db}.key)")
        audit = f"SSO_BRIDGE_DB={settings.database_url} .venv/bin/sso-bridge audit tail"
        say(f"Audit trail:   {audit}\n")
        say(people_table())
        say("\n" + _notes(PEOPLE, idp_url))
        say("\nSee docs/quickstart.md for what to try. Ctrl-C stops the demo.\n")
        # uvicorn shuts down on Ctrl-C, then sends the signal on up to us: that is the end
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
    except KeyboardInterrupt:
        pass  # Ctrl-C while starting
    finally:
        idp.stop()
    say("Demo stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
