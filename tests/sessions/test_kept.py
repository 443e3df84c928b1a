"""Kept requests: encrypted, bound to the browser, restored once and only to the account
whose session had expired."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpers.clock import NOW
from sessions.support import KEEP_KEY, CountingStore
from sso_bridge.errors import ConfigError, InvalidInput
from sso_bridge.sessions import RequestKeeper, SavedRequest, SessionError

BROWSER = "browser-a-" + "x" * 33
OTHER_BROWSER = "browser-b-" + "y" * 33

FORM = (
    ("subject", "Математика"),
    ("grade", "5"),
    ("grade", "4"),
    ("comment", "Хорошо; «отлично» & <b>даже</b>\nновая строка"),
    ("empty", ""),
)


def request(**kw: object) -> SavedRequest:
    fields: dict[str, object] = {
        "method": "POST",
        "path": "/journal/7/marks?term=2&q=%D0%B0",
        "form": FORM,
        "account_id": "acc-1",
    }
    fields.update(kw)
    return SavedRequest(**fields)  # type: ignore[arg-type]


@pytest.fixture
def keeper(store: CountingStore) -> RequestKeeper:
    return RequestKeeper(store, KEEP_KEY)


def code_of(error: pytest.ExceptionInfo[SessionError]) -> str:
    return error.value.code


def test_round_trip_with_repeated_names_and_cyrillic(keeper: RequestKeeper) -> None:
    kept = request()
    keep_id = keeper.keep(kept, browser_id=BROWSER, now=NOW)
    restored = keeper.restore(keep_id, browser_id=BROWSER, account_id="acc-1", now=NOW)
    assert restored == kept
    assert restored.form == FORM


def test_a_get_request(keeper: RequestKeeper) -> None:
    kept = request(method="GET", path="/", form=())
    keep_id = keeper.keep(kept, browser_id=BROWSER, now=NOW)
    assert keeper.restore(keep_id, browser_id=BROWSER, account_id="acc-1", now=NOW) == kept


def test_form_given_as_lists_is_kept_as_pairs() -> None:
    assert request(form=[["a", "1"], ["a", "2"]]).form == (("a", "1"), ("a", "2"))


def test_restored_once(keeper: RequestKeeper) -> None:
    keep_id = keeper.keep(request(), browser_id=BROWSER, now=NOW)
    keeper.restore(keep_id, browser_id=BROWSER, account_id="acc-1", now=NOW)
    with pytest.raises(SessionError) as error:
        keeper.restore(keep_id, browser_id=BROWSER, account_id="acc-1", now=NOW)
    assert code_of(error) == "session.kept_request_unknown"


def test_encrypted_in_the_store(keeper: RequestKeeper, store: CountingStore) -> None:
    keep_id = keeper.keep(request(), browser_id=BROWSER, now=NOW)
    [(key, value)] = store.written
    assert key == keep_id
    for secret in ("Математика", "/journal", "acc-1", "grade"):
        assert secret.encode() not in value
    assert BROWSER.encode() not in value
    assert store.inner.owned_by("kept_request", BROWSER, NOW) == []  # a digest, not the id


def test_another_browser_gets_nothing_and_destroys_nothing(keeper: RequestKeeper) -> None:
    keep_id = keeper.keep(request(), browser_id=BROWSER, now=NOW)
    with pytest.raises(SessionError) as error:
        keeper.restore(keep_id, browser_id=OTHER_BROWSER, account_id="acc-1", now=NOW)
    assert code_of(error) == "session.kept_request_unknown"
    assert keeper.restore(keep_id, browser_id=BROWSER, account_id="acc-1", now=NOW) == request()


def test_another_account_discards_it(keeper: RequestKeeper) -> None:
    keep_id = keeper.keep(request(), browser_id=BROWSER, now=NOW)
    with pytest.raises(SessionError) as error:
        keeper.restore(keep_id, browser_id=BROWSER, account_id="acc-2", now=NOW)
    assert code_of(error) == "session.kept_request_other_account"
    with pytest.raises(SessionError) as again:
        keeper.restore(keep_id, browser_id=BROWSER, account_id="acc-1", now=NOW)
    assert code_of(again) == "session.kept_request_unknown"


@pytest.mark.parametrize("position", [0, 5, 12, 20, -1])
def test_tampered_ciphertext(keeper: RequestKeeper, store: CountingStore, position: int) -> None:
    keep_id = keeper.keep(request(), browser_id=BROWSER, now=NOW)
    sealed = bytearray(store.written[0][1])
    sealed[position] ^= 0x01
    store.put("kept_request", keep_id, bytes(sealed), NOW + timedelta(minutes=5), NOW)
    with pytest.raises(SessionError) as error:
        keeper.restore(keep_id, browser_id=BROWSER, account_id="acc-1", now=NOW)
    assert code_of(error) == "session.kept_request_unknown"


def test_ciphertext_moved_to_another_id(keeper: RequestKeeper, store: CountingStore) -> None:
    first = keeper.keep(request(), browser_id=BROWSER, now=NOW)
    second = keeper.keep(request(account_id="acc-2"), browser_id=BROWSER, now=NOW)
    store.put("kept_request", second, store.written[0][1], NOW + timedelta(minutes=5), NOW)
    with pytest.raises(SessionError):
        keeper.restore(second, browser_id=BROWSER, account_id="acc-1", now=NOW)
    assert keeper.restore(first, browser_id=BROWSER, account_id="acc-1", now=NOW) == request()


def test_another_key_cannot_read_it(store: CountingStore) -> None:
    keep_id = RequestKeeper(store, KEEP_KEY).keep(request(), browser_id=BROWSER, now=NOW)
    with pytest.raises(SessionError):
        RequestKeeper(store, bytes(32)).restore(
            keep_id, browser_id=BROWSER, account_id="acc-1", now=NOW
        )


def test_lifetime(store: CountingStore) -> None:
    keeper = RequestKeeper(store, KEEP_KEY, lifetime=timedelta(minutes=10))
    keep_id = keeper.keep(request(), browser_id=BROWSER, now=NOW)
    with pytest.raises(SessionError) as error:
        keeper.restore(
            keep_id, browser_id=BROWSER, account_id="acc-1", now=NOW + timedelta(minutes=10)
        )
    assert code_of(error) == "session.kept_request_unknown"


def test_size_limit(store: CountingStore) -> None:
    keeper = RequestKeeper(store, KEEP_KEY)
    fits = keeper.keep(request(form=(("text", "a" * 60_000),)), browser_id=BROWSER, now=NOW)
    assert fits
    with pytest.raises(SessionError) as error:
        keeper.keep(request(form=(("text", "ж" * 33_000),)), browser_id=BROWSER, now=NOW)
    assert code_of(error) == "session.kept_request_too_large"
    small = RequestKeeper(store, KEEP_KEY, max_bytes=100)
    with pytest.raises(SessionError):
        small.keep(request(), browser_id=BROWSER, now=NOW)


@pytest.mark.parametrize(
    "path",
    [
        "//evil.example",
        "//evil.example/path",
        "https://evil.example/",
        "http:/evil.example",
        "/\\evil",
        "/\\/evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/a b",
        "/a\x7fb",
        "javascript:alert(1)",
        "evil.example",
        "",
    ],
)
def test_bad_paths(path: str) -> None:
    with pytest.raises(SessionError) as error:
        request(path=path)
    assert code_of(error) == "session.kept_request_bad_path"


@pytest.mark.parametrize("path", ["/", "/a/b?c=d&e=//f", "/https://x", "/журнал?q=1"])
def test_local_paths(path: str) -> None:
    assert request(path=path).path == path


@pytest.mark.parametrize("method", ["PUT", "DELETE", "get", "", "CONNECT"])
def test_bad_methods(method: str) -> None:
    with pytest.raises(SessionError) as error:
        request(method=method)
    assert code_of(error) == "session.kept_request_bad_method"


@pytest.mark.parametrize("form", [(("a",),), (("a", 1),), ((1, "a"),), (("a", "b", "c"),)])
def test_bad_forms(form: object) -> None:
    with pytest.raises(InvalidInput):
        request(form=form)


def test_unknown_and_malformed_ids(keeper: RequestKeeper) -> None:
    for keep_id in ("", "short", "A" * 43, "x" * 5000):
        with pytest.raises(SessionError) as error:
            keeper.restore(keep_id, browser_id=BROWSER, account_id="acc-1", now=NOW)
        assert code_of(error) == "session.kept_request_unknown"


def test_discard(keeper: RequestKeeper) -> None:
    one = keeper.keep(request(), browser_id=BROWSER, now=NOW)
    two = keeper.keep(request(), browser_id=BROWSER, now=NOW)
    other = keeper.keep(request(), browser_id=OTHER_BROWSER, now=NOW)
    assert keeper.discard(one) is True
    assert keeper.discard(one) is False
    assert keeper.discard_browser(BROWSER) == 1
    with pytest.raises(SessionError):
        keeper.restore(two, browser_id=BROWSER, account_id="acc-1", now=NOW)
    keeper.restore(other, browser_id=OTHER_BROWSER, account_id="acc-1", now=NOW)


def test_lone_surrogates_are_refused(keeper: RequestKeeper) -> None:
    with pytest.raises(InvalidInput):
        keeper.keep(request(form=(("a", "\udcff"),)), browser_id=BROWSER, now=NOW)


@pytest.mark.parametrize(
    ("key", "fields"),
    [(bytes(31), {}), (KEEP_KEY, {"max_bytes": 0}), (KEEP_KEY, {"lifetime": timedelta(0)})],
)
def test_bad_configuration(store: CountingStore, key: bytes, fields: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        RequestKeeper(store, key, **fields)  # type: ignore[arg-type]
