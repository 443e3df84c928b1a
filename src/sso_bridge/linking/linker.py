"""Linking: the rules that turn a match (or an administrator) into a link.

Every method either makes one link in one transaction together with its audit event, or
refuses with a :class:`~sso_bridge.errors.LinkError` (also audited) and changes nothing.

=================  ====================================================================
method             when it may link
=================  ====================================================================
``auto``           verified identity, exactly one candidate
``chosen``         verified identity, the picked account is one of its candidates now
``local-login``    any identity, after the person logged in to that account locally
``settings``       any identity, started from the settings of a logged-in account
``admin``          an administrator; only the database constraints apply
=================  ====================================================================

``local-login`` and ``settings`` refuse a blocked account and one whose SNILS differs from
the identity's: a SNILS conflict always vetoes (docs/matching.md). ``settings`` also
refuses an identity that does not agree with the account (``link.identity_mismatch``): the
full name must be the same as record matching normalises it, and the birth date and the
passport the same wherever both sides have one (docs/reauthentication.md).
"""

from __future__ import annotations

from typing import NoReturn
from urllib.parse import urlsplit

import attrs

from sso_bridge.audit.ports import AuditLog
from sso_bridge.clock import Clock, SystemClock
from sso_bridge.errors import (
    AccountNotFound,
    BridgeError,
    Code,
    LinkInputError,
    LinkRefused,
    declare,
)
from sso_bridge.linking.ports import LinkStore
from sso_bridge.matching import Matcher, MatchKeys, identity_keys
from sso_bridge.matching.ports import AccountDirectory
from sso_bridge.model import (
    AuditAction,
    AuditEvent,
    FederatedIdentity,
    Link,
    LinkMethod,
    Outcome,
)
from sso_bridge.observe import log_audit_event, log_unrecorded

__all__ = [
    "IdentityMismatch",
    "LinkResult",
    "Linker",
    "RequestContext",
    "check_admin_identity",
    "disagreement",
]


class IdentityMismatch(LinkRefused):
    """The identity brought back to link from settings is not the account's person."""

    codes = declare(
        Code(
            "link.identity_mismatch",
            409,
            "The identity's name, birth date or passport is not the account's; ask an admin.",
        ),
    )
    code = "link.identity_mismatch"

    def __init__(self, message: str, *, code: str | None = None, differing: str = "") -> None:
        super().__init__(message, code=code)
        self.differing = differing
        """The field that disagrees (as :func:`disagreement` names it), never its values."""


def disagreement(identity: MatchKeys, account: MatchKeys) -> str | None:
    """Which field of ``identity`` disagrees with ``account`` (None: they agree): the full
    name (as normalised for matching; a middle name absent on one side is no difference),
    the birth date or the passport where both sides have one. Names the field, never the
    values."""
    if not identity.last or not identity.first or not identity.same_person_name(account):
        return "full name"
    if None not in (identity.birth_date, account.birth_date) and (
        identity.birth_date != account.birth_date
    ):
        return "birth date"
    if None not in (identity.passport, account.passport) and identity.passport != account.passport:
        return "passport"
    return None


def check_admin_identity(issuer: str, subject: str) -> None:
    """Refuse an issuer that is not an absolute http(s) URL, or an empty subject."""
    try:
        host = urlsplit(issuer).hostname
        scheme = urlsplit(issuer).scheme
    except ValueError:  # a malformed IPv6 host or port
        host = scheme = ""
    if scheme not in ("http", "https") or not host or not issuer.isprintable() or " " in issuer:
        raise LinkInputError(
            f"the issuer {issuer!r} is not an absolute http(s) URL", code="link.bad_issuer"
        )
    if not subject.strip() or not subject.isprintable():
        raise LinkInputError(
            "the subject is empty or holds control characters", code="link.bad_subject"
        )


@attrs.frozen
class RequestContext:
    """Who asks, and from where: written to every link and audit event."""

    actor: str
    ip: str | None = None


@attrs.frozen
class LinkResult:
    link: Link
    created: bool


