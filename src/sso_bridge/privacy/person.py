"""Whom an access or erasure request is about: a local account, or a federated identity."""

from __future__ import annotations

from typing import Any

import attrs

from sso_bridge.errors import InvalidInput

__all__ = ["Person", "check_operator"]

_MAX_TEXT = 512  # the widest column an issuer or subject is kept in


def _text(name: str, value: object) -> str:
    if type(value) is not str or not value or len(value) > _MAX_TEXT:
        raise InvalidInput(
            f"{name} must be a non-empty string of at most {_MAX_TEXT} characters",
            code="input.invalid",
        )
    if any(c < " " or "\x7f" <= c <= "\x9f" for c in value):
        raise InvalidInput(f"{name} holds control characters", code="input.control_characters")
    return value


@attrs.frozen
class Person:
    """A person as a request names them: ``account_id`` (one local account) or ``issuer``
    and ``subject`` (a federated identity), never both. Make one with :meth:`account` or
    :meth:`identity`."""

    account_id: str | None = None
    issuer: str | None = None
    subject: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.account_id is not None:
            _text("account_id", self.account_id)
            if self.issuer is not None or self.subject is not None:
                raise InvalidInput(
                    "name a person by an account or by issuer and subject, not both",
                    code="input.invalid",
                )
        elif self.issuer is None or self.subject is None:
            raise InvalidInput(
                "name a person by an account, or by both issuer and subject",
                code="input.invalid",
            )
        else:
            _text("issuer", self.issuer)
            _text("subject", self.subject)

    @classmethod
    def account(cls, account_id: str) -> Person:
        """The holder of one local account."""
        return cls(account_id=account_id)

    @classmethod
    def identity(cls, issuer: str, subject: str) -> Person:
        """The person behind a federated identity."""
        return cls(issuer=issuer, subject=subject)

    @property
    def pair(self) -> tuple[str, str]:
        """``(issuer, subject)`` of a federated identity (empty strings for an account)."""
        return self.issuer or "", self.subject or ""

    @property
    def kind(self) -> str:
        """``"account"`` or ``"federated identity"``."""
        return "account" if self.account_id is not None else "federated identity"

    def as_json(self) -> dict[str, Any]:
        if self.account_id is not None:
            return {"account_id": self.account_id}
        return {"issuer": self.issuer, "subject": self.subject}


def check_operator(operator: object) -> str:
    """The operator's id as the audit trail takes it; ``input.invalid`` otherwise."""
    return _text("operator", operator)
