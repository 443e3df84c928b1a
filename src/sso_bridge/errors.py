"""One exception hierarchy for the whole library.

Every error carries a stable machine ``code`` (``"link.conflict"``) that callers, logs and
the CLI can rely on, and a human ``message``. Codes never change meaning once published.

Codes come in families, named by the part before the dot (``saml.*``, ``oidc.*``). Each
family has one base class (``family = "saml"``) and every code is declared, with its HTTP
status and meaning, in the ``codes`` of that base class or of a subclass, beside the
class that raises it. An error can only carry a code its class or one of its ancestors of
the same family declares, so catching a family's class (``except SamlError``) catches
every code of that family. :mod:`sso_bridge.codes` collects the declarations into the
registry, and ``docs/errors.md`` is generated from it.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import ClassVar

import attrs


@attrs.frozen
class Code:
    """One error code: its dotted ``name``, the HTTP ``status``, and its ``meaning``."""

    name: str
    status: int
    meaning: str

    @property
    def family(self) -> str:
        """The part of the name before the first dot."""
        return self.name.partition(".")[0]


def declare(*entries: Code) -> tuple[Code, ...]:
    """The ``codes`` of an error class: ``codes = declare(Code(...), ...)``."""
    return entries


_DECLARED: dict[str, Code] = {}
_DECLARED_BY: dict[str, type[BridgeError]] = {}
_FAMILIES: dict[str, type[BridgeError]] = {}


def declared() -> Mapping[str, Code]:
    """Every code declared by the error classes imported so far (read-only view)."""
    return MappingProxyType(_DECLARED)


def declared_by(code: str) -> type[BridgeError]:
    """The class whose ``codes`` declare ``code``; ``KeyError`` for an unknown code."""
    return _DECLARED_BY[code]


def family_class(family: str) -> type[BridgeError]:
    """The base class of ``family`` (``"saml"`` -> ``SamlError``); ``KeyError`` if none."""
    return _FAMILIES[family]


class BridgeError(Exception):
    """Root of every error sso_bridge raises on purpose.

    Subclasses set ``family`` to start a family, list the codes they add in ``codes``
    and may set ``code``, the default of an error built without one. Building an error
    with a code its class may not carry raises ``ValueError``.
    """

    family: ClassVar[str] = "bridge"
    about: ClassVar[str] = "The root of the hierarchy."
    codes: ClassVar[tuple[Code, ...]] = declare(
        Code("bridge.error", 500, "An unexpected sso_bridge error; report it with its message."),
    )
    allowed: ClassVar[frozenset[str]] = frozenset()
    code: str = "bridge.error"
    retry_after: timedelta | None = None
    """How long until the refused step may succeed, when a limit says (``Retry-After``)."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _declare(cls)

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if self.code not in self.allowed:
            raise ValueError(
                f"{type(self).__name__} cannot carry the code {self.code!r}: its codes are "
                f"the {self.family}.* codes declared by it or its ancestors"
            )

    @property
    def http_status(self) -> int:
        """The HTTP status of :attr:`code`, as declared with it."""
        return _DECLARED[self.code].status

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _name(cls: type) -> str:
    # a module imported twice (a reload) declares the same classes again, which is fine
    return f"{cls.__module__}.{cls.__qualname__}"


def _declare(cls: type[BridgeError]) -> None:
    """Record the family and the codes of ``cls`` and work out the codes it may carry."""
    own = vars(cls)
    if "family" in own:
        holder = _FAMILIES.setdefault(cls.family, cls)
        if _name(holder) != _name(cls):
            raise TypeError(f"{cls.__qualname__}: the family {cls.family!r} is {holder}'s")
        _FAMILIES[cls.family] = cls
    for entry in own.get("codes", ()):
        if entry.family != cls.family:
            raise TypeError(f"{cls.__qualname__} declares {entry.name!r} outside {cls.family}.*")
        earlier = _DECLARED_BY.get(entry.name)
        if earlier is not None and _name(earlier) != _name(cls):
            raise TypeError(f"{entry.name!r} is declared twice: {earlier} and {cls}")
        _DECLARED[entry.name] = entry
        _DECLARED_BY[entry.name] = cls
    cls.allowed = frozenset(
        entry.name
        for klass in cls.__mro__
        if issubclass(klass, BridgeError) and klass.family == cls.family
        for entry in vars(klass).get("codes", ())
    )
    if "code" in own and cls.code not in cls.allowed:
        raise TypeError(f"{cls.__qualname__}.code {cls.code!r} is not one of its codes")


