"""sso_bridge: an identity broker between a state identity provider and school systems."""

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
    Organization,
    Outcome,
    Rejection,
    RejectReason,
)
from sso_bridge.store import open_store

__version__ = "0.1.0"

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
    "Organization",
    "Outcome",
    "RejectReason",
    "Rejection",
    "RequestContext",
    "open_store",
]
