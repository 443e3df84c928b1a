"""sso_bridge: an identity broker between a state identity provider and school systems.

The names below are loaded on first use: ``import sso_bridge`` (and so importing any of
its modules) costs nothing beyond this file, and ``from sso_bridge import open_store``
loads the SQL store only then.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sso_bridge.errors import BridgeError
    from sso_bridge.linking import Linker, LinkResult, RequestContext
    from sso_bridge.matching import BlindIndex, Matcher
    from sso_bridge.model import (
        AccountStatus,
        Candidate,
        FederatedIdentity,
        Link,
        LinkMethod,
        LocalAccount,
        MatchDecision,
        Organisation,
        Organization,
        Outcome,
        Rejection,
        RejectReason,
    )
    from sso_bridge.store import open_store

__version__ = "0.1.0"

_HOMES = {
    "AccountStatus": "sso_bridge.model",
    "BlindIndex": "sso_bridge.matching",
    "BridgeError": "sso_bridge.errors",
    "Candidate": "sso_bridge.model",
    "FederatedIdentity": "sso_bridge.model",
    "Link": "sso_bridge.model",
    "LinkMethod": "sso_bridge.model",
    "LinkResult": "sso_bridge.linking",
    "Linker": "sso_bridge.linking",
    "LocalAccount": "sso_bridge.model",
    "MatchDecision": "sso_bridge.model",
    "Matcher": "sso_bridge.matching",
    "Organisation": "sso_bridge.model",
    "Organization": "sso_bridge.model",
    "Outcome": "sso_bridge.model",
    "RejectReason": "sso_bridge.model",
    "Rejection": "sso_bridge.model",
    "RequestContext": "sso_bridge.linking",
    "open_store": "sso_bridge.store",
}

__all__ = [
    "AccountStatus",
    "BlindIndex",
    "BridgeError",
    "Candidate",
    "FederatedIdentity",
    "Link",
    "LinkMethod",
    "LinkResult",
    "Linker",
    "LocalAccount",
    "MatchDecision",
    "Matcher",
    "Organisation",
    "Organization",
    "Outcome",
    "RejectReason",
    "Rejection",
    "RequestContext",
    "open_store",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
