"""The one JSON reader: arrays and objects are counted before anything is decoded, so a
document of the largest allowed size costs little whatever its shape."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from sso_bridge.errors import InvalidInput
from sso_bridge.jsonparse import MAX_JSON_BYTES, MAX_JSON_CONTAINERS, parse_json
from sso_bridge.oidc.errors import OidcError
from sso_bridge.oidc.keys import MAX_JWKS_KEYS, parse_jwks


def _cpu_ms(call: Callable[[], Any]) -> float:
    """The least CPU time of three calls, in milliseconds (robust on a busy machine)."""
    best = float("inf")
    for _ in range(3):
        start = time.thread_time()
        with contextlib.suppress(InvalidInput):
            call()
        best = min(best, time.thread_time() - start)
    return best * 1000


def _filled(unit: str) -> bytes:
    """A ``{"a": [...]}`` document of ``unit`` repeated up to the size limit."""
    count = (MAX_JSON_BYTES - 16) // (len(unit) + 1)
    return ('{"a":[' + ",".join([unit] * count) + "]}").encode()


@pytest.mark.parametrize("unit", ["[]", "{}", "[[]]"])
def test_many_containers_are_refused_before_decoding(unit: str) -> None:
    body = _filled(unit)
    with pytest.raises(InvalidInput, match="arrays and objects") as caught:
        parse_json(body)
    assert caught.value.code == "input.bad_json"
    # Counting is a pass of bytes.count: a millisecond or so, where decoding such a
    # document and walking it for its depth took hundreds.
    assert _cpu_ms(lambda: parse_json(body)) < 20


def test_the_container_limit_is_exact_and_configurable() -> None:
    at_limit = ("[" + ",".join(["[]"] * (MAX_JSON_CONTAINERS - 1)) + "]").encode()
    assert len(parse_json(at_limit)) == MAX_JSON_CONTAINERS - 1
    over = ("[" + ",".join(["[]"] * MAX_JSON_CONTAINERS) + "]").encode()
    with pytest.raises(InvalidInput):
        parse_json(over)
    assert parse_json(over, max_containers=MAX_JSON_CONTAINERS + 1)[0] == []


def test_brackets_inside_strings_count_and_ordinary_documents_pass() -> None:
    # An upper bound by design: the raw count never undercounts.
    with pytest.raises(InvalidInput):
        parse_json(json.dumps({"text": "[" * (MAX_JSON_CONTAINERS + 1)}))
    token_response = {"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 3600}
    assert parse_json(json.dumps(token_response)) == token_response


def test_a_jwks_with_too_many_keys_is_refused() -> None:
    entry = {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}
    keys = [{**entry, "kid": f"k{i}"} for i in range(MAX_JWKS_KEYS + 1)]
    with pytest.raises(OidcError) as caught:
        parse_jwks({"keys": keys}, ["ES256"])
    assert caught.value.code == "oidc.jwks_invalid"
    assert parse_jwks({"keys": keys[:MAX_JWKS_KEYS]}, ["ES256"]) == ()
