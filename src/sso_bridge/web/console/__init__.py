"""The operator's console: find an account, see what is held about it, and act on it
(unlink, unlock, reset the authenticator app, end its sessions, approve or refuse link
requests), every action confirmed, CSRF-protected and audited with the operator's id.

Off by default: :attr:`WebConfig.console <sso_bridge.web.http.WebConfig.console>` switches
it on with the host's role check (:class:`ConsoleConfig`); every adapter then mounts
:data:`CONSOLE_ROUTES` under its prefix. See docs/console.md.
"""

from sso_bridge.web.console.actions import ACTOR_PREFIX, Operator, OperatorActions
from sso_bridge.web.console.config import (
    CONSOLE_ROUTES,
    DEFAULT_PREFIX,
    ConsoleConfig,
    RoleCheck,
)
from sso_bridge.web.console.errors import ConsoleError
from sso_bridge.web.console.pages import ACTIONS, ConsolePages

__all__ = [
    "ACTIONS",
    "ACTOR_PREFIX",
    "CONSOLE_ROUTES",
    "DEFAULT_PREFIX",
    "ConsoleConfig",
    "ConsoleError",
    "ConsolePages",
    "Operator",
    "OperatorActions",
    "RoleCheck",
]
