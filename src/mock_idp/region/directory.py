"""The synthetic regional directory: people, schools and their account rows.

People get realistic name frequencies (so namesakes occur: same full name, and sometimes
the same birth date too), unique SNILS and passports, and one account, or 2-3 accounts at
different schools (duplicates, recorded with small differences). The rows carry the
spelling and format variety of real exports: ё written as е, Latin look-alike letters,
capitals, decomposed Unicode, other dashes, SNILS and passports in several formats, the
odd SNILS with wrong check digits. ``Directory.stats`` counts each kind of variety.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from mock_idp.region.accounts import AccountWriter, duplicate_record
from mock_idp.region.names import (
    CITIES,
    FEMALE_NAMES,
    MALE_NAMES,
    SCHOOL_KINDS,
    SURNAMES,
    Weighted,
    feminine_surname,
    patronymics,
    zipf_weights,
)
from sso_bridge.importing import COLUMNS
from sso_bridge.matching.normalize import snils_check_digits


@dataclass(frozen=True, slots=True)
class Record:
    """What one school recorded about a person (SNILS and passport as bare digits)."""

    last: str
    first: str
    middle: str
    birth: date | None
    snils: str | None
    passport: str | None


@dataclass(slots=True)
class Person:
    """One real person, with the ids of their accounts in the directory."""

    last: str
    first: str
    middle: str
    birth: date
    group: str
    snils: str | None
    passport: str | None
    accounts: tuple[str, ...] = ()
    subject: str | None = None

    def record(self) -> Record:
        """The person's data as a school that recorded it faithfully holds it."""
        return Record(self.last, self.first, self.middle, self.birth, self.snils, self.passport)


@dataclass(frozen=True, slots=True)
class School:
    """A school: the organisation that accounts belong to."""

    org_id: str
    name: str


@dataclass(slots=True)
class Directory:
    """What the generator made: people (for the queries) and figures for the report."""

    people: list[Person]
    accounts: int
    schools: int
    stats: Counter[str] = field(default_factory=Counter)


def _ordinal(year: int, month: int = 1, day: int = 1) -> int:
    return date(year, month, day).toordinal()


PUPIL_BIRTHS = (_ordinal(2006, 9, 1), _ordinal(2018, 8, 31))
PARENT_BIRTHS = (_ordinal(1960), _ordinal(1999, 12, 31), _ordinal(1984))
STAFF_BIRTHS = (_ordinal(1940), _ordinal(2002, 12, 31), _ordinal(1975))
PASSPORT_AGE_LIMIT = _ordinal(2011)


