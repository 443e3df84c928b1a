"""Benchmark: bulk account import and record matching at scale, on SQLite.

Generates a synthetic regional directory (default 1,000,000 accounts in about 1,000
schools) with realistic Russian name frequencies, namesakes and duplicate accounts of one
person, writes it as an import CSV and then measures:

* the bulk import (``import_accounts_csv``: parse, check, normalise, hash, write), next to
  a floor: the same CSV put into an equally indexed table with plain ``sqlite3``;
* ``Matcher.match`` over 10,000 federated identities, next to a naive matcher that makes
  the same decision from a full scan of the accounts table (``NOT INDEXED``), timed on a
  smaller sample; on that sample both must reach identical decisions.

Targets: import >= 100,000 rows/s; match p99 <= 1 ms at 1,000,000 accounts.
The last line of the output is machine-readable::

    import_rows_per_s=... match_p50_ms=... match_p99_ms=... scan_p99_ms=...

Usage: ``python bench/matching.py [--accounts N] [--queries N] [--scan-queries N]``.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import gc
import itertools
import math
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from sso_bridge.errors import ImportRejected
from sso_bridge.importing import COLUMNS, import_accounts_csv
from sso_bridge.keyfile import create_key_file
from sso_bridge.linking import Linker, RequestContext
from sso_bridge.matching import Matcher, MatchKeys, decide, identity_keys
from sso_bridge.matching.normalize import (
    format_snils,
    snils_check_digits,
)
from sso_bridge.model import (
    AccountStatus,
    FederatedIdentity,
    MatchDecision,
    Outcome,
)
from sso_bridge.store import SqlStore, open_store
from sso_bridge.store.sql import accounts as accounts_table

T = TypeVar("T")

ISSUER = "https://esia.gosuslugi.ru/"
IMPORT_TARGET_ROWS_PER_S = 100_000
MATCH_TARGET_P99_MS = 1.0
TARGET_ACCOUNTS = 1_000_000

# -- name data ----------------------------------------------------------------------------


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Most frequent first; sampled with Zipf-like weights, so a few names are very common.

SURNAMES = words("""
Смирнов Иванов Кузнецов Соколов Попов Лебедев Козлов Новиков Морозов Петров Волков
Соловьёв Васильев Зайцев Павлов Семёнов Голубев Виноградов Богданов Воробьёв Фёдоров
Михайлов Беляев Тарасов Белов Комаров Орлов Киселёв Макаров Андреев Ковалёв Ильин Гусев
Титов Кузьмин Кудрявцев Баранов Куликов Алексеев Степанов Яковлев Сорокин Сергеев Романов
Захаров Борисов Королёв Герасимов Пономарёв Григорьев Лазарев Медведев Ершов Никитин
Соболев Рябов Поляков Цветков Данилов Жуков Фролов Журавлёв Николаев Крылов Максимов
Сидоров Осипов Белоусов Федотов Дорофеев Егоров Матвеев Бобров Дмитриев Калинин Анисимов
Петухов Антонов Тимофеев Никифоров Весёлов Филиппов Марков Большаков Суханов Миронов
Ширяев Александров Коновалов Шестаков Казаков Ефимов Денисов Громов Фомин Давыдов
Мельников Щербаков Блинов Колесников Карпов Афанасьев Власов Маслов Исаков Тихонов
Аксёнов Гаврилов Родионов Котов Горбунов Кудряшов Быков Зуев Третьяков Савельев Панов
Рыбаков Суворов Абрамов Воронов Мухин Архипов Трофимов Мартынов Емельянов Горшков Чернов
Овчинников Селезнёв Панфилов Копылов Михеев Галкин Назаров Лобанов Лукин Беляков Потапов
Некрасов Хохлов Жданов Наумов Шилов Воронцов Ермаков Дроздов Игнатьев Савин Логинов
Сафонов Капустин Кириллов Моисеев Елисеев Кошелев Костин Горбачёв Орехов Ефремов Исаев
Евдокимов Калашников Кабанов Носков Юдин Кулагин Лапин Прохоров Нестеров Харитонов
Агафонов Муравьёв Ларионов Федосеев Зимин Пахомов Шубин Игнатов Филатов Крюков Рогов
Кулаков Терентьев Молчанов Владимиров Артемьев Гурьев Зиновьев Гришин Кононов Дементьев
Ситников Симонов Мишин Фадеев Комиссаров Мамонтов Носов Гуляев Шаров Устинов Вишняков
Евсеев Лаврентьев Брагин Константинов Корнилов Авдеев Зыков Бирюков Шарапов Никонов
Щукин Дьячков Одинцов Сазонов Якушев Красильников Гордеев Самойлов Князев Беспалов
Уваров Шашков Бобылёв Доронин Белозёров Рожков Самсонов Мясников Лихачёв Буров Сысоев
Фомичёв Русаков Стрелков Гущин Тетерин Колобов Субботин Фокин Блохин Селиверстов Пестов
Кондратьев Силин Меркушев Лыткин Туров Шевченко Бондаренко Коваленко Ткаченко Кравченко
Ким Цой Пак Толстой Высоцкий Троицкий Покровский Успенский Заболоцкий Ахметов Галиев
Хабибуллин Гарипов Мамедов Алиев Абдуллаев Сафин Валиев Шамсутдинов Юсупов Рахимов
""")

MALE_NAMES = words("""
Александр Сергей Дмитрий Андрей Алексей Максим Евгений Иван Михаил Артём Николай
Владимир Денис Никита Павел Роман Игорь Олег Антон Кирилл Илья Владислав Егор Юрий
Виктор Константин Даниил Матвей Тимофей Вадим Виталий Василий Анатолий Глеб Георгий
Руслан Станислав Пётр Григорий Валерий Леонид Фёдор Борис Геннадий Ярослав Тимур Марк
Лев Степан Арсений Семён Богдан Вячеслав Эдуард Аркадий Валентин Филипп Захар Савелий
Елисей Мирон Платон Давид Ринат Марат Артур Данила Всеволод
""")

FEMALE_NAMES = words("""
Анна Мария Елена Ольга Наталья Екатерина Татьяна Анастасия Ирина Светлана Юлия Дарья
Ксения Алина Виктория Полина Елизавета Марина Софья Александра Валентина Галина Людмила
Надежда Вера Любовь Алёна Кристина Вероника Варвара Маргарита Диана Арина Ангелина
Евгения Валерия Милана Ульяна Алиса Василиса Таисия Кира Ева Злата Яна Оксана Лариса
Нина Зоя Тамара Лидия Раиса Жанна Инна Регина Снежана Эльвира Карина Камила Олеся Майя
Стефания Есения Пелагея
""")

_PATRONYMIC_EXCEPTIONS = {
    "Илья": ("Ильич", "Ильинична"),
    "Никита": ("Никитич", "Никитична"),
    "Данила": ("Данилович", "Даниловна"),
    "Лев": ("Львович", "Львовна"),
    "Павел": ("Павлович", "Павловна"),
    "Пётр": ("Петрович", "Петровна"),
    "Дмитрий": ("Дмитриевич", "Дмитриевна"),
    "Георгий": ("Георгиевич", "Георгиевна"),
}

CITIES = words("""
Москва Санкт-Петербург Новосибирск Екатеринбург Казань Челябинск Самара Омск Уфа
Красноярск Воронеж Пермь Волгоград Краснодар Саратов Тюмень Тольятти Ижевск Барнаул
Ульяновск Иркутск Хабаровск Ярославль Владивосток Махачкала Томск Оренбург Кемерово
""")

SCHOOL_KINDS = (
    ("МБОУ СОШ № {n}", 0.70),
    ("МАОУ «Гимназия № {n}»", 0.15),
    ("МБОУ «Лицей № {n}»", 0.10),
    ("МБОУ ООШ № {n}", 0.05),
)

# Cyrillic letters and the Latin letters that look the same, as found in hand-typed data.
TO_LATIN = dict(zip("аеорсхуАВЕКМНОРСТХ", "aeopcxyABEKMHOPCTX", strict=True))

_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        words("a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh sch _ y _ e yu ya"),
        strict=True,
    )
)


def feminine_surname(surname: str) -> str:
    """The feminine form of a Russian surname (unchanged when it does not decline)."""
    if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return surname + "а"
    if surname.endswith(("ский", "цкий")) or (surname.endswith("ой") and len(surname) > 4):
        return surname[:-2] + "ая"
    return surname


def patronymics(father: str) -> tuple[str, str]:
    """(son's, daughter's) patronymic from a father's first name."""
    if father in _PATRONYMIC_EXCEPTIONS:
        return _PATRONYMIC_EXCEPTIONS[father]
    if father.endswith("ий"):
        stem = father[:-2] + "ьев"
    elif father.endswith(("ей", "ай", "ь")):
        stem = father[:-1] + "ев"
    else:
        stem = father + "ов"
    return stem + "ич", stem + "на"


