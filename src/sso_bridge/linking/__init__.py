"""Linking: the rules that turn a match (or an administrator) into a link (docs/matching.md).

:class:`Linker` applies them (:mod:`.linker`); :class:`LinkStore` is the port links are
kept in (:mod:`.ports`).
"""

from sso_bridge.linking.linker import Linker, LinkResult, RequestContext, check_admin_identity
from sso_bridge.linking.ports import HiddenAccounts, LinkStore

__all__ = [
    "HiddenAccounts",
    "LinkResult",
    "LinkStore",
    "Linker",
    "RequestContext",
    "check_admin_identity",
]
