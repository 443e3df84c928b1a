"""Account rows as schools export them: one person rendered as a CSV row with the
spelling and format variety of real exports, and how a second school recorded the same
person (:func:`duplicate_record`)."""

from __future__ import annotations

import random
import unicodedata
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

from mock_idp.region.names import TO_LATIN, translit
from sso_bridge.matching.normalize import format_snils
from sso_bridge.model import AccountStatus

if TYPE_CHECKING:
    from mock_idp.region.directory import Person, Record, School

__all__ = ["AccountWriter", "duplicate_record"]


def _role(rng: random.Random, group: str) -> str:
    roll = rng.random()
    if group == "pupil":
        return "pupil"
    if group == "parent":
        return "parent" if roll < 0.95 else "parent;staff"
    return "teacher" if roll < 0.65 else "staff" if roll < 0.9 else "teacher;parent"


def _mistyped(rng: random.Random, birth: date) -> date:
    """A plausible data-entry error: day and month swapped, or a digit off."""
    if birth.day <= 12 and birth.day != birth.month and rng.random() < 0.5:
        return birth.replace(month=birth.day, day=birth.month)
    return birth + timedelta(days=rng.choice((-10, -1, 1, 10, 365, -365)))


def _to_latin(rng: random.Random, name: str) -> str:
    spots = [i for i, ch in enumerate(name) if ch in TO_LATIN]
    chars = list(name)
    for i in rng.sample(spots, min(len(spots), rng.choice((1, 1, 2)))):
        chars[i] = TO_LATIN[chars[i]]
    return "".join(chars)


class AccountWriter:
    """Renders people as CSV rows, with the spelling and format variety of real exports."""

    def __init__(self, rng: random.Random, stats: Counter[str]) -> None:
        self.rng = rng
        self.stats = stats
        self.sequence: Counter[str] = Counter()
        self.logins: dict[str, str] = {}

    def spell(self, last: str, first: str, middle: str) -> tuple[str, str, str]:
        """The names as typed: mostly as given, sometimes with a variant spelling."""
        rng, stats = self.rng, self.stats
        names = [last, first, middle]
        if any("ё" in n for n in names) and rng.random() < 0.5:
            names = [n.replace("ё", "е").replace("Ё", "Е") for n in names]
            stats["ё written as е"] += 1
        roll = rng.random()
        spots = [i for i, n in enumerate(names) if len(n) >= 4 and "-" not in n]
        if roll < 0.003:
            if spots:
                spot = rng.choice(spots)
                names[spot] = _to_latin(rng, names[spot])
                stats["Latin look-alike letters"] += 1
        elif roll < 0.006:
            names[0] = names[0].upper()
            stats["surname in capitals"] += 1
        elif roll < 0.007:
            names = [unicodedata.normalize("NFD", n) for n in names]
            stats["decomposed Unicode (NFD)"] += 1
        if "-" in names[0] and rng.random() < 0.3:
            names[0] = names[0].replace("-", rng.choice(("–", " - ", "‐")))
            stats["double surname with another dash"] += 1
        return names[0], names[1], names[2]

    def login(self, last: str, first: str, number: int) -> str:
        """A login like ``ivanov.a12`` (transliterated surname, initial, number)."""
        key = last + first
        if key not in self.logins:
            self.logins[key] = f"{translit(last)}.{translit(first)[:1]}"
        return f"{self.logins[key]}{number}"

    def snils(self, digits: str) -> str:
        """A SNILS in one of the usual formats, rarely with wrong check digits."""
        rng = self.rng
        if rng.random() < 0.001:
            self.stats["SNILS with wrong check digits"] += 1
            digits = digits[:9] + f"{(int(digits[9:]) + 1 + rng.randrange(98)) % 100:02d}"
        roll = rng.random()
        if roll < 0.6:
            return format_snils(digits)
        if roll < 0.9:
            return digits
        return f"{digits[:3]} {digits[3:6]} {digits[6:9]} {digits[9:]}"

    def passport(self, digits: str) -> str:
        """A passport number in one of the usual formats."""
        roll = self.rng.random()
        if roll < 0.5:
            return f"{digits[:4]} {digits[4:]}"
        if roll < 0.8:
            return digits
        return f"{digits[:2]} {digits[2:4]} {digits[4:]}"

    def birth(self, birth: date | None) -> str:
        """A birth date as ISO or ``DD.MM.YYYY``; empty when unknown."""
        if birth is None:
            return ""
        return birth.strftime("%d.%m.%Y") if self.rng.random() < 0.25 else birth.isoformat()

    def status(self) -> str:
        """An account status: mostly active, sometimes empty (active), rarely blocked."""
        roll = self.rng.random()
        if roll < 0.01:
            self.stats["blocked"] += 1
            return AccountStatus.BLOCKED.value
        return "" if roll < 0.11 else AccountStatus.ACTIVE.value

    def row(self, person: Person, school: School, record: Record) -> tuple[str, list[str]]:
        """The account id and CSV row of ``person`` as ``school`` recorded them."""
        rng = self.rng
        self.sequence[school.org_id] += 1
        number = self.sequence[school.org_id]
        account_id = f"{school.org_id}-{number:06d}"
        last, first, middle = self.spell(record.last, record.first, record.middle)
        login = "" if rng.random() < 0.1 else self.login(person.last, person.first, number)
        return account_id, [
            account_id,
            school.org_id,
            school.name,
            login,
            _role(rng, person.group),
            last,
            first,
            middle,
            self.birth(record.birth),
            self.snils(record.snils) if record.snils else "",
            self.passport(record.passport) if record.passport else "",
            self.status(),
        ]


def duplicate_record(rng: random.Random, person: Person, stats: Counter[str]) -> Record:
    """How a second school recorded the same person: often identically, sometimes not."""
    roll, record = rng.random(), person.record()
    if roll < 0.15 and person.snils:
        stats["duplicate without SNILS"] += 1
        return replace(record, snils=None)
    if 0.15 <= roll < 0.25:
        stats["duplicate without birth date"] += 1
        return replace(record, birth=None)
    if 0.25 <= roll < 0.35:
        return replace(record, passport=None)
    if 0.35 <= roll < 0.40 and person.middle:
        stats["duplicate without middle name"] += 1
        return replace(record, middle="")
    if 0.40 <= roll < 0.50 and person.snils:
        stats["duplicate with mistyped birth date, same SNILS"] += 1
        return replace(record, birth=_mistyped(rng, person.birth))
    return record