_declare(BridgeError)


class ConfigError(BridgeError):
    """The library was set up wrongly (missing key, bad database URL, ...)."""

    family = "config"
    about = (
        "The library's own settings: the database URL and the blind-index key "
        "([cli.md](cli.md#the-database-and-its-key))."
    )
    codes = declare(
        Code("config.invalid", 500, "A setting is wrong; the message names it."),
        Code("config.bad_db_url", 500, "The database URL is not sqlite: or postgresql:; fix --db."),
        Code(
            "config.key_missing", 500, "No blind-index key found; set SSO_BRIDGE_KEY or --key-file."
        ),
        Code("config.bad_key", 500, "The blind-index key is not 64 or more hex digits."),
        Code("config.key_too_short", 500, "The blind-index key has fewer than 32 bytes."),
        Code(
            "config.bad_store_url",
            500,
            "The short-lived store URL is not memory:, sqlite:///FILE, postgresql:// or redis://.",
        ),
        Code(
            "config.bad_store_setting",
            500,
            "A database or Redis setting (a timeout, a pool size) is out of range; "
            "the message names it.",
        ),
    )
    code = "config.invalid"


class InvalidInput(BridgeError):
    """Data handed to the library does not have the required form.

    The families of particular kinds of input (``identity.*``, ``snils.*``, ``otp.*``,
    ...) subclass it, so ``except InvalidInput`` catches all of them.
    """

    family = "input"
    about = "Data handed to the library in the wrong form."
    codes = declare(
        Code("input.invalid", 400, "The data does not have the required form; see the message."),
        Code("input.bad_json", 400, "The JSON is malformed, too large, too deep or out of range."),
        Code("input.bad_base64url", 400, "A value is not strict unpadded base64url."),
        Code("input.bad_pkce_verifier", 400, "A PKCE code_verifier must be ASCII."),
        Code("input.bad_ip", 400, "A client or forwarded IP address is malformed."),
        Code(
            "input.control_characters", 400, "An identifier holds control or invisible characters."
        ),
    )
    code = "input.invalid"


class IdentityError(InvalidInput):
    """A federated identity given as JSON is malformed."""

    family = "identity"
    about = "A federated identity given as JSON (`sso-bridge match`)."
    codes = declare(
        Code("identity.bad_json", 400, "The identity is not valid JSON."),
        Code(
            "identity.invalid", 400, "The identity is not a JSON object or a field has a bad type."
        ),
        Code("identity.unknown_field", 400, "The identity has unknown fields; remove them."),
        Code("identity.missing_subject", 400, "The identity lacks its issuer or subject."),
    )
    code = "identity.invalid"


class SnilsError(InvalidInput):
    """A SNILS (the insurance number) is malformed."""

    family = "snils"
    about = "SNILS numbers, in identities and import files ([matching.md](matching.md))."
    codes = declare(Code("snils.malformed", 400, "A SNILS must have 11 digits."))
    code = "snils.malformed"


class SnilsChecksum(SnilsError):
    """A SNILS of the right form whose check digits are wrong: a mistyped number."""

    codes = declare(
        Code("snils.checksum", 400, "The SNILS check digits are wrong; the number is mistyped."),
    )
    code = "snils.checksum"


class PassportError(InvalidInput):
    """A passport number is malformed."""

    family = "passport"
    about = "Passport numbers, in identities and import files."
    codes = declare(
        Code("passport.malformed", 400, "A passport needs a 4-digit series and a 6-digit number."),
    )
    code = "passport.malformed"


class DateError(InvalidInput):
    """A date of birth is malformed."""

    family = "date"
    about = "Dates of birth."
    codes = declare(Code("date.malformed", 400, "A date must be YYYY-MM-DD or DD.MM.YYYY."))
    code = "date.malformed"


