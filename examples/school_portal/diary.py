"""The electronic diary itself: small static sample data, the grades teachers enter (one
table of the portal's database), and what each kind of account sees."""

from __future__ import annotations

from datetime import datetime
from typing import Final

import attrs
import sqlalchemy as sa

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
    "create_grade_table",
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


_GRADES_METADATA: Final = sa.MetaData()
_GRADES: Final = sa.Table(
    "portal_grades",
    _GRADES_METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pupil_id", sa.String(64), nullable=False, index=True),
    sa.Column("subject", sa.String(100), nullable=False),
    sa.Column("grade", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("entered_by", sa.String(128), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)


def create_grade_table(engine: sa.Engine) -> None:
    """Create the grades table unless it exists (a second process may win the race)."""
    try:
        _GRADES_METADATA.create_all(engine, checkfirst=True)
    except sa.exc.DBAPIError:
        if not sa.inspect(engine).has_table(_GRADES.name):
            raise


class GradeBook:
    """Grades entered through the journal form, in one table of the portal's database
    (the demo's SQLite file, or the PostgreSQL database every instance shares).

    The sample grades of :data:`_SAMPLE_GRADES` come first for every pupil.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        create_grade_table(engine)

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
        row = {
            "pupil_id": pupil_id,
            "subject": info.subject,
            "grade": int(grade),
            "comment": comment.strip(),
            "entered_by": by,
            "created_at": now.isoformat(),
        }
        with self.engine.begin() as db:
            db.execute(_GRADES.insert().values(**row))
        return Grade(info.subject, int(grade), comment.strip(), f"{now:%d.%m}")

    def grades_of(self, pupil_id: str) -> list[Grade]:
        """The pupil's grades, oldest first."""
        columns = (_GRADES.c.subject, _GRADES.c.grade, _GRADES.c.comment, _GRADES.c.created_at)
        query = sa.select(*columns).where(_GRADES.c.pupil_id == pupil_id).order_by(_GRADES.c.id)
        with self.engine.connect() as db:
            rows = db.execute(query).all()
        entered = [Grade(s, g, c, f"{datetime.fromisoformat(at):%d.%m}") for s, g, c, at in rows]
        return [Grade(*sample) for sample in _SAMPLE_GRADES] + entered
