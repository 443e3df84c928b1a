"""The provider plug-in interface: what the broker needs of an identity provider.

An :class:`IdentityProvider` starts a login (:meth:`~IdentityProvider.start`: where the
browser goes, and what the login step must remember) and checks the IdP's answer
(:meth:`~IdentityProvider.finish`: a :class:`VerifiedLogin`). The broker
(:class:`sso_bridge.broker.Broker`) runs any object of this shape; generic OpenID Connect
(:class:`sso_bridge.oidc.provider.OidcProvider`), SAML
(:class:`sso_bridge.broker.providers.SamlProvider`) and ESIA
(:class:`sso_bridge.esia.provider.EsiaProvider`) are three. docs/broker.md, "Writing a
provider", shows a fourth.

A policy of the broker that needs more than the identity asks for it by an :class:`Extra`
key in :class:`Asks`; a provider that knows the answer puts it in
:attr:`VerifiedLogin.extras` under the same key, and any other provider ignores the
question (the staff-role policy's organisations, :data:`sso_bridge.esia.roles.ORGANISATIONS`,
are one).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, cast

import attrs

from sso_bridge.model import FederatedIdentity, IdpSession

__all__ = [
    "FRESH",
    "NO_ASKS",
    "NO_REQUIREMENTS",
    "Answer",
    "Asks",
    "AuthnRequirements",
    "Extra",
    "IdentityProvider",
    "PostTo",
    "RedirectTo",
    "Remembered",
    "Started",
    "VerifiedLogin",
    "accepts_requirements",
]

Q = TypeVar("Q")
A = TypeVar("A")

Answer = Mapping[str, str]
"""The IdP's answer as the browser brought it: the query parameters of a redirect
binding (an OpenID Connect callback), the form fields of a POST (a SAML ACS post)."""

Remembered = Mapping[str, Any]
"""What a provider keeps in the login step between start and finish: JSON-serialisable
(text, numbers, booleans, None, lists and mappings of them), opaque to the broker."""


@attrs.frozen
class RedirectTo:
    """Send the browser to ``url`` (HTTP 303)."""

    url: str


@attrs.frozen
class PostTo:
    """Have the browser POST ``fields`` to ``url`` (e.g. the SAML HTTP-POST binding)."""

    url: str
    fields: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class Started:
    """A login begun at the IdP.

    ``go`` is what the browser must do. ``step_id`` is the value the IdP's answer brings
    back (OpenID Connect ``state``, SAML ``RelayState``): the broker keeps the login step
    under it, so it must be unguessable (256 bits of randomness or a UUID4) and at most
    128 characters. ``remembered`` is given back to :meth:`IdentityProvider.finish`.
    """

    go: RedirectTo | PostTo
    step_id: str
    remembered: Remembered = attrs.field(factory=dict)


class Extra(Generic[Q, A]):
    """A key for something beyond the identity that a policy may ask a provider for:
    asked with a question of type ``Q``, answered with an ``A``. Keys compare by identity;
    define each once, at module level."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Extra({self.name!r})"


@attrs.frozen
class Asks:
    """What the broker's policies ask the provider for beyond the identity, each under its
    :class:`Extra` key with its question. A provider answers what it can and ignores the rest."""

    questions: Mapping[Extra[Any, Any], object] = attrs.field(factory=dict)

    def __contains__(self, key: object) -> bool:
        return key in self.questions

    def question(self, key: Extra[Q, Any]) -> Q | None:
        """The question asked under ``key`` (None: not asked)."""
        return cast("Q | None", self.questions.get(key))

    def asking(self, key: Extra[Q, Any], question: Q) -> Asks:
        """These asks and ``key`` with ``question``."""
        return Asks({**self.questions, key: question})


NO_ASKS: Asks = Asks()
"""Nothing is asked beyond the identity."""


