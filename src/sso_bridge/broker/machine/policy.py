"""The broker's policy as the machine reads it.

:class:`Policy` is built once by the shell from a
:class:`~sso_bridge.broker.config.BrokerPolicy`. The two decisions that belong to other
parts (who needs a second factor, and the ESIA staff check) are given as functions of
values only: they must be pure, as the machine is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Literal

import attrs

from sso_bridge.model import EsiaOrganisation, LocalAccount

__all__ = ["Policy", "SecondFactorRule", "StaffRule"]

SecondFactorRule = Callable[[LocalAccount, str | None, bool], bool]
"""Whether a login of the account needs a second factor, given the login's issuer (None:
a local password) and whether the IdP reported one."""

StaffRule = Callable[[LocalAccount, tuple[EsiaOrganisation, ...] | None], bool]
"""Whether a federated login may use the account, given where ESIA lists the person as
working (None: not read); False refuses it (``broker.not_an_employee``)."""


@attrs.frozen(kw_only=True)
class Policy:
    """What the machine decides by (docs/matching.md, docs/broker.md): how strong a match
    links without a local login, how long a step lives, and the two rules above."""

    auto_link: Literal["any", "strong"]
    step_lifetime: timedelta
    second_factor: SecondFactorRule
    staff: StaffRule
    skew: timedelta = timedelta(seconds=60)
    """The clock tolerance when an IdP's ``auth_time`` is checked against a step's start."""
    shared_lifetime: timedelta | None = None
    """Shared-computer mode: the longest session of a login that asked for a fresh
    authentication (None: the mode is off)."""
