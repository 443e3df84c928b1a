"""The HTTP-Redirect binding's signed octets (SAML 2.0 Bindings, §3.4.4.1)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode


def redirect_signed_octets(
    message_param: str, params: Mapping[str, str], query_string: str | None
) -> bytes:
    """What a Redirect-binding signature covers: the message, RelayState and SigAlg.

    From the raw ``query_string`` when there is one, exactly as the sender encoded it;
    otherwise re-encoded from ``params``. Raises ``ValueError`` for a parameter given
    twice or a raw query without the message or SigAlg.
    """
    order = (message_param, "RelayState", "SigAlg")
    if query_string is None:
        return urlencode([(name, params[name]) for name in order if name in params]).encode()
    raw: dict[str, str] = {}
    for part in query_string.split("&"):
        name = part.partition("=")[0]
        if name in order:
            if name in raw:
                raise ValueError(f"{name} occurs twice in the query")
            raw[name] = part
    if message_param not in raw or "SigAlg" not in raw:
        raise ValueError("the query lacks the signed parameters")
    return "&".join(raw[name] for name in order if name in raw).encode("utf-8")
