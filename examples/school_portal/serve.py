"""Run the school portal alone, as one of several instances: no mock IdP is started and
nothing is seeded (``seed.py`` does that once, before).

    python examples/school_portal/serve.py --db postgresql://portal@db/portal \\
        --ephemeral redis://redis:6379/0 --idp-url http://idp.school.test:8100 \\
        --base-url https://portal.school.test --workers 2 --host 0.0.0.0 --port 8000

Each flag falls back to the environment (``school_portal.config`` names the variables);
the blind-index key and the broker secret come only from the environment. Every worker
process builds its own portal from the environment (``create_app``, an application
factory for uvicorn), so that a worker that dies is replaced by one that reads the same
settings. uvicorn does not rewrite the client address from proxy headers: sso_bridge reads
``X-Forwarded-For`` itself, from ``PORTAL_TRUSTED_PROXIES`` only.
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

from starlette.applications import Starlette  # noqa: E402

from school_portal.config import (  # noqa: E402
    ENV_BASE_URL,
    ENV_DB,
    ENV_EPHEMERAL,
    ENV_IDP_URL,
    settings_from_environment,
)
from school_portal.portal import build_portal  # noqa: E402
from sso_bridge.errors import BridgeError  # noqa: E402
from sso_bridge.observe import configure_logging  # noqa: E402

__all__ = ["create_app", "main"]

APP_FACTORY = "school_portal.serve:create_app"


def create_app() -> Starlette:
    """The portal of this worker process, from the environment (uvicorn's factory); its
    logs are JSON lines on stderr, one per request with its ``X-Request-ID``."""
    configure_logging(os.environ.get("PORTAL_LOG_LEVEL", "INFO"))
    return build_portal(settings_from_environment()).app


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help=f"database URL or SQLite file (env {ENV_DB})")
    parser.add_argument("--ephemeral", help=f"memory: or redis://... (env {ENV_EPHEMERAL})")
    parser.add_argument("--idp-url", help=f"the state portal's address (env {ENV_IDP_URL})")
    parser.add_argument("--base-url", help=f"this portal's public address (env {ENV_BASE_URL})")
    parser.add_argument("--protocol", choices=("oidc", "saml"), help="env PORTAL_PROTOCOL")
    parser.add_argument(
        "--trusted-proxies", help="comma-separated networks (env PORTAL_TRUSTED_PROXIES)"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="warning")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until stopped (SIGTERM or Ctrl-C); 1 with a one-line error when the settings
    are wrong or a store cannot be opened."""
    import uvicorn  # noqa: PLC0415 - not needed by create_app's importers

    args = _arguments(argv)
    given = {
        ENV_DB: args.db,
        ENV_EPHEMERAL: args.ephemeral,
        ENV_IDP_URL: args.idp_url,
        ENV_BASE_URL: args.base_url,
        "PORTAL_PROTOCOL": args.protocol,
        "PORTAL_TRUSTED_PROXIES": args.trusted_proxies,
    }
    # the worker processes read these from the environment they inherit
    os.environ.update({name: value for name, value in given.items() if value is not None})
    try:
        settings_from_environment()  # wrong settings fail here, once, not in every worker
    except BridgeError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        lifespan="off",
        proxy_headers=False,
        access_log=False,  # the portal logs each request itself, as JSON with its request id
        server_header=False,
        timeout_graceful_shutdown=20,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
