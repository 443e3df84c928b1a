"""Name data and name grammar for the synthetic region.

Russian surnames, first names and cities, most frequent first (sampled with Zipf-like
weights, so a few names are very common); feminine surnames, patronymics, transliteration
for logins, the Latin letters that look like Cyrillic ones, and a fast weighted draw.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


def words(text: str) -> tuple[str, ...]:
    """The white-space separated words of ``text``."""
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
    """Lower-case Latin transliteration of a Cyrillic name, as used in logins."""
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
        """One item, drawn with one ``rng.random()`` call."""
        return self._items[bisect.bisect_right(self._cum, rng.random() * self._total)]
