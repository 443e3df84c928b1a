"""Federated identities to query the synthetic directory with, as ESIA would send them.

Each query has a kind (:data:`QUERY_KINDS`): a person of the directory with all or part
of their data, a person with several accounts, a linked person, a namesake with another
SNILS, a person who is not in the directory, an unverified identity.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mock_idp.region.directory import Person, PersonFactory
from mock_idp.region.names import Weighted
from sso_bridge.matching.normalize import format_snils
from sso_bridge.model import FederatedIdentity

ISSUER = "https://esia.gosuslugi.ru/"
"""The issuer of the identities unless another is given."""


@dataclass(frozen=True, slots=True)
class Query:
    """One federated identity and the kind of query it was made for."""

    kind: str
    identity: FederatedIdentity


QUERY_KINDS = (
    ("person: SNILS + birth date", 0.40),
    ("person: birth date only", 0.17),
    ("person: SNILS only", 0.05),
    ("person: passport only", 0.05),
    ("person with 2-3 accounts", 0.10),
    ("linked person, same subject", 0.04),
    ("linked person, other subject", 0.02),
    ("namesake with another SNILS", 0.07),
    ("person not in directory", 0.08),
    ("not verified", 0.02),
)
"""The query kinds, as the person or case they describe, with their relative weights."""


def _snils(person: Person) -> str:
    if person.snils is None:
        raise ValueError("the person has no SNILS")
    return format_snils(person.snils)


class QueryFactory:
    """Federated identities as ESIA would send them, for people in and out of the directory.

    ``people`` are the directory's; those with a ``subject`` count as linked to it.
    ``factory`` makes the people not in the directory and the namesakes' other SNILS: make
    it with :meth:`PersonFactory.outside` so that these are really new.
    """

    def __init__(
        self,
        rng: random.Random,
        people: list[Person],
        factory: PersonFactory,
        *,
        issuer: str = ISSUER,
    ) -> None:
        self.rng = rng
        self.issuer = issuer
        self.people = people
        self.factory = factory
        self.kinds = Weighted([k for k, _ in QUERY_KINDS], [w for _, w in QUERY_KINDS])
        self.duplicated = [p for p in people if len(p.accounts) > 1 and p.subject is None]
        self.linked = [p for p in people if p.subject is not None]
        self.unlinked = [p for p in people if p.subject is None]

    def subject(self) -> str:
        """A new random ESIA subject (a 10-digit number)."""
        return str(self.rng.randrange(1_000_000_000, 9_999_999_999))

    def pick(self, pool: Sequence[Person], need: str = "") -> Person:
        """A random person of ``pool``, with the attribute ``need`` set if one is named."""
        if not pool:
            raise RuntimeError("no person to pick: the pool is empty")
        for _ in range(1000):
            person = self.rng.choice(pool)
            if not need or getattr(person, need):
                return person
        raise RuntimeError(f"no person with {need} found")

    def identity(
        self, person: Person, *, subject: str | None = None, verified: bool = True, **data: Any
    ) -> FederatedIdentity:
        """An identity with the person's full name, ``data`` and a new or given subject."""
        return FederatedIdentity(
            issuer=self.issuer,
            subject=subject or self.subject(),
            verified=verified,
            last_name=person.last,
            first_name=person.first,
            middle_name=person.middle,
            **data,
        )

    def full(
        self, person: Person, subject: str | None = None, verified: bool = True
    ) -> FederatedIdentity:
        """Everything ESIA knows: names, birth date, SNILS and sometimes the passport."""
        passport = person.passport if self.rng.random() < 0.3 else None
        return self.identity(
            person,
            subject=subject,
            verified=verified,
            birth_date=person.birth,
            snils=format_snils(person.snils) if person.snils else None,
            passport=f"{passport[:4]} {passport[4:]}" if passport else None,
        )

    def query(self, kind: str) -> FederatedIdentity:
        """An identity for a query of ``kind``, one of :data:`QUERY_KINDS`."""
        people = self.unlinked
        if kind == "person: birth date only":
            return self.identity(p := self.pick(people), birth_date=p.birth)
        if kind == "person: SNILS only":
            return self.identity(p := self.pick(people, "snils"), snils=_snils(p))
        if kind == "person: passport only":
            return self.identity(p := self.pick(people, "passport"), passport=p.passport)
        if kind == "person with 2-3 accounts":
            return self.full(self.pick(self.duplicated))
        if kind == "linked person, same subject":
            return self.full(p := self.pick(self.linked), subject=p.subject)
        if kind == "linked person, other subject":
            return self.full(self.pick(self.linked))
        if kind == "namesake with another SNILS":
            person = self.pick(people, "snils")
            snils = format_snils(self.factory.snils())
            return self.identity(person, birth_date=person.birth, snils=snils)
        if kind == "person not in directory":
            return self.full(self.factory.person())
        if kind == "not verified":
            return self.full(self.pick(people), verified=False)
        if kind == "person: SNILS + birth date":
            return self.full(self.pick(people))
        raise ValueError(f"unknown query kind {kind!r}")

    def build(self, count: int) -> list[Query]:
        """``count`` queries of kinds drawn with the weights of :data:`QUERY_KINDS`."""
        queries = []
        for _ in range(count):
            kind = self.kinds.draw(self.rng)
            queries.append(Query(kind, self.query(kind)))
        return queries
