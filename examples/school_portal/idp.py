"""Run the demo's mock IdP alone, with the portal registered: the people of ``idp.yaml``,
the portal as its OIDC client and as its SAML service provider, at the portal's public
address (``--base-url``). For a deployment where the portal runs as several instances
(``serve.py``); ``run.py`` starts both in one process instead.

    python examples/school_portal/idp.py --public-url http://idp.school.test:8100 \\
        --base-url https://portal.school.test --host 0.0.0.0 --port 8100 \\
        [--sp-certificate FILE] [--state-dir DIR]

The admin token of ``/outbox`` and ``/admin/*`` comes from ``MOCK_IDP_ADMIN_TOKEN`` (a
random one is printed otherwise). ``--sp-certificate`` is the portal's SAML signing
certificate (``sp-cert.pem`` of ``PORTAL_SP_KEY_DIR``), to check its logout requests.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

if not __package__:  # run as a file: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.filterwarnings("ignore", message="CFB has been moved")

from mock_idp.app import ADMIN_HEADER, MockIdP  # noqa: E402
from school_portal.portal import PortalSettings, oidc_client_registration  # noqa: E402

__all__ = ["IDP_CONFIG", "demo_idp", "main"]

IDP_CONFIG = Path(__file__).resolve().parent / "idp.yaml"


def demo_idp(
    public_url: str,
    portal_url: str,
    *,
    state_dir: Path | None = None,
    admin_token: str | None = None,
    sp_certificate_pem: str | None = None,
) -> MockIdP:
    """The mock IdP at ``public_url`` with the demo people and the portal at
    ``portal_url`` registered over both protocols."""
    idp = MockIdP.from_config(IDP_CONFIG, public_url, state_dir, admin_token=admin_token)
    portal = PortalSettings(db_path=None, idp_url=public_url, base_url=portal_url)
    idp.add_client(oidc_client_registration(portal))
    service_provider = {
        "entity_id": portal.sp_entity_id,
        "acs_url": portal.acs_url,
        "slo_url": portal.slo_url,
        "certificate_pem": sp_certificate_pem,
    }
    idp.add_service_provider(service_provider)
    return idp


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--public-url", required=True, help="the IdP's address for everyone")
    parser.add_argument("--base-url", required=True, help="the portal's public address")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--state-dir", type=Path, help="keep the signing keys here")
    parser.add_argument("--sp-certificate", type=Path, help="the portal's SAML certificate")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until stopped (SIGTERM or Ctrl-C)."""
    import uvicorn  # noqa: PLC0415

    from mock_idp.app import create_app  # noqa: PLC0415

    args = _arguments(argv)
    certificate = args.sp_certificate.read_text() if args.sp_certificate else None
    idp = demo_idp(
        args.public_url,
        args.base_url,
        state_dir=args.state_dir,
        admin_token=os.environ.get("MOCK_IDP_ADMIN_TOKEN") or None,
        sp_certificate_pem=certificate,
    )
    if not os.environ.get("MOCK_IDP_ADMIN_TOKEN"):
        print(f"admin token (header {ADMIN_HEADER}): {idp.admin_token}", flush=True)
    uvicorn.run(
        create_app(idp),
        host=args.host,
        port=args.port,
        log_level="warning",
        lifespan="off",
        proxy_headers=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
