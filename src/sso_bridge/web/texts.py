"""The texts the pages show, by key, and what each error code tells the person.

The words themselves are in the message catalogues (:mod:`sso_bridge.web.catalogues`),
one per language: a page shows one language, that of its request. Keys are message ids:
a text ``key`` is the id ``key``, an error code's explanation ``error.<code>``
(:data:`GENERIC_ERROR_ID` for codes without one), a role's name ``role.<name>``, a
provider's name ``provider.<name>`` (optional: else its configured title).

To add a text, add its id with the words to every catalogue (``locale/<lang>/LC_MESSAGES/
sso_bridge.po``) and use ``t("key")`` in a template; to explain another error code, add
``error.<code>`` the same way. The mappings below are read from the catalogues.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from sso_bridge.web.catalogues import catalogue

__all__ = [
    "ERRORS",
    "ERROR_PREFIX",
    "GENERIC_ERROR",
    "GENERIC_ERROR_ID",
    "OLD_KEYS",
    "PROVIDER_PREFIX",
    "ROLE_NAMES",
    "ROLE_PREFIX",
    "TEXTS",
    "error_id",
    "error_text",
]

Pair = tuple[str, str]
"""A text in Russian and in English (what the catalogues hold for one id)."""

ERROR_PREFIX: Final = "error."
ROLE_PREFIX: Final = "role."
GENERIC_ERROR_ID: Final = "error.generic"
PROVIDER_PREFIX: Final = "provider."
"""A host's catalogue may name a provider per language: ``provider.<name>``."""

OLD_KEYS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "organization": "organisation",
        "organization_id": "organisation_id",
        "choose_organization": "choose_organisation",
    }
)
"""Keys of the old spelling, for page templates of the host; kept for one release."""


def _pairs() -> dict[str, Pair]:
    english = {str(m.id): str(m.string) for m in catalogue("en") if m.id}
    return {str(m.id): (str(m.string), english.get(str(m.id), "")) for m in catalogue("ru") if m.id}


_ALL: Final = _pairs()

TEXTS: Final[Mapping[str, Pair]] = MappingProxyType(
    {
        **{k: v for k, v in _ALL.items() if not k.startswith((ERROR_PREFIX, ROLE_PREFIX))},
        **{old: _ALL[new] for old, new in OLD_KEYS.items()},
    }
)
"""Every text of the pages by key, as ``(russian, english)``."""

GENERIC_ERROR: Final[Pair] = _ALL[GENERIC_ERROR_ID]

ERRORS: Final[Mapping[str, Pair]] = MappingProxyType(
    {
        k.removeprefix(ERROR_PREFIX): v
        for k, v in _ALL.items()
        if k.startswith(ERROR_PREFIX) and k != GENERIC_ERROR_ID
    }
)
"""What to tell the person for each error code the pages explain; the rest get
:data:`GENERIC_ERROR` and the code."""

ROLE_NAMES: Final[Mapping[str, Pair]] = MappingProxyType(
    {k.removeprefix(ROLE_PREFIX): v for k, v in _ALL.items() if k.startswith(ROLE_PREFIX)}
)
"""How the chooser and the account switcher name the common roles; others show as given."""


def error_text(code: str) -> Pair | None:
    """The explanation of ``code``, or None when the generic text applies."""
    return ERRORS.get(code)


def error_id(code: str) -> str:
    """The message id explaining ``code`` (the generic one for codes without their own)."""
    return ERROR_PREFIX + code if code in ERRORS else GENERIC_ERROR_ID
