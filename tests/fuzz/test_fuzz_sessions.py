"""Fuzzing what a browser can send to the session layer: session tokens and client
addresses, kept requests, and the step ids and answers of a login.

Invariant: a session is given only for its own token from its own network; a client
address comes out as an address; a kept request comes back exactly as kept, only to its
browser and account; a login step moves only with its own id in its own browser.
Anything else is refused with a stable code (``session.*``, ``input.*``, ``broker.*``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Final

import pytest
from hypothesis import strategies as st

from fuzz.harness import InvariantViolation, Target, chunks, fuzz
from sso_bridge.sessions import (
    IpBinding,
    RequestKeeper,
    SavedRequest,
    SessionManager,
    SessionPolicy,
    client_ip,
)
from sso_bridge.store.memory import InMemoryEphemeralStore

NOW: Final = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
IP: Final = "10.20.30.40"
BROWSER: Final = "browser-of-the-person"


def _texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=60),
        st.text(
            alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/.",
            max_size=90,
        ),
        st.sampled_from(("", " ", "\x00", "null", "%00", "..", "/", "\u202e", "Ω" * 200)),
    )


def _ips() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from((IP, "10.20.30.41", "::ffff:10.20.30.40", "2001:db8::1", "127.0.0.1")),
        st.ip_addresses().map(str),
        _texts(),
    )


# -- session tokens ----------------------------------------------------------------------------


@cache
def _sessions() -> tuple[SessionManager, str]:
    manager = SessionManager(
        InMemoryEphemeralStore(), SessionPolicy(binding=IpBinding(ipv4_prefix=24)), b"k" * 32
    )
    token, _ = manager.start("a-1", ip=IP, user_agent=None, now=NOW, method="local")
    return manager, token


@dataclass(frozen=True)
class TokenCase:
    token: str
    ip: str
    real: bool  # the real token, with ``token`` appended to it when not empty


def _token_of(case: TokenCase) -> str:
    _, token = _sessions()
    return token + case.token if case.real else case.token


def _validate(case: TokenCase) -> Any:
    manager, _ = _sessions()
    session = manager.validate(_token_of(case), ip=case.ip, now=NOW + timedelta(seconds=1))
    return session


def _verify_token(case: TokenCase, session: Any) -> str:
    _, token = _sessions()
    if _token_of(case) != token:
        raise InvariantViolation("a session was given for another token")
    if (
        ipaddress.ip_network(f"{case.ip}/24", strict=False)
        != ipaddress.ip_network(f"{IP}/24", strict=False)
        and case.ip != "::ffff:10.20.30.40"
    ):
        raise InvariantViolation(f"a session was given to {case.ip!r}, outside its network")
    if session.account_id != "a-1":
        raise InvariantViolation("the session names another account")
    return "accepted"


@pytest.mark.parametrize("count", chunks("session_token"))
def test_session_token(count: int) -> None:
    target = Target(
        "session_token",
        call=_validate,
        verify=_verify_token,
        repro=lambda case: f"# token case: {case!r}\n",
    )
    # an IP change would end the one session for the following cases: keep those apart
    ips = st.one_of(st.just(IP), st.sampled_from(("10.20.30.99", "::ffff:10.20.30.40")))
    cases = st.one_of(
        st.builds(TokenCase, _texts(), ips, st.booleans()),
        st.builds(TokenCase, st.just(""), ips, st.just(True)),
    )
    fuzz(target, cases, count)


# -- client addresses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressCase:
    remote: str
    forwarded: str | None
    trusted: tuple[str, ...]


def _plain(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Any:
    """An IPv4-mapped IPv6 address is the IPv4 address (as the sessions compare them)."""
    mapped = getattr(address, "ipv4_mapped", None)
    return address if mapped is None else mapped


def _verify_address(case: AddressCase, result: str) -> str:
    try:
        address = ipaddress.ip_address(result)
    except ValueError:
        raise InvariantViolation(f"client_ip gave {result!r}, not an address") from None
    remote = _plain(ipaddress.ip_address(case.remote))
    trusted = any(remote in ipaddress.ip_network(t, strict=False) for t in case.trusted)
    if not trusted and address != remote:
        raise InvariantViolation("X-Forwarded-For was believed from an untrusted peer")
    return "accepted (forwarded)" if address != remote else "accepted"


@pytest.mark.parametrize("count", chunks("client_ip"))
def test_client_ip(count: int) -> None:
    target = Target(
        "client_ip",
        call=lambda case: client_ip(case.remote, case.forwarded, case.trusted),
        verify=_verify_address,
        repro=lambda case: (
            "from sso_bridge.sessions import client_ip\n\n"
            f"print(client_ip({case.remote!r}, {case.forwarded!r}, {case.trusted!r}))\n"
        ),
    )
    forwarded = st.one_of(
        st.none(),
        st.lists(_ips(), max_size=4).map(", ".join),
        _texts(),
    )
    trusted = st.lists(st.sampled_from(("127.0.0.1/32", "10.0.0.0/8", "::1/128")), max_size=2)
    cases = st.builds(
        AddressCase,
        st.one_of(st.sampled_from(("127.0.0.1", "10.1.1.1", "::1", "192.0.2.7")), _ips()),
        forwarded,
        trusted.map(tuple),
    )
    fuzz(target, cases, count)


# -- kept requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeptCase:
    method: str
    path: str
    form: tuple[tuple[str, str], ...]
    browser: str
    account: str
    kept_id_suffix: str


def _keep_and_restore(case: KeptCase) -> tuple[SavedRequest, SavedRequest]:
    keeper = RequestKeeper(InMemoryEphemeralStore(), b"s" * 32, max_bytes=4096)
    kept = SavedRequest(method=case.method, path=case.path, form=case.form, account_id="a-1")
    keep_id = keeper.keep(kept, browser_id=BROWSER, now=NOW)
    restored = keeper.restore(
        keep_id + case.kept_id_suffix, browser_id=case.browser, account_id=case.account, now=NOW
    )
    return kept, restored


def _verify_kept(case: KeptCase, result: tuple[SavedRequest, SavedRequest]) -> str:
    kept, restored = result
    if restored != kept:
        raise InvariantViolation("the restored request differs from the kept one")
    if case.browser != BROWSER or case.account != "a-1" or case.kept_id_suffix:
        raise InvariantViolation("a kept request went to another browser, account or id")
    if not case.path.startswith("/") or case.path.startswith("//") or "\\" in case.path:
        raise InvariantViolation(f"a request to {case.path!r} was kept")
    return "accepted"


@pytest.mark.parametrize("count", chunks("kept_request"))
def test_kept_request(count: int) -> None:
    target = Target(
        "kept_request",
        call=_keep_and_restore,
        verify=_verify_kept,
        repro=lambda case: f"# kept case: {case!r}\n",
    )
    paths = st.one_of(
        st.sampled_from(("/journal/7b", "//evil.example/", "/\\evil", "https://evil/", "/ok?x=1")),
        _texts(),
    )
    fields = st.lists(st.tuples(_texts(), _texts()), max_size=6).map(tuple)
    cases = st.builds(
        KeptCase,
        st.sampled_from(("GET", "POST", "PUT", "get", "")),
        paths,
        fields,
        st.one_of(st.just(BROWSER), _texts()),
        st.one_of(st.just("a-1"), _texts()),
        st.one_of(st.just(""), _texts()),
    )
    fuzz(target, cases, count)
