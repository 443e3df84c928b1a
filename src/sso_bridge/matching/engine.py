"""The matcher: identity → keys → indexed lookup in the accounts directory → decision."""

from __future__ import annotations

from sso_bridge.matching.decide import decide
from sso_bridge.matching.keys import MatchKeys, identity_keys
from sso_bridge.matching.ports import AccountDirectory
from sso_bridge.model import FederatedIdentity, MatchDecision, Outcome


class Matcher:
    """Decides which local accounts belong to a federated identity."""

    def __init__(self, directory: AccountDirectory) -> None:
        self._directory = directory

    def match(self, identity: FederatedIdentity, keys: MatchKeys | None = None) -> MatchDecision:
        """The decision for ``identity``; ``keys``, when given, stand for its personal data
        (a caller that kept only the keyed hashes of a SNILS or passport passes them)."""
        warnings: tuple[str, ...] = ()
        if keys is None:
            keys, warnings = identity_keys(identity, self._directory.blind_index)
        if not identity.verified:
            # No lookup at all: neither the answer nor its timing may depend on local data.
            return MatchDecision(Outcome.LOCAL_LOGIN_REQUIRED, warnings=warnings)
        found = self._directory.find_accounts(keys, identity.issuer)
        return decide(identity, keys, found, warnings)
