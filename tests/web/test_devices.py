"""The sessions list names browsers and systems from the User-Agent, not the raw header."""

from __future__ import annotations

import time

import pytest

from sso_bridge.web.devices import MAX_USER_AGENT, device_name
from web.support import World

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
YANDEX_ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/118.0.5993.117 YaBrowser/23.11.3.117.00 SA/3 Mobile Safari/537.36"
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (CHROME_WINDOWS, "Chrome 120, Windows 10"),
        (SAFARI_IPHONE, "Mobile Safari 17, iOS 17, iPhone"),
        ("curl/8.4.0", "curl 8"),
    ],
)
def test_a_known_browser_is_named(header: str, expected: str) -> None:
    assert device_name(header) == expected


def test_a_phone_names_its_browser_system_and_model() -> None:
    named = device_name(YANDEX_ANDROID)
    assert named is not None
    assert named.startswith("Yandex Browser")
    assert "Android 13" in named


@pytest.mark.parametrize("header", ["", "   ", "x" * 40, "\x00\x01"])
def test_nothing_recognised_is_none(header: str) -> None:
    assert device_name(header) is None


def test_a_long_header_is_cut_before_it_is_parsed() -> None:
    device_name.cache_clear()
    device_name(CHROME_WINDOWS)  # the rules are compiled on the first use
    started = time.perf_counter()
    assert device_name(CHROME_WINDOWS + " " + "A" * 100_000) == "Chrome 120, Windows 10"
    assert time.perf_counter() - started < 1.0
    assert len(CHROME_WINDOWS) <= MAX_USER_AGENT


def test_the_sessions_list_names_the_browser_not_the_header(world: World) -> None:
    world.browser.headers["user-agent"] = CHROME_WINDOWS
    assert world.local_login().status_code == 303
    page = world.browser.get("/auth/settings").text
    listed = page.split('id="sessions-heading"', 1)[1].split("</section>", 1)[0]
    assert "Chrome 120, Windows 10" in listed
    assert "этот сеанс" in listed
    assert CHROME_WINDOWS not in listed.replace(f'title="{CHROME_WINDOWS}"', "")