class StoreError(BridgeError):
    """The storage backend refused or could not serve a request."""

    family = "store"
    about = "The database."
    codes = declare(
        Code("store.error", 500, "The database reported an error; the message gives its reason."),
        Code("store.unavailable", 503, "The database cannot be reached; check the server and URL."),
        Code(
            "store.write_failed", 503, "A database write failed (locked, full or offline); retry."
        ),
        Code("store.schema_too_new", 500, "A newer sso_bridge made this database; upgrade."),
        Code("store.key_mismatch", 500, "The database was built with another blind-index key."),
        Code("store.unknown_organization", 400, "Accounts name an organisation that is not known."),
        Code(
            "store.not_found",
            404,
            "The database does not exist or has no schema; create it with sso-bridge init.",
        ),
        Code(
            "store.credentials_key_mismatch",
            500,
            "The TOTP secrets were sealed with another credentials key; use that key.",
        ),
    )
    code = "store.error"

    transient: ClassVar[frozenset[str]] = frozenset({"store.unavailable", "store.write_failed"})
    """Codes that a later try may not meet: they carry a ``retry_after``."""
    retry_delay: ClassVar[timedelta] = timedelta(seconds=5)
    """The ``retry_after`` of a transient code when the raiser gives none."""

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: timedelta | None = None
    ) -> None:
        super().__init__(message, code=code)
        if retry_after is None and self.code in self.transient:
            retry_after = self.retry_delay
        self.retry_after = retry_after


class StoreNotFound(StoreError):
    """The database does not exist or has no schema yet."""

    code = "store.not_found"


class AccountNotFound(BridgeError):
    """No local account has the ID asked for."""

    family = "account"
    about = "Local accounts."
    codes = declare(Code("account.not_found", 404, "No local account has this ID."))
    code = "account.not_found"


class LinkError(BridgeError):
    """A link could not be made or removed; nothing was changed."""

    family = "link"
    about = (
        "Links between federated identities and local accounts "
        "([matching.md](matching.md#linking))."
    )
    codes = declare(
        Code("link.error", 409, "A link could not be made or removed; nothing was changed."),
        Code("link.refused", 403, "A linking rule forbids this link."),
        Code("link.conflict", 409, "The account links to another subject of this IdP; unlink it."),
        Code("link.not_found", 404, "There is no such link."),
        Code(
            "link.not_automatic", 409, "No single safe candidate; let the person choose or log in."
        ),
        Code(
            "link.not_verified", 403, "The identity is unverified; the person must log in locally."
        ),
        Code("link.not_a_candidate", 403, "The chosen account is not (or no longer) a candidate."),
        Code(
            "link.account_blocked", 403, "The local account is blocked; unblock it before linking."
        ),
        Code("link.snils_conflict", 409, "The SNILS of account and identity differ; check both."),
        Code("link.bad_issuer", 400, "The issuer of a link is not an absolute http(s) URL."),
        Code(
            "link.bad_subject", 400, "The subject of a link is empty or holds control characters."
        ),
    )
    code = "link.error"


class LinkConflict(LinkError):
    """The local account already links to another subject of the same issuer."""

    code = "link.conflict"


class LinkNotFound(LinkError):
    code = "link.not_found"


class LinkRefused(LinkError):
    """A linking rule forbids this link (blocked account, SNILS conflict, not a candidate)."""

    code = "link.refused"


class LinkInputError(LinkError, InvalidInput):
    """The issuer or subject of a link is malformed; also an :class:`InvalidInput`."""

    code = "link.bad_subject"


class MatchError(BridgeError):
    """The match command cannot decide on its own."""

    family = "match"
    about = "The `sso-bridge match` command."
    codes = declare(
        Code("match.choice_required", 409, "Several accounts match; name one with --account."),
    )
    code = "match.choice_required"


class UsageError(InvalidInput):
    """The command-line options do not fit together."""

    family = "cli"
    about = "The command line."
    codes = declare(
        Code(
            "cli.usage", 400, "The command-line options do not fit together; the message says how."
        ),
    )
    code = "cli.usage"


_MOVED_TO_IMPORTING = frozenset({"RowError", "ImportFileError", "ImportRejected"})


def __getattr__(name: str) -> object:
    """The import family's classes moved to :mod:`sso_bridge.importing.errors`; the old
    names resolve here for one release, with a :class:`DeprecationWarning`."""
    if name in _MOVED_TO_IMPORTING:
        warnings.warn(
            f"sso_bridge.errors.{name} moved to sso_bridge.importing.errors",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("sso_bridge.importing.errors"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
