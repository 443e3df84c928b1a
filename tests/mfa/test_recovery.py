"""Recovery codes: their format, how input is read, how they are kept, and that each one
passes once — also when several processes try it at the same time."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from sso_bridge.mfa.credentials import CredentialStore
from sso_bridge.mfa.recovery import (
    ALPHABET,
    COUNT,
    RecoveryCodes,
    hash_code,
    new_code,
    normalise_code,
)
from sso_bridge.store.sql import create_engine
from sso_bridge.store.sql_credentials import SqlCredentialStore, recovery_codes_table

KEY = bytes(range(100, 132))
SHOWN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")


def test_a_code_is_four_groups_of_unambiguous_characters() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert SHOWN.match(code), code
    assert not set("ILOU") & set(ALPHABET)
    assert len(set(ALPHABET)) == 32  # 5 bits a character, 16 characters: 80 bits


@pytest.mark.parametrize(
    "given",
    [
        "7KQM-4XRT-92HD-W0ZB",
        "7kqm4xrt92hdw0zb",
        " 7KQM 4XRT 92HD W0ZB ",
        "7KQM–4XRT–92HD–W0ZB",  # en dashes, as some editors type them
        "7KQM-4XRT-92HD-WOZB",  # the letter O for the digit 0
        "7КQМ-4ХRТ-92НD-W0ZВ",  # Cyrillic К, М, Х, Т, Н, В
    ],
)
def test_input_is_normalised(given: str) -> None:
    assert normalise_code(given) == "7KQM4XRT92HDW0ZB"


def test_ambiguous_letters_read_as_digits() -> None:
    assert normalise_code("ILIL-0000-1111-2222") == "1111000011112222"


@pytest.mark.parametrize(
    "given",
    [
        "",
        "123456",
        "7KQM-4XRT-92HD-W0Z",
        "7KQM-4XRT-92HD-W0ZBB",
        "7KQM-4XRT-92HD-W0ZU",
        "7KQM-4XRT-92HD-W0Z!",
        "7" * 65,
        ("7KQM-" * 13)[:64] + "X",
    ],
)
def test_malformed_input_is_no_code(given: str) -> None:
    assert normalise_code(given) is None


def test_hashes_are_salted_and_bound_to_the_account() -> None:
    one = hash_code("a1", "7KQM4XRT92HDW0ZB")
    two = hash_code("a1", "7KQM4XRT92HDW0ZB")
    assert one != two and len(one) == 16 + 32
    assert hash_code("a1", "7KQM4XRT92HDW0ZB", one[:16]) == one
    assert hash_code("a2", "7KQM4XRT92HDW0ZB", one[:16]) != one


def test_generate_keeps_only_hashes_and_replaces_the_set(credentials: CredentialStore) -> None:
    recovery = RecoveryCodes(credentials)
    first = recovery.generate("a1")
    assert len(first) == len(set(first)) == COUNT
    stored = credentials.recovery_code_hashes("a1")
    assert len(stored) == COUNT
    for code in first:
        assert normalise_code(code).encode() not in b"".join(stored)  # type: ignore[union-attr]
    second = recovery.generate("a1")
    assert recovery.use("a1", first[0]) is None  # the old set is gone
    assert recovery.use("a1", second[0]) == COUNT - 1
    assert recovery.left("a1") == COUNT - 1


def test_each_code_passes_once(credentials: CredentialStore) -> None:
    recovery = RecoveryCodes(credentials)
    codes = recovery.generate("a1")
    assert recovery.use("a1", codes[3].lower().replace("-", " ")) == COUNT - 1
    assert recovery.use("a1", codes[3]) is None
    assert recovery.use("a2", codes[4]) is None  # another account's code
    assert recovery.use("a1", "not a code") is None
    left = [recovery.use("a1", code) for i, code in enumerate(codes) if i != 3]
    assert left == list(range(COUNT - 2, -1, -1))
    assert recovery.left("a1") == 0


def test_nothing_stored_means_nothing_passes(credentials: CredentialStore) -> None:
    recovery = RecoveryCodes(credentials)
    assert recovery.left("nobody") == 0
    assert recovery.use("nobody", new_code()) is None
    assert credentials.use_recovery_code("nobody", b"\x00" * 48) is None


def test_removing_totp_removes_the_codes(credentials: CredentialStore) -> None:
    credentials.set_totp("a1", b"12345678901234567890")
    recovery = RecoveryCodes(credentials)
    codes = recovery.generate("a1")
    recovery.generate("a2")
    credentials.remove_totp("a1")
    assert recovery.left("a1") == 0
    assert recovery.use("a1", codes[0]) is None
    assert recovery.left("a2") == COUNT
    recovery.remove("a2")
    assert recovery.left("a2") == 0


def _race(workers: int, job: object) -> list[int | None]:
    barrier = threading.Barrier(workers)
    results: list[int | None] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        outcome = job()  # type: ignore[operator]
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_uses_of_one_code_have_one_winner(credentials: CredentialStore) -> None:
    recovery = RecoveryCodes(credentials)
    code = recovery.generate("a1")[0]
    results = _race(8, lambda: recovery.use("a1", code))
    assert sorted(results, key=lambda r: r is not None) == [None] * 7 + [COUNT - 1]
    assert recovery.left("a1") == COUNT - 1


def test_two_processes_cannot_both_spend_a_code(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engines = [create_engine(url) for _ in range(4)]
    try:
        stores = [RecoveryCodes(SqlCredentialStore(e, KEY)) for e in engines]
        code = stores[0].generate("a1")[0]
        pick = iter(stores * 2)
        lock = threading.Lock()

        def one() -> int | None:
            with lock:
                store = next(pick)
            return store.use("a1", code)

        results = _race(8, one)
        assert [r for r in results if r is not None] == [COUNT - 1]
    finally:
        for e in engines:
            e.dispose()


def test_the_table_holds_no_code(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        codes = RecoveryCodes(SqlCredentialStore(engine, KEY)).generate("a1")
        with engine.connect() as conn:
            rows = conn.execute(sa.select(recovery_codes_table)).all()
        assert len(rows) == COUNT
        dump = repr(rows).encode() + b"".join(bytes(r.code_hash) for r in rows)
        for code in codes:
            assert code.encode() not in dump
            assert code.replace("-", "").encode() not in dump
    finally:
        engine.dispose()