class Linker:
    """Makes and removes links under the rules of docs/matching.md."""

    def __init__(
        self,
        directory: AccountDirectory,
        links: LinkStore,
        audit: AuditLog,
        clock: Clock | None = None,
    ) -> None:
        self._directory = directory
        self._links = links
        self._audit = audit
        self._clock = clock or SystemClock()
        self._matcher = Matcher(directory)

    def link_auto(
        self, identity: FederatedIdentity, ctx: RequestContext, *, keys: MatchKeys | None = None
    ) -> LinkResult:
        """Link a verified identity to its only candidate (outcome ``AUTO_LINK``).

        Every linking method takes optional ``keys``: the identity's match keys, for a caller
        that kept only the keyed hashes of its SNILS and passport.
        """
        decision = self._matcher.match(identity, keys)
        if decision.outcome is not Outcome.AUTO_LINK:
            self._refuse(
                identity,
                None,
                LinkMethod.AUTO,
                ctx,
                LinkRefused(
                    f"matching gives {decision.outcome.value}, not AUTO_LINK",
                    code="link.not_automatic",
                ),
            )
        account_id = decision.candidates[0].account.account_id
        return self._create(identity.issuer, identity.subject, account_id, LinkMethod.AUTO, ctx)

    def link_chosen(
        self,
        identity: FederatedIdentity,
        account_id: str,
        ctx: RequestContext,
        *,
        keys: MatchKeys | None = None,
    ) -> LinkResult:
        """Link the account a verified person picked; it must be a candidate *now*."""
        decision = self._matcher.match(identity, keys)
        if decision.outcome is Outcome.LOCAL_LOGIN_REQUIRED:
            self._refuse(
                identity,
                account_id,
                LinkMethod.CHOSEN,
                ctx,
                LinkRefused(
                    "the identity is not verified; a local login is required",
                    code="link.not_verified",
                ),
            )
        if account_id not in {c.account.account_id for c in decision.candidates}:
            self._refuse(
                identity,
                account_id,
                LinkMethod.CHOSEN,
                ctx,
                LinkRefused(
                    f"account {account_id!r} is not a candidate for this identity",
                    code="link.not_a_candidate",
                ),
            )
        return self._create(identity.issuer, identity.subject, account_id, LinkMethod.CHOSEN, ctx)

    def link_after_local_login(
        self,
        identity: FederatedIdentity,
        account_id: str,
        ctx: RequestContext,
        *,
        keys: MatchKeys | None = None,
    ) -> LinkResult:
        """Link after the person proved the local account by logging in to it."""
        return self._link_owned(identity, account_id, LinkMethod.LOCAL_LOGIN, ctx, keys)

    def link_from_settings(
        self,
        identity: FederatedIdentity,
        account_id: str,
        ctx: RequestContext,
        *,
        keys: MatchKeys | None = None,
    ) -> LinkResult:
        """Link from the settings of the logged-in local account ``account_id``."""
        return self._link_owned(identity, account_id, LinkMethod.SETTINGS, ctx, keys)

    def link_admin(
        self, issuer: str, subject: str, account_id: str, ctx: RequestContext
    ) -> LinkResult:
        """Link by an administrator's decision; only the database constraints apply.

        The issuer must be an absolute http(s) URL and the subject not empty, and neither
        may hold control characters (``link.bad_issuer``, ``link.bad_subject``).
        """
        check_admin_identity(issuer, subject)
        return self._create(issuer, subject, account_id, LinkMethod.ADMIN, ctx)

    def unlink(
        self,
        issuer: str,
        subject: str,
        account_id: str,
        ctx: RequestContext,
        method: LinkMethod = LinkMethod.ADMIN,
    ) -> Link:
        """Remove one link; ``link.not_found`` when there is none."""
        event = self._event(AuditAction.UNLINK, issuer, subject, account_id, method, ctx)
        removed = self._links.remove_link(issuer, subject, account_id, event)
        log_audit_event(event)
        return removed

    # -- internals ------------------------------------------------------------------------

    def _link_owned(
        self,
        identity: FederatedIdentity,
        account_id: str,
        method: LinkMethod,
        ctx: RequestContext,
        keys: MatchKeys | None,
    ) -> LinkResult:
        entry = self._directory.get_entry(account_id, identity.issuer)
        if entry is None:
            self._refuse(
                identity,
                account_id,
                method,
                ctx,
                AccountNotFound(f"no local account {account_id!r}"),
            )
        if not entry.account.active:
            self._refuse(
                identity,
                account_id,
                method,
                ctx,
                LinkRefused(f"account {account_id!r} is blocked", code="link.account_blocked"),
            )
        if keys is None:
            keys, _ = identity_keys(identity, self._directory.blind_index)
        if keys.snils is not None and entry.keys.snils not in (None, keys.snils):
            self._refuse(
                identity,
                account_id,
                method,
                ctx,
                LinkRefused(
                    "the account's SNILS differs from the identity's", code="link.snils_conflict"
                ),
            )
        differing = disagreement(keys, entry.keys) if method is LinkMethod.SETTINGS else None
        if differing is not None:
            self._refuse(
                identity,
                account_id,
                method,
                ctx,
                IdentityMismatch(
                    f"the identity's {differing} differs from the account's", differing=differing
                ),
            )
        return self._create(identity.issuer, identity.subject, account_id, method, ctx)

    def _create(
        self,
        issuer: str,
        subject: str,
        account_id: str,
        method: LinkMethod,
        ctx: RequestContext,
    ) -> LinkResult:
        now = self._clock.now()
        link = Link(issuer, subject, account_id, method, now, ctx.actor, ctx.ip)
        event = self._event(AuditAction.LINK, issuer, subject, account_id, method, ctx)
        try:
            stored, created = self._links.create_link(link, event)
        except BridgeError as exc:
            self._record_refusal(
                attrs.evolve(
                    event, action=AuditAction.LINK_REFUSED, code=exc.code, detail=exc.message
                )
            )
            raise
        if created:
            log_audit_event(event)
        return LinkResult(stored, created)

    def _record_refusal(self, event: AuditEvent) -> None:
        # the refusal goes out even when the trail cannot take its record; the log says so
        try:
            log_audit_event(self._audit.record(event))
        except BridgeError as exc:
            log_unrecorded(event, exc)

    def _event(
        self,
        action: AuditAction,
        issuer: str,
        subject: str,
        account_id: str | None,
        method: LinkMethod,
        ctx: RequestContext,
    ) -> AuditEvent:
        return AuditEvent(
            action=action,
            at=self._clock.now(),
            actor=ctx.actor,
            method=method,
            issuer=issuer,
            subject=subject,
            account_id=account_id,
            ip=ctx.ip,
        )

    def _refuse(
        self,
        identity: FederatedIdentity,
        account_id: str | None,
        method: LinkMethod,
        ctx: RequestContext,
        error: BridgeError,
    ) -> NoReturn:
        event = self._event(
            AuditAction.LINK_REFUSED, identity.issuer, identity.subject, account_id, method, ctx
        )
        self._record_refusal(attrs.evolve(event, code=error.code, detail=error.message))
        raise error
