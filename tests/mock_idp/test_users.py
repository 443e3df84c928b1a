from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from mock_idp.users import (
    Directory,
    Level,
    load_config,
    load_directory,
    person_from_dict,
    person_to_dict,
    save_directory,
)
from sso_bridge.errors import InvalidInput

SAMPLE = Path(str(resources.files("mock_idp") / "sample.yaml"))


def base(**kw: object) -> dict[str, object]:
    data: dict[str, object] = {
        "oid": 42,
        "login": "+7 900 111-22-33",
        "password": "p",
        "last_name": "Иванов",
        "first_name": "Иван",
        "birth_date": "1980-01-02",
        "snils": "11223344595",
        "contacts": [{"type": "EML", "value": "I@Example.org", "verified": True}],
    }
    data.update(kw)
    return data


def test_sample_config_loads() -> None:
    people = load_directory(SAMPLE)
    assert len(people) == 3
    maria = people.get(1000000101)
    assert maria is not None and maria.trusted
    assert maria.kids[0].first_name == "Артём"
    unverified = people.get(1000000107)
    assert unverified is not None and not unverified.trusted


def test_esia_forms_are_kept() -> None:
    person = person_from_dict(base())
    assert person.birth_date == "02.01.1980"
    assert person.snils == "112-233-445 95"
    assert person.level is Level.CONFIRMED


@pytest.mark.parametrize(
    "login", ["+7 900 111-22-33", "8 (900) 111 22 33", "i@example.ORG", "112-233-445 95"]
)
def test_login_by_phone_email_or_snils(login: str) -> None:
    people = Directory([person_from_dict(base())])
    found = people.by_login(login)
    assert found is not None and found.oid == 42


def test_unverified_contacts_are_not_logins() -> None:
    data = base(contacts=[{"type": "EML", "value": "x@example.org", "verified": False}])
    assert Directory([person_from_dict(data)]).by_login("x@example.org") is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"oid": "x"}, "oid"),
        ({"password": ""}, "password is required"),
        ({"birth_date": "1980/01/02"}, "not DD.MM.YYYY"),
        ({"snils": "112-233-445 96"}, "SNILS"),
        ({"level": "gold"}, "level 'gold'"),
        ({"second_factor": "totp"}, "totp_secret"),
        ({"passport": {"series": "12", "number": "3"}}, "passport"),
    ],
)
def test_bad_people_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        person_from_dict(base(**change))
    assert exc.value.code == "mock_idp.bad_person"
    assert message in exc.value.message


def test_a_login_belongs_to_one_person() -> None:
    people = Directory([person_from_dict(base())])
    with pytest.raises(InvalidInput):
        people.put(person_from_dict(base(oid=43)))
    people.put(person_from_dict(base(login="new@example.org")))  # same oid: a replacement
    assert people.by_login("new@example.org") is not None
    assert people.by_login("+7 900 111-22-33") is None


def test_save_round_trips_and_keeps_other_sections(tmp_path: Path) -> None:
    path = tmp_path / "idp.yaml"
    path.write_text(
        SAMPLE.read_text(encoding="utf-8") + "clients: [{client_id: c}]\n", encoding="utf-8"
    )
    people = load_directory(path)
    people.put(person_from_dict(base()))
    save_directory(path, people)
    again = load_directory(path)
    assert [person_to_dict(p) for p in again] == [person_to_dict(p) for p in people]
    assert load_config(path)["clients"] == [{"client_id": "c"}]
    json_path = tmp_path / "idp.json"
    save_directory(json_path, people)
    assert len(load_directory(json_path)) == 4