def translit(name: str) -> str:
    return "".join(_TRANSLIT.get(ch, "") for ch in name.lower()).replace("_", "")


def zipf_weights(count: int, exponent: float, offset: float) -> list[float]:
    """Zipf-Mandelbrot weights 1 / (rank + offset) ** exponent for ranks 1..count."""
    return [1.0 / (rank + offset) ** exponent for rank in range(1, count + 1)]


class Weighted(Generic[T]):
    """Draws items with fixed relative weights (faster than ``random.choices`` per draw)."""

    __slots__ = ("_cum", "_items", "_total")

    def __init__(self, items: Sequence[T], weights: Iterable[float]) -> None:
        self._items = list(items)
        self._cum = list(itertools.accumulate(weights))
        self._total = self._cum[-1]
        if len(self._cum) != len(self._items):
            raise ValueError("one weight per item")

    def draw(self, rng: random.Random) -> T:
        return self._items[bisect.bisect_right(self._cum, rng.random() * self._total)]


# -- the synthetic directory --------------------------------------------------------------


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
        return Record(self.last, self.first, self.middle, self.birth, self.snils, self.passport)


@dataclass(frozen=True, slots=True)
class School:
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

    def surname(self, female: bool) -> str:
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
        while True:
            first_nine = f"{self.rng.randrange(1_002_000, 1_000_000_000):09d}"
            digits = f"{first_nine}{snils_check_digits(first_nine):02d}"
            if digits not in self.used_snils:
                self.used_snils.add(digits)
                return digits

    def passport(self) -> str:
        rng = self.rng
        while True:
            year = rng.choice((97, 98, 99, *range(0, 25)))
            digits = f"{rng.randrange(1, 100):02d}{year:02d}{rng.randrange(100_000, 1_000_000)}"
            if digits not in self.used_passports:
                self.used_passports.add(digits)
                return digits

    def person(self) -> Person:
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
        key = last + first
        if key not in self.logins:
            self.logins[key] = f"{translit(last)}.{translit(first)[:1]}"
        return f"{self.logins[key]}{number}"

    def snils(self, digits: str) -> str:
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
        roll = self.rng.random()
        if roll < 0.5:
            return f"{digits[:4]} {digits[4:]}"
        if roll < 0.8:
            return digits
        return f"{digits[:2]} {digits[2:4]} {digits[4:]}"

    def birth(self, birth: date | None) -> str:
        if birth is None:
            return ""
        return birth.strftime("%d.%m.%Y") if self.rng.random() < 0.25 else birth.isoformat()

    def status(self) -> str:
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


