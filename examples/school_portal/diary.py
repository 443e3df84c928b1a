"""The electronic diary itself: small static sample data, the grades teachers enter (one
SQLite table), and what each kind of account sees."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Final

import attrs

from school_portal.errors import PortalError
from sso_bridge.model import LocalAccount

__all__ = [
    "CLASSES",
    "PUPILS",
    "ClassInfo",
    "Grade",
    "GradeBook",
    "Pupil",
    "children_of",
    "classes_for",
    "pupil_of",
    "view_of",
]


@attrs.frozen
class Pupil:
    pupil_id: str
    name: str
    class_id: str


@attrs.frozen
class ClassInfo:
    class_id: str
    org_id: str
    name: str
    subject: str
    teacher: str | None
    schedule: tuple[tuple[str, str], ...]
    homework: tuple[tuple[str, str], ...]


@attrs.frozen
class Grade:
    subject: str
    grade: int
    comment: str
    date: str


PUPILS: Final = {
    p.pupil_id: p
    for p in (
        Pupil("ilya", "Кузнецов Илья", "sch17-7a"),
        Pupil("nikita", "Белов Никита", "sch17-7a"),
        Pupil("polina", "Орлова Полина", "sch17-7a"),
        Pupil("artem", "Смирнов Артём", "gym5-6b"),
        Pupil("egor", "Волков Егор", "gym5-6b"),
        Pupil("alisa", "Смирнова Алиса", "lyc2-9a"),
        Pupil("vera", "Попова Вера", "lyc2-9a"),
        Pupil("sasha", "Новиков Александр", "sch3-3v"),
        Pupil("dasha", "Смирнова Дарья", "sch3-3v"),
    )
}

_WEEK = (("Пн", "Русский язык, Математика, История"), ("Вт", "Физика, Литература, Английский"))
CLASSES: Final = {
    c.class_id: c
    for c in (
        ClassInfo(
            "sch17-7a", "sch17", "7 «А»", "Математика", "t-smirnova", _WEEK,
            (("Математика", "№ 214, 215"), ("История", "§ 12, вопросы 1–3")),
        ),
        ClassInfo(
            "gym5-6b", "gym5", "6 «Б»", "Литература", None, _WEEK,
            (("Литература", "выучить стихотворение"), ("Английский", "упр. 5, с. 40")),
        ),
        ClassInfo(
            "lyc2-9a", "lyc2", "9 «А»", "Физика", "t-fedorov", _WEEK,
            (("Физика", "задачи 3–6"), ("Русский язык", "упр. 112")),
        ),
        ClassInfo(
            "sch3-3v", "sch3", "3 «В»", "Окружающий мир", None, _WEEK,
            (("Окружающий мир", "с. 58–60"), ("Математика", "с. 21, № 4")),
        ),
    )
}  # fmt: skip

_PUPIL_ACCOUNTS: Final = {"s-smirnov": "artem"}
_CHILDREN: Final = {
    "p-smirnova-g5": ("artem",),
    "p-smirnova-l2": ("alisa",),
    "p-kuznetsova": ("ilya",),
    "p-novikova": ("sasha",),
    "p-smirnova-s3": ("dasha",),
    "p-popov": ("vera",),
    "p-belova": ("nikita",),
}
_SAMPLE_GRADES: Final = (
    ("Математика", 5, "", "02.09"),
    ("Русский язык", 4, "", "03.09"),
    ("История", 5, "доклад", "04.09"),
)
STAFF_ROLES: Final = frozenset({"director", "staff", "admin"})


def pupil_of(account: LocalAccount) -> str | None:
    """The pupil record of a pupil's account."""
    return _PUPIL_ACCOUNTS.get(account.account_id)


def children_of(account: LocalAccount) -> tuple[str, ...]:
    """The pupils whose diaries a parent's account shows."""
    return _CHILDREN.get(account.account_id, ())


def classes_for(account: LocalAccount) -> list[ClassInfo]:
    """The classes in an account's journal: a teacher's own, or the whole school's for
    the administration."""
    if STAFF_ROLES.intersection(account.roles):
        return [c for c in CLASSES.values() if c.org_id == account.org_id]
    return [c for c in CLASSES.values() if c.teacher == account.account_id]


def view_of(account: LocalAccount) -> str:
    """``journal`` for teachers and the administration, ``diary`` for everyone else."""
    if "teacher" in account.roles or STAFF_ROLES.intersection(account.roles):
        return "journal"
    return "diary"


def class_for(account: LocalAccount, class_id: str) -> ClassInfo:
    """A class of the account's journal; ``portal.class_unavailable`` for any other."""
    for info in classes_for(account):
        if info.class_id == class_id:
            return info
    raise PortalError(
        "this class is not in your journal", code="portal.class_unavailable", status=404
    )


class GradeBook:
    """Grades entered through the journal form, in one table of the demo's SQLite file.

    The sample grades of :data:`_SAMPLE_GRADES` come first for every pupil.
    """

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS portal_grades (id INTEGER PRIMARY KEY, "
                "pupil_id TEXT NOT NULL, subject TEXT NOT NULL, grade INTEGER NOT NULL, "
                "comment TEXT NOT NULL, entered_by TEXT NOT NULL, created_at TEXT NOT NULL)"
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self.db_path, timeout=30)
            try:
                with db:
                    yield db
            finally:
                db.close()

    def add(
        self, info: ClassInfo, pupil_id: str, grade: str, comment: str, by: str, now: datetime
    ) -> Grade:
        """Record a grade for a pupil of ``info``; ``portal.bad_grade`` for anything else."""
        pupil = PUPILS.get(pupil_id)
        if pupil is None or pupil.class_id != info.class_id:
            raise PortalError("no such pupil in this class", code="portal.bad_grade", status=400)
        if grade not in {"2", "3", "4", "5"} or len(comment) > 500:
            raise PortalError(
                "a grade is 2 to 5, with a comment of 500 characters at most",
                code="portal.bad_grade",
                status=400,
            )
        with self._connect() as db:
            db.execute(
                "INSERT INTO portal_grades (pupil_id, subject, grade, comment, entered_by, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (pupil_id, info.subject, int(grade), comment.strip(), by, now.isoformat()),
            )
        return Grade(info.subject, int(grade), comment.strip(), f"{now:%d.%m}")

    def grades_of(self, pupil_id: str) -> list[Grade]:
        """The pupil's grades, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT subject, grade, comment, created_at FROM portal_grades "
                "WHERE pupil_id = ? ORDER BY id",
                (pupil_id,),
            ).fetchall()
        entered = [Grade(s, g, c, f"{datetime.fromisoformat(at):%d.%m}") for s, g, c, at in rows]
        return [Grade(*sample) for sample in _SAMPLE_GRADES] + entered