class PersonFactory:
    """Makes people with realistic name frequencies and unique SNILS and passports."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.surnames = Weighted(SURNAMES, zipf_weights(len(SURNAMES), 1.0, 3.0))
        self.male = Weighted(MALE_NAMES, zipf_weights(len(MALE_NAMES), 1.0, 2.0))
        self.female = Weighted(FEMALE_NAMES, zipf_weights(len(FEMALE_NAMES), 1.0, 2.0))
        self.fathers = Weighted(
            [patronymics(n) for n in MALE_NAMES], zipf_weights(len(MALE_NAMES), 0.9, 2.0)
        )
        self.used_snils: set[str] = set()
        self.used_passports: set[str] = set()

    @classmethod
    def outside(cls, rng: random.Random, people: Iterable[Person]) -> PersonFactory:
        """A factory whose SNILS and passports are not those of any of ``people``."""
        factory = cls(rng)
        for person in people:
            if person.snils:
                factory.used_snils.add(person.snils)
            if person.passport:
                factory.used_passports.add(person.passport)
        return factory

    def surname(self, female: bool) -> str:
        """A surname (rarely a double one), in its feminine form for women."""
        rng = self.rng
        name = self.surnames.draw(rng)
        if rng.random() < 0.003:
            name = f"{name}-{self.surnames.draw(rng)}"
        return "-".join(feminine_surname(p) for p in name.split("-")) if female else name

    def birth(self) -> tuple[date, str]:
        """A birth date between 1940 and 2018, and the group: pupil, parent or staff."""
        rng, roll = self.rng, self.rng.random()
        if roll < 0.62:
            return date.fromordinal(rng.randint(*PUPIL_BIRTHS)), "pupil"
        group, (low, high, mode) = (
            ("parent", PARENT_BIRTHS) if roll < 0.92 else ("staff", STAFF_BIRTHS)
        )
        return date.fromordinal(int(rng.triangular(low, high, mode))), group

    def snils(self) -> str:
        """A new SNILS, 11 bare digits with correct check digits."""
        while True:
            first_nine = f"{self.rng.randrange(1_002_000, 1_000_000_000):09d}"
            digits = f"{first_nine}{snils_check_digits(first_nine):02d}"
            if digits not in self.used_snils:
                self.used_snils.add(digits)
                return digits

    def passport(self) -> str:
        """A new passport number, 10 bare digits (series and number)."""
        rng = self.rng
        while True:
            year = rng.choice((97, 98, 99, *range(0, 25)))
            digits = f"{rng.randrange(1, 100):02d}{year:02d}{rng.randrange(100_000, 1_000_000)}"
            if digits not in self.used_passports:
                self.used_passports.add(digits)
                return digits

    def person(self) -> Person:
        """A new person: pupil, parent or staff, maybe with a SNILS and a passport."""
        rng = self.rng
        female = rng.random() < 0.52
        birth, group = self.birth()
        first = self.female.draw(rng) if female else self.male.draw(rng)
        middle = "" if rng.random() < 0.02 else self.fathers.draw(rng)[1 if female else 0]
        adult = birth.toordinal() < PASSPORT_AGE_LIMIT
        has_passport = adult and rng.random() < (0.5 if group == "pupil" else 0.75)
        return Person(
            last=self.surname(female),
            first=first,
            middle=middle,
            birth=birth,
            group=group,
            snils=self.snils() if rng.random() < 0.8 else None,
            passport=self.passport() if has_passport else None,
        )


def make_schools(rng: random.Random, count: int) -> tuple[list[School], Weighted[School]]:
    """Schools with names like "МБОУ СОШ № 12 г. Тверь" and uneven sizes."""
    kinds = Weighted([k for k, _ in SCHOOL_KINDS], [w for _, w in SCHOOL_KINDS])
    numbers: Counter[tuple[str, str]] = Counter()
    schools = []
    for i in range(count):
        city, kind = rng.choice(CITIES), kinds.draw(rng)
        numbers[city, kind] += 1 + rng.randrange(3)
        name = f"{kind.format(n=numbers[city, kind])} г. {city}"
        schools.append(School(f"{rng.randrange(10, 90)}{i + 1:05d}", name))
    sizes = [rng.lognormvariate(0.0, 0.5) for _ in schools]
    return schools, Weighted(schools, sizes)


def iter_directory(rng: random.Random, accounts: int) -> tuple[Directory, Iterator[list[str]]]:
    """The directory of ``accounts`` accounts and an iterator over its CSV rows.

    Rows are lists of strings in the order of ``sso_bridge.importing.COLUMNS`` (the header
    is not included). The schools are made at once; people and figures are added to the
    directory as the rows are consumed, and it is complete when the iterator is exhausted.
    Nothing else may draw from ``rng`` meanwhile, or the rows differ from the seed's.
    """
    factory = PersonFactory(rng)
    schools, pick_school = make_schools(rng, min(1000, max(10, accounts // 100)))
    directory = Directory(people=[], accounts=0, schools=len(schools))
    return directory, _rows(rng, accounts, factory, pick_school, directory)


def _rows(
    rng: random.Random,
    accounts: int,
    factory: PersonFactory,
    pick_school: Weighted[School],
    directory: Directory,
) -> Iterator[list[str]]:
    writer = AccountWriter(rng, directory.stats)
    while directory.accounts < accounts:
        person = factory.person()
        copies = 1
        if rng.random() < 0.03:
            copies = min(2 if rng.random() < 0.8 else 3, accounts - directory.accounts)
        places = _distinct_schools(rng, pick_school, copies)
        records = [person.record()]
        records += [duplicate_record(rng, person, directory.stats) for _ in places[1:]]
        ids = []
        for school, record in zip(places, records, strict=True):
            account_id, row = writer.row(person, school, record)
            ids.append(account_id)
            yield row
        person.accounts = tuple(ids)
        directory.people.append(person)
        directory.accounts += copies
    people = directory.people
    directory.stats["SNILS"] = sum(len(p.accounts) for p in people if p.snils)
    directory.stats["passport"] = sum(len(p.accounts) for p in people if p.passport)


def directory_rows(rng: random.Random, accounts: int) -> tuple[Directory, list[list[str]]]:
    """The directory and all its CSV rows in memory (no header); see :func:`iter_directory`."""
    directory, rows = iter_directory(rng, accounts)
    return directory, list(rows)


def generate_directory(rng: random.Random, accounts: int, path: Path) -> Directory:
    """Write ``accounts`` account rows for synthetic people to the CSV file ``path``.

    The file has the header row ``COLUMNS``, then the rows of :func:`iter_directory`.
    """
    directory, rows = iter_directory(rng, accounts)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        out.writerows(rows)
    return directory


def _distinct_schools(rng: random.Random, pick: Weighted[School], count: int) -> list[School]:
    chosen: list[School] = []
    while len(chosen) < count:
        school = pick.draw(rng)
        if school not in chosen:
            chosen.append(school)
    return chosen


def namesake_figures(people: Sequence[Person]) -> tuple[int, int]:
    """People sharing their full name with another person, and full name + birth date."""
    names = Counter((p.last, p.first, p.middle) for p in people)
    with_birth = Counter((p.last, p.first, p.middle, p.birth) for p in people)
    return (
        sum(n for n in names.values() if n > 1),
        sum(n for n in with_birth.values() if n > 1),
    )
