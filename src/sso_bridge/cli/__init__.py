"""``sso-bridge``: the administrator's command line (docs/cli.md)."""

from sso_bridge.cli import accounts as _accounts  # noqa: F401 - registers its commands
from sso_bridge.cli import audit as _audit  # noqa: F401 - registers its commands
from sso_bridge.cli import credentials as _credentials  # noqa: F401 - registers its commands
from sso_bridge.cli import db as _db  # noqa: F401 - registers its commands
from sso_bridge.cli import esia as _esia  # noqa: F401 - registers its commands
from sso_bridge.cli import events as _events  # noqa: F401 - registers its commands
from sso_bridge.cli import links as _links  # noqa: F401 - registers its commands
from sso_bridge.cli import match as _match  # noqa: F401 - registers its commands
from sso_bridge.cli import person as _person  # noqa: F401 - registers its commands
from sso_bridge.cli import retention as _retention  # noqa: F401 - registers its commands
from sso_bridge.cli.main import main

__all__ = ["main"]