def generate_directory(rng: random.Random, accounts: int, path: Path) -> Directory:
    """Write ``accounts`` account rows for synthetic people to the CSV file ``path``."""
    factory = PersonFactory(rng)
    schools, pick_school = make_schools(rng, min(1000, max(10, accounts // 100)))
    directory = Directory(people=[], accounts=0, schools=len(schools))
    writer = AccountWriter(rng, directory.stats)
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
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
                out.writerow(row)
                ids.append(account_id)
            person.accounts = tuple(ids)
            directory.people.append(person)
            directory.accounts += copies
    people = directory.people
    directory.stats["SNILS"] = sum(len(p.accounts) for p in people if p.snils)
    directory.stats["passport"] = sum(len(p.accounts) for p in people if p.passport)
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


# -- queries ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
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


class QueryFactory:
    """Federated identities as ESIA would send them, for people in and out of the directory."""

    def __init__(self, rng: random.Random, people: list[Person], factory: PersonFactory) -> None:
        self.rng = rng
        self.people = people
        self.factory = factory
        self.kinds = Weighted([k for k, _ in QUERY_KINDS], [w for _, w in QUERY_KINDS])
        self.duplicated = [p for p in people if len(p.accounts) > 1 and p.subject is None]
        self.linked = [p for p in people if p.subject is not None]
        self.unlinked = [p for p in people if p.subject is None]

    def subject(self) -> str:
        return str(self.rng.randrange(1_000_000_000, 9_999_999_999))

    def pick(self, pool: Sequence[Person], need: str = "") -> Person:
        for _ in range(1000):
            person = self.rng.choice(pool)
            if not need or getattr(person, need):
                return person
        raise RuntimeError(f"no person with {need} found")

    def identity(
        self, person: Person, *, subject: str | None = None, verified: bool = True, **data: Any
    ) -> FederatedIdentity:
        return FederatedIdentity(
            issuer=ISSUER,
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
        people = self.unlinked
        if kind == "person: birth date only":
            return self.identity(p := self.pick(people), birth_date=p.birth)
        if kind == "person: SNILS only":
            return self.identity(p := self.pick(people, "snils"), snils=format_snils(p.snils))
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
        return self.full(self.pick(people))

    def build(self, count: int) -> list[Query]:
        queries = []
        for _ in range(count):
            kind = self.kinds.draw(self.rng)
            queries.append(Query(kind, self.query(kind)))
        return queries


# -- the naive full-scan matcher ----------------------------------------------------------

SCAN_SQL = """
SELECT a.*, o.name AS org_name, l.subject AS linked
FROM accounts AS a NOT INDEXED
CROSS JOIN organizations AS o
LEFT JOIN links AS l ON l.account_id = a.account_id AND l.issuer = :issuer
WHERE o.org_id = a.org_id
  AND (a.name_key = :name_key OR a.snils_hash = :snils OR a.passport_hash = :passport)
"""


class ScanMatcher:
    """The same decision as :class:`Matcher`, from a full scan of the accounts table."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.query = self.statement(SCAN_SQL).columns(
            *accounts_table.c, sa.column("org_name", sa.Text), sa.column("linked")
        )

    @staticmethod
    def statement(sql: str) -> sa.TextClause:
        return sa.text(sql).bindparams(
            sa.bindparam("snils", type_=sa.LargeBinary),
            sa.bindparam("passport", type_=sa.LargeBinary),
        )

    @staticmethod
    def params(keys: MatchKeys, issuer: str) -> dict[str, Any]:
        return {
            "name_key": keys.name_key,
            "snils": keys.snils,
            "passport": keys.passport,
            "issuer": issuer,
        }

    def plan(self) -> list[str]:
        """SQLite's query plan for the scan, one line per step."""
        keys = MatchKeys("x", "y", None, date(2000, 1, 1), b"s", b"p")
        with self.store.engine.connect() as conn:
            explain = self.statement("EXPLAIN QUERY PLAN " + SCAN_SQL)
            rows = conn.execute(explain, self.params(keys, ISSUER))
            return [str(r[-1]) for r in rows]

    def match(self, identity: FederatedIdentity) -> MatchDecision:
        keys, warnings = identity_keys(identity, self.store.blind_index)
        if not identity.verified:
            return MatchDecision(Outcome.LOCAL_LOGIN_REQUIRED, warnings=warnings)
        with self.store.engine.connect() as conn:
            rows = conn.execute(self.query, self.params(keys, identity.issuer)).mappings().all()
        entries = [SqlStore.entry_from_row(r) for r in rows]
        return decide(identity, keys, entries, warnings)


def fingerprint(decision: MatchDecision) -> tuple[Any, ...]:
    """What two matchers must agree on: outcome, candidates, rejections, warnings."""
    return (
        decision.outcome,
        tuple(
            (c.account.account_id, c.matched_on, c.already_linked, c.notes)
            for c in decision.candidates
        ),
        tuple((r.account_id, r.reason) for r in decision.rejected),
        decision.warnings,
    )


# -- measuring ----------------------------------------------------------------------------


def percentile(sorted_ns: Sequence[int], q: float) -> float:
    """Nearest-rank percentile of sorted nanosecond timings, in milliseconds."""
    rank = max(1, math.ceil(q / 100 * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1e6


@dataclass(frozen=True, slots=True)
class Latency:
    count: int
    wall_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, timings_ns: Sequence[int], wall_ns: int) -> Latency:
        ordered = sorted(timings_ns)
        return cls(
            len(ordered),
            wall_ns / 1e9,
            percentile(ordered, 50),
            percentile(ordered, 99),
            ordered[-1] / 1e6,
        )

    def line(self) -> str:
        rate = self.count / self.wall_s if self.wall_s else float("inf")
        return (
            f"p50 {self.p50_ms:.3f} ms  p99 {self.p99_ms:.3f} ms  max {self.max_ms:.3f} ms"
            f"  ({self.count:,} in {self.wall_s:.2f} s, {rate:,.0f}/s)"
        )


def run_timed(
    match: Any, identities: Sequence[FederatedIdentity]
) -> tuple[list[int], list[MatchDecision], int]:
    """Time each ``match(identity)``: (per-call ns, decisions, wall ns)."""
    clock = time.perf_counter_ns
    timings: list[int] = []
    decisions: list[MatchDecision] = []
    started = clock()
    for identity in identities:
        t0 = clock()
        decision = match(identity)
        timings.append(clock() - t0)
        decisions.append(decision)
    return timings, decisions, clock() - started


def import_floor(csv_path: Path, db_path: Path) -> float:
    """Seconds to put the CSV into an equally indexed table with plain sqlite3, unchecked."""
    columns = ", ".join(f"{c} TEXT" for c in COLUMNS)
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"CREATE TABLE raw ({columns}, PRIMARY KEY (account_id))")
        conn.execute("CREATE INDEX raw_name ON raw (last_name, first_name, birth_date)")
        conn.execute("CREATE INDEX raw_snils ON raw (snils)")
        conn.execute("CREATE INDEX raw_passport ON raw (passport)")
        conn.execute("CREATE INDEX raw_org ON raw (org_id)")
        insert = f"INSERT INTO raw VALUES ({', '.join('?' * len(COLUMNS))})"
        started = time.perf_counter()
        with csv_path.open(encoding="utf-8", newline="") as handle:
            rows = csv.reader(handle)
            next(rows)
            conn.execute("BEGIN")
            conn.executemany(insert, rows)
            conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()
        for path in _sidecars(db_path)[:3]:
            path.unlink(missing_ok=True)


def make_links(store: SqlStore, rng: random.Random, people: list[Person], count: int) -> int:
    """Link all accounts of ``count`` people to an ESIA subject each; returns links made."""
    linker = Linker(store, store, store)
    ctx = RequestContext("bench:setup")
    made = 0
    for person in rng.sample(people, min(count, len(people) // 100)):
        person.subject = str(rng.randrange(1_000_000_000, 9_999_999_999))
        for account_id in person.accounts:
            linker.link_admin(ISSUER, person.subject, account_id, ctx)
            made += 1
    return made


# -- the run ------------------------------------------------------------------------------


@dataclass(slots=True)
class Results:
    accounts: int = 0
    import_s: float = 0.0
    floor_s: float = 0.0
    match: Latency | None = None
    scan: Latency | None = None
    scan_sample: Latency | None = None
    agreed: int = 0
    compared: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def import_rate(self) -> float:
        return self.accounts / self.import_s

    @property
    def floor_rate(self) -> float:
        return self.accounts / self.floor_s


def say(text: str = "") -> None:
    print(text, flush=True)


def report_generation(directory: Directory, seconds: float, path: Path) -> None:
    people, stats = directory.people, directory.stats
    duplicated = [p for p in people if len(p.accounts) > 1]
    share = {k: f"{100 * v / directory.accounts:.1f}%" for k, v in stats.items()}
    same_name, same_name_birth = namesake_figures(people)
    say(
        f"generated    {directory.accounts:,} accounts of {len(people):,} people in "
        f"{directory.schools:,} schools in {seconds:.1f} s ({path.stat().st_size / 1e6:.0f} MB CSV)"
    )
    say(
        f"  duplicates {len(duplicated):,} people have 2-3 accounts "
        f"({sum(len(p.accounts) for p in duplicated):,} accounts)"
    )
    say(
        f"  namesakes  {same_name:,} people share their full name with someone; "
        f"{same_name_birth:,} share full name and birth date"
    )
    say(f"  with SNILS {share['SNILS']}, passport {share['passport']}, blocked {share['blocked']}")
    for key in sorted(stats):
        if key not in ("SNILS", "passport", "blocked"):
            say(f"  {key}: {stats[key]:,}")


def run_import(store: SqlStore, csv_path: Path, expected: int) -> float:
    gc.collect()
    started = time.perf_counter()
    try:
        report = import_accounts_csv(store, csv_path)
    except ImportRejected as exc:
        raise SystemExit(f"the generated CSV was rejected: {exc}") from None
    seconds = time.perf_counter() - started
    if report.imported != expected:
        raise SystemExit(f"imported {report.imported:,} accounts, expected {expected:,}")
    say(
        f"import       {report.imported:,} rows in {seconds:.2f} s = "
        f"{report.imported / seconds:,.0f} rows/s ({len(report.warnings):,} row warnings)"
    )
    return seconds


def run_matches(
    store: SqlStore, queries: Sequence[Query], warmup: Sequence[Query]
) -> tuple[Latency, list[int], list[MatchDecision]]:
    matcher = Matcher(store)
    run_timed(matcher.match, [q.identity for q in warmup])
    gc.collect()
    timings, decisions, wall = run_timed(matcher.match, [q.identity for q in queries])
    latency = Latency.of(timings, wall)
    say(f"match        {latency.line()}")
    return latency, timings, decisions


def report_kinds(
    queries: Sequence[Query], timings: Sequence[int], decisions: Sequence[MatchDecision]
) -> None:
    say("  by query kind (count, p50/p99 ms, outcomes):")
    for kind, _ in QUERY_KINDS:
        picked = [i for i, q in enumerate(queries) if q.kind == kind]
        if not picked:
            continue
        ordered = sorted(timings[i] for i in picked)
        outcomes = Counter(decisions[i].outcome.value for i in picked)
        shown = ", ".join(f"{o} {n}" for o, n in outcomes.most_common())
        say(
            f"    {kind:<30} {len(picked):>6,}  {percentile(ordered, 50):.3f}/"
            f"{percentile(ordered, 99):.3f}  {shown}"
        )


def run_scan(
    store: SqlStore,
    queries: Sequence[Query],
    decisions: Sequence[MatchDecision],
    timings: Sequence[int],
    results: Results,
) -> None:
    scanner = ScanMatcher(store)
    plan = scanner.plan()
    if not plan or plan[0] != "SCAN a":
        raise SystemExit(f"the full-scan query does not scan accounts first: {plan}")
    step = max(1, len(queries) // max(1, results.compared))
    picked = list(range(0, len(queries), step))[: results.compared]
    scanner.match(queries[picked[0]].identity)
    scan_ns, scan_decisions, wall = run_timed(scanner.match, [queries[i].identity for i in picked])
    results.scan = Latency.of(scan_ns, wall)
    results.scan_sample = Latency.of([timings[i] for i in picked], sum(timings[i] for i in picked))
    for i, scanned in zip(picked, scan_decisions, strict=True):
        if fingerprint(scanned) == fingerprint(decisions[i]):
            results.agreed += 1
        else:
            results.mismatches.append(
                f"query {i} ({queries[i].kind}): indexed {fingerprint(decisions[i])} "
                f"!= scan {fingerprint(scanned)}"
            )
    say(f"full scan    {results.scan.line()}")
    say(f"  plan       {'; '.join(plan)}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report_summary(results: Results) -> None:
    match, scan, sample = results.match, results.scan, results.scan_sample
    if match is None or scan is None or sample is None:
        raise RuntimeError("nothing measured")
    at_scale = results.accounts >= TARGET_ACCOUNTS
    say()
    say("summary")
    rate, floor = results.import_rate, results.floor_rate
    say(
        f"  import      {rate:>12,.0f} rows/s   floor (plain sqlite3, no checks) "
        f"{floor:,.0f} rows/s   ours/floor {rate / floor:.2f}"
    )
    say(
        f"  import target >= {IMPORT_TARGET_ROWS_PER_S:,} rows/s: "
        f"{verdict(rate >= IMPORT_TARGET_ROWS_PER_S)}"
    )
    for name, ours, peer in (
        ("p50", match.p50_ms, scan.p50_ms),
        ("p99", match.p99_ms, scan.p99_ms),
        ("max", match.max_ms, scan.max_ms),
    ):
        say(
            f"  match {name}   {ours:>12.3f} ms       full scan {peer:,.3f} ms"
            f"   scan/indexed x{peer / ours:,.0f}"
        )
    target = verdict(match.p99_ms <= MATCH_TARGET_P99_MS)
    scale = "" if at_scale else f" (target is for {TARGET_ACCOUNTS:,} accounts)"
    say(f"  match p99 target <= {MATCH_TARGET_P99_MS} ms: {target}{scale}")
    say(
        f"  scan sample: indexed p99 {sample.p99_ms:.3f} ms on the same {sample.count} queries; "
        f"scan p99 / match p99 = {scan.p99_ms / match.p99_ms:,.0f}"
    )
    check = verdict(not results.mismatches)
    say(
        f"  cross-check {results.agreed}/{results.compared} scan decisions equal the indexed "
        f"matcher's (outcome, candidates, rejections, warnings): {check}"
    )
    for line in results.mismatches[:10]:
        say(f"    {line}")


def machine_line(results: Results) -> str:
    match, scan = results.match, results.scan
    if match is None or scan is None:
        raise RuntimeError("nothing measured")
    return (
        f"import_rows_per_s={int(results.import_rate)} match_p50_ms={match.p50_ms:.3f} "
        f"match_p99_ms={match.p99_ms:.3f} scan_p99_ms={scan.p99_ms:.3f}"
    )


# -- command line -------------------------------------------------------------------------


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark bulk import and record matching on SQLite against a full scan."
    )
    parser.add_argument("--accounts", type=positive, default=TARGET_ACCOUNTS)
    parser.add_argument("--queries", type=positive, default=10_000)
    parser.add_argument("--scan-queries", type=positive, default=100)
    parser.add_argument("--warmup", type=int, default=500, help="untimed matches first")
    parser.add_argument(
        "--links", type=int, default=2_000, help="people linked first (at most 1%%)"
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--db",
        type=Path,
        help="SQLite file to create (default: a temp file); deleted unless --keep",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and the CSV")
    return parser.parse_args(argv)


def _sidecars(db: Path) -> list[Path]:
    return [db, *(db.with_name(db.name + s) for s in ("-wal", "-shm", ".key"))]


@dataclass(slots=True)
class Workspace:
    """The temporary directory (CSV, floor database) and the benchmark database."""

    root: Path
    db: Path
    keep: bool

    @classmethod
    def create(cls, db: Path | None, keep: bool) -> Workspace:
        if db is not None and any(p.exists() for p in _sidecars(db)):
            raise SystemExit(f"{db} (or its -wal, -shm or .key file) exists; give a new path")
        root = Path(tempfile.mkdtemp(prefix="sso_bridge_bench_"))
        return cls(root, db or root / "accounts.db", keep)

    def cleanup(self) -> None:
        if self.keep:
            say(f"kept: {self.db} (key {self.db.name}.key beside it), CSV in {self.root}")
            return
        for path in _sidecars(self.db):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.root, ignore_errors=True)


def prepare(args: argparse.Namespace, work: Workspace) -> tuple[Directory, float]:
    csv_path = work.root / "accounts.csv"
    started = time.perf_counter()
    directory = generate_directory(random.Random(args.seed), args.accounts, csv_path)
    seconds = time.perf_counter() - started
    report_generation(directory, seconds, csv_path)
    return directory, seconds


def benchmark(args: argparse.Namespace, work: Workspace) -> Results:
    directory, _ = prepare(args, work)
    results = Results(accounts=directory.accounts, compared=min(args.scan_queries, args.queries))
    store = open_store(f"sqlite:///{work.db}", create_key_file(_sidecars(work.db)[3]))
    try:
        people = directory.people
        directory.people = []
        gc.collect()
        results.import_s = run_import(store, work.root / "accounts.csv", directory.accounts)
        results.floor_s = import_floor(work.root / "accounts.csv", work.root / "floor.db")
        say(
            f"  floor      plain sqlite3 executemany: {directory.accounts / results.floor_s:,.0f}/s"
        )
        rng = random.Random(args.seed + 1)
        started = time.perf_counter()
        linked = make_links(store, rng, people, args.links)
        say(f"links        {linked:,} accounts linked in {time.perf_counter() - started:.1f} s")
        factory = PersonFactory(rng)
        factory.used_snils = {p.snils for p in people if p.snils}
        factory.used_passports = {p.passport for p in people if p.passport}
        queries = QueryFactory(rng, people, factory).build(args.warmup + args.queries)
        del people, factory
        gc.collect()
        warmup, timed = queries[: args.warmup], queries[args.warmup :]
        results.match, timings, decisions = run_matches(store, timed, warmup)
        report_kinds(timed, timings, decisions)
        run_scan(store, timed, decisions, timings, results)
    finally:
        store.close()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    say(
        f"sso_bridge matching benchmark: Python {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, {os.cpu_count()} CPUs, seed {args.seed}"
    )
    work = Workspace.create(args.db, args.keep)
    started = time.perf_counter()
    try:
        results = benchmark(args, work)
    finally:
        work.cleanup()
    report_summary(results)
    say(f"  total time  {time.perf_counter() - started:.0f} s")
    say(machine_line(results))
    return 1 if results.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