@attrs.frozen
class AuthnRequirements:
    """How the broker wants the IdP to authenticate the person this time.

    ``force``: authenticate afresh even if the IdP holds a session (OpenID Connect
    ``prompt=login``, SAML ``ForceAuthn="true"``). ``max_age``: the longest time, in
    seconds, since the person last authenticated at the IdP (OpenID Connect ``max_age``;
    SAML has no such field and forces instead). ``acr_values``: the authentication context
    classes asked for, any one of them (OpenID Connect ``acr_values``, SAML
    ``RequestedAuthnContext``). The broker checks the answer itself; a provider only asks.
    """

    force: bool = False
    max_age: int | None = attrs.field(default=None)
    acr_values: tuple[str, ...] = ()

    @max_age.validator
    def _max_age(self, _: object, value: int | None) -> None:
        if value is not None and (type(value) is not int or value < 0):
            raise ValueError(f"max_age must be a non-negative integer, not {value!r}")

    @property
    def any(self) -> bool:
        """Whether anything is asked beyond an ordinary login."""
        return self.force or self.max_age is not None or bool(self.acr_values)


NO_REQUIREMENTS: AuthnRequirements = AuthnRequirements()
"""An ordinary login: the IdP may use the session it holds."""

FRESH: AuthnRequirements = AuthnRequirements(force=True, max_age=0)
"""A fresh authentication: the person types their credentials at the IdP again."""


@attrs.frozen
class VerifiedLogin:
    """The IdP's answer, verified: who logged in and what the IdP said about how.

    ``amr`` and ``acr`` are the OpenID Connect authentication methods and context class
    and ``authn_context`` the SAML ``AuthnContextClassRef``, as the IdP reported them (None:
    not reported); the broker's second-factor policy reads them. ``not_on_or_after`` bounds
    the session (SAML ``SessionNotOnOrAfter``). ``auth_time`` is when the IdP last
    authenticated the person (OpenID Connect ``auth_time``, SAML ``AuthnInstant``; None: not
    reported). ``unsolicited`` marks an answer that no
    login of ours asked for (IdP-initiated SAML; it never links). ``extras`` holds the
    answers to the broker's :class:`Asks`, each under its :class:`Extra` key.
    """

    identity: FederatedIdentity
    amr: tuple[str, ...] | None = None
    acr: str | None = None
    authn_context: str | None = None
    not_on_or_after: datetime | None = None
    auth_time: datetime | None = None
    unsolicited: bool = False
    extras: Mapping[Extra[Any, Any], object] = attrs.field(factory=dict)
    idp_session: IdpSession | None = None
    """The IdP's own session, for logging out there (None: nothing known of it)."""

    def answer(self, key: Extra[Any, A]) -> A | None:
        """The answer under ``key`` (None: not asked, or the provider does not know it)."""
        return cast("A | None", self.extras.get(key))


class IdentityProvider(Protocol):
    """A federated IdP that the broker logs people in through.

    ``name`` is its stable id in URLs (``/login/{name}``, ``/callback/{name}``) and in
    login steps; ``title`` what the login page shows; ``enabled`` False switches it off;
    ``issuer`` the issuer of the identities it verifies (the key of links).
    """

    @property
    def name(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def enabled(self) -> bool: ...

    @property
    def issuer(self) -> str: ...

    def start(self, *, now: datetime, authn: AuthnRequirements = NO_REQUIREMENTS) -> Started:
        """Begin a login at the IdP (``now`` is the request's time), asking for the
        authentication ``authn`` describes. A provider written before ``authn`` existed
        (a ``start(*, now)``) still serves ordinary logins; the broker refuses to use it
        where a fresh authentication is required (``config.invalid``)."""
        ...

    def step_id(self, answer: Answer) -> str | None:
        """The step id that ``answer`` brings back ("" when it lacks one). None only for an
        answer that may come unasked (IdP-initiated); it is then finished without a step."""
        ...

    def finish(
        self,
        answer: Answer,
        remembered: Remembered | None,
        *,
        now: datetime,
        asks: Asks = NO_ASKS,
    ) -> VerifiedLogin:
        """Check ``answer`` against what :meth:`start` remembered (None: an unsolicited
        answer) and give the verified login, with the answers to ``asks`` it knows.
        Refusals are :class:`~sso_bridge.errors.BridgeError` subclasses with a stable code."""
        ...


def accepts_requirements(provider: object) -> bool:
    """Whether ``provider.start`` takes the ``authn`` keyword (or any keyword)."""
    try:
        parameters = inspect.signature(provider.start).parameters  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        return False
    return "authn" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
