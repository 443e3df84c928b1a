"""Roles are named in the page's language on the chooser and the account switcher."""

from __future__ import annotations

from sso_bridge.broker import AccountOption, ChooseAccount
from sso_bridge.web import WebConfig
from sso_bridge.web.rendering import Templates


def test_common_roles_are_named_in_the_page_language() -> None:
    russian = Templates(WebConfig())
    english = Templates(WebConfig(language="en"))
    assert (russian.role("teacher"), english.role("teacher")) == ("учитель", "teacher")
    assert russian.role("parent") == "родитель"
    assert russian.role("club-coach") == "club-coach"


def test_the_chooser_shows_role_names_not_codes() -> None:
    form = ChooseAccount(
        "step",
        (AccountOption("t1", "sch1", "Школа № 1", ("teacher", "club-coach")),),
        linking=False,
    )
    page = Templates(WebConfig()).render("chooser.html", {"form": form, "result": form})
    assert "учитель, club-coach" in page
    assert "teacher" not in page
