"""Record matching: normalisation, match keys and the match decision (docs/matching.md)."""

from sso_bridge.matching.decide import AccountEntry, decide, judge
from sso_bridge.matching.engine import Matcher
from sso_bridge.matching.keys import BlindIndex, MatchKeys, account_keys, identity_keys
from sso_bridge.matching.normalize import (
    format_snils,
    normalize_name,
    normalize_optional_name,
    parse_date,
    parse_passport,
    parse_snils,
)
from sso_bridge.matching.ports import AccountDirectory

__all__ = [
    "AccountDirectory",
    "AccountEntry",
    "BlindIndex",
    "MatchKeys",
    "Matcher",
    "account_keys",
    "decide",
    "format_snils",
    "identity_keys",
    "judge",
    "normalize_name",
    "normalize_optional_name",
    "parse_date",
    "parse_passport",
    "parse_snils",
]
