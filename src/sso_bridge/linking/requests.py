"""Pending link requests: a link from settings refused only because the identity does not
agree with the account, queued for an administrator to approve or refuse
(docs/reauthentication.md, "Queued link requests").

A request is kept once per (account, issuer, subject) and expires after
:data:`DEFAULT_TTL` unless its time to live is set otherwise. Approving makes an ``admin``
link through :class:`~sso_bridge.linking.Linker` with the operator as its actor, then
consumes the request; refusing consumes it and writes a ``link_request_refused`` record.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

import attrs

from sso_bridge.audit.ports import AuditLog
from sso_bridge.clock import Clock, SystemClock
from sso_bridge.errors import BridgeError, Code, InvalidInput, declare
from sso_bridge.linking.linker import Linker, RequestContext
from sso_bridge.model import AuditAction, AuditEvent, Link, LinkMethod
from sso_bridge.observe import log_audit_event

__all__ = [
    "DEFAULT_TTL",
    "MAX_PENDING",
    "InMemoryLinkRequestStore",
    "LinkRequest",
    "LinkRequestError",
    "LinkRequestInputError",
    "LinkRequestNotFound",
    "LinkRequestStore",
    "LinkRequests",
    "check_request_id",
    "new_request_id",
]

DEFAULT_TTL = timedelta(days=30)
"""How long a request waits for an administrator before it expires."""
MAX_PENDING = 1000
"""The most requests one listing returns."""
MAX_OPERATOR = 128
"""The longest operator id written as the actor."""

_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class LinkRequestError(BridgeError):
    """A pending link request could not be found, approved or refused; nothing changed."""

    family = "link_request"
    about = (
        "Link requests queued for an administrator "
        "([reauthentication.md](reauthentication.md#queued-link-requests))."
    )
    codes = declare(
        Code(
            "link_request.not_found",
            404,
            "No pending link request has this ID (approved, refused or expired already).",
        ),
        Code(
            "link_request.bad_id",
            400,
            "A link request ID is 1 to 64 letters, digits, '-' or '_'.",
        ),
        Code(
            "link_request.bad_operator",
            400,
            "The operator is empty, longer than 128 characters or holds control characters.",
        ),
    )
    code = "link_request.not_found"


class LinkRequestNotFound(LinkRequestError):
    """No pending request has this id: never made, consumed already, or expired."""

    code = "link_request.not_found"


class LinkRequestInputError(LinkRequestError, InvalidInput):
    """A malformed request id or operator; also an :class:`~sso_bridge.errors.InvalidInput`."""

    code = "link_request.bad_id"


@attrs.frozen
class LinkRequest:
    """A person's request to link (issuer, subject) to ``account_id``, waiting for an
    administrator. ``differing`` names the field that disagreed, never its values."""

    request_id: str
    account_id: str
    issuer: str
    subject: str
    differing: str
    created_at: datetime
    ip: str | None = None


_ID_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-"
_ID_LENGTH = 22  # 54 letters: 126 bits


def new_request_id() -> str:
    """A fresh, unguessable request id (22 URL-safe characters, 126 bits). It has no
    digits: the audit trail masks every run of four digits in a record's ``detail``, where
    the id is written, and an id masked there could no longer be found."""
    return "".join(secrets.choice(_ID_LETTERS) for _ in range(_ID_LENGTH))


def check_request_id(request_id: str) -> str:
    """``request_id`` when it has the form of one; ``link_request.bad_id`` otherwise."""
    if not isinstance(request_id, str) or _REQUEST_ID.fullmatch(request_id) is None:
        raise LinkRequestInputError("that is not a link request ID", code="link_request.bad_id")
    return request_id


def _check_operator(operator: str) -> str:
    if (
        not isinstance(operator, str)
        or not operator.strip()
        or len(operator) > MAX_OPERATOR
        or not operator.isprintable()
    ):
        raise LinkRequestInputError(
            "the operator must be 1 to 128 printable characters",
            code="link_request.bad_operator",
        )
    return operator


@runtime_checkable
class LinkRequestStore(Protocol):
    """Where pending link requests are kept: one per (account, issuer, subject)."""

    def add(self, request: LinkRequest) -> LinkRequest:
        """Keep ``request``; when one for the same (account, issuer, subject) is kept
        already, keep nothing and return that one."""
        ...

    def pending(
        self,
        *,
        account_id: str | None = None,
        limit: int = 100,
        created_after: datetime | None = None,
    ) -> list[LinkRequest]:
        """Kept requests, oldest first: only ``account_id``'s and only those created after
        ``created_after``, when given."""
        ...

    def get(self, request_id: str) -> LinkRequest | None:
        """The kept request with this id, or None."""
        ...

    def consume(self, request_id: str) -> LinkRequest | None:
        """Remove and return the request with this id; None when there is none (so of two
        callers consuming one request, exactly one gets it)."""
        ...

    def expire(self, before: datetime) -> int:
        """Remove the requests created before ``before``; how many were removed."""
        ...

    def erase_account(self, account_id: str) -> int:
        """Remove every request for ``account_id``; how many were removed."""
        ...

    def erase_subject(self, issuer: str, subject: str) -> int:
        """Remove every request of (issuer, subject); how many were removed."""
        ...


class InMemoryLinkRequestStore:
    """A :class:`LinkRequestStore` in memory, for tests and single-process hosts."""

    def __init__(self) -> None:
        self._requests: dict[str, LinkRequest] = {}
        self._lock = threading.Lock()

    def add(self, request: LinkRequest) -> LinkRequest:
        key = (request.account_id, request.issuer, request.subject)
        with self._lock:
            for kept in self._requests.values():
                if (kept.account_id, kept.issuer, kept.subject) == key:
                    return kept
            self._requests[request.request_id] = request
            return request

    def pending(
        self,
        *,
        account_id: str | None = None,
        limit: int = 100,
        created_after: datetime | None = None,
    ) -> list[LinkRequest]:
        with self._lock:
            found = [
                r
                for r in self._requests.values()
                if (account_id is None or r.account_id == account_id)
                and (created_after is None or r.created_at > created_after)
            ]
        found.sort(key=lambda r: (r.created_at, r.request_id))
        return found[: max(0, limit)]

    def get(self, request_id: str) -> LinkRequest | None:
        with self._lock:
            return self._requests.get(request_id)

    def consume(self, request_id: str) -> LinkRequest | None:
        with self._lock:
            return self._requests.pop(request_id, None)

    def expire(self, before: datetime) -> int:
        return self._drop(lambda r: r.created_at < before)

    def erase_account(self, account_id: str) -> int:
        return self._drop(lambda r: r.account_id == account_id)

    def erase_subject(self, issuer: str, subject: str) -> int:
        return self._drop(lambda r: (r.issuer, r.subject) == (issuer, subject))

    def _drop(self, doomed: Callable[[LinkRequest], bool]) -> int:
        with self._lock:
            gone = [k for k, r in self._requests.items() if doomed(r)]
            for key in gone:
                del self._requests[key]
        return len(gone)


class LinkRequests:
    """Queues, lists, approves and refuses link requests, each change audited."""

    def __init__(
        self,
        store: LinkRequestStore,
        linker: Linker,
        audit: AuditLog,
        clock: Clock | None = None,
        *,
        ttl: timedelta = DEFAULT_TTL,
    ) -> None:
        if ttl <= timedelta(0):
            raise ValueError("a link request's time to live must be positive")
        self._store = store
        self._linker = linker
        self._audit = audit
        self._clock = clock or SystemClock()
        self.ttl = ttl

    def submit(
        self,
        account_id: str,
        issuer: str,
        subject: str,
        differing: str,
        *,
        ip: str | None = None,
        actor: str = "user",
    ) -> tuple[LinkRequest, bool]:
        """Queue a request (True) or find the same one pending (False, nothing written);
        a new one is audited ``link_requested``."""
        now = self._clock.now()
        fresh = LinkRequest(new_request_id(), account_id, issuer, subject, differing, now, ip)
        kept = self._store.add(fresh)
        if kept.request_id != fresh.request_id and kept.created_at <= now - self.ttl:
            self._store.consume(kept.request_id)  # an expired one gives way to the new one
            kept = self._store.add(fresh)
        if kept.request_id != fresh.request_id:
            return kept, False
        detail = f"request {kept.request_id}: the {differing} differs"
        self._write(AuditAction.LINK_REQUESTED, kept, actor=actor, ip=ip, detail=detail)
        return kept, True

    def pending(self, *, account_id: str | None = None, limit: int = 100) -> list[LinkRequest]:
        """Requests not yet expired, oldest first (at most ``limit``, capped at
        :data:`MAX_PENDING`)."""
        limit = max(0, min(limit, MAX_PENDING))
        return self._store.pending(account_id=account_id, limit=limit, created_after=self._cutoff())

    def get(self, request_id: str) -> LinkRequest:
        """The pending request; ``link_request.not_found`` when there is none (or it
        expired), ``link_request.bad_id`` for a malformed id."""
        request = self._store.get(check_request_id(request_id))
        if request is None or request.created_at <= self._cutoff():
            raise LinkRequestNotFound(f"no pending link request {request_id!r}")
        return request

    def approve(self, request_id: str, operator: str) -> Link:
        """Link the request's identity to its account by the operator's decision (an
        ``admin`` link audited with ``actor=operator``) and consume the request."""
        _check_operator(operator)
        request = self.get(request_id)
        made = self._linker.link_admin(
            request.issuer, request.subject, request.account_id, RequestContext(actor=operator)
        )
        # the link comes first: should consuming fail, approving again finds the link made
        # (nothing new is written) and consumes the request then
        self._store.consume(request.request_id)
        return made.link

    def refuse(self, request_id: str, operator: str) -> LinkRequest:
        """Consume the request without linking; audited ``link_request_refused``."""
        _check_operator(operator)
        request = self.get(request_id)
        if self._store.consume(request.request_id) is None:
            raise LinkRequestNotFound(f"no pending link request {request_id!r}")
        self._write(AuditAction.LINK_REQUEST_REFUSED, request, actor=operator)
        return request

    def expire(self) -> int:
        """Remove the expired requests; how many. A host may schedule it; listing and
        approving ignore expired requests anyway."""
        return self._store.expire(self._cutoff())

    def _cutoff(self) -> datetime:
        return self._clock.now() - self.ttl

    def _write(
        self,
        action: AuditAction,
        request: LinkRequest,
        *,
        actor: str,
        ip: str | None = None,
        detail: str | None = None,
    ) -> None:
        event = AuditEvent(
            action=action,
            at=self._clock.now(),
            actor=actor,
            method=LinkMethod.SETTINGS,
            issuer=request.issuer,
            subject=request.subject,
            account_id=request.account_id,
            ip=ip,
            detail=detail or f"request {request.request_id}",
        )
        log_audit_event(self._audit.record(event))
