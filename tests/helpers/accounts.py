"""Sample organisations and local accounts for store, matching and linking tests."""

from __future__ import annotations

from datetime import date

from sso_bridge.model import LocalAccount, Organisation

KEY = bytes(range(32))
ISSUER = "https://esia.example/"

ORGS = (
    Organisation("sch1", "Школа № 1"),
    Organisation("sch2", "Школа № 2"),
    Organisation("sch3", "Гимназия № 3"),
)


def make_account(account_id: str, org_id: str = "sch1", **kw: object) -> LocalAccount:
    fields: dict[str, object] = {
        "last_name": "Смирнова",
        "first_name": "Мария",
        "middle_name": "Петровна",
        "birth_date": date(1984, 3, 12),
    }
    fields.update(kw)
    return LocalAccount(account_id=account_id, org_id=org_id, **fields)  # type: ignore[arg-type]
