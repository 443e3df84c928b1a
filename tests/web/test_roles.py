"""Roles are named in the page's language on the chooser and the account switcher."""

from __future__ import annotations

from sso_bridge.broker import AccountOption, ChooseAccount
from sso_bridge.web import WebConfig
from sso_bridge.web.rendering import Templates


def test_common_roles_are_named_in_the_page_language() -> None:
    templates = Templates(WebConfig())
    assert (templates.role_name("ru", "teacher"), templates.role_name("en", "teacher")) == (
        "учитель",
        "teacher",
    )
    assert templates.role_name("ru", "parent") == "родитель"
    assert templates.role_name("en", "club-coach") == "club-coach"
    page = templates.environment.from_string("{{ 'admin'|role }}")
    assert (page.render(lang="ru"), page.render(lang="en")) == ("администратор", "administrator")


def test_the_chooser_shows_role_names_not_codes() -> None:
    form = ChooseAccount(
        "step",
        (AccountOption("t1", "sch1", "Школа № 1", ("teacher", "club-coach")),),
        linking=False,
    )
    page = Templates(WebConfig()).render("chooser.html", {"form": form, "result": form})
    assert "учитель, club-coach" in page
    assert "teacher" not in page
