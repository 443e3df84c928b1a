"""Re-authentication without data loss: a request that met an expired session is kept,
encrypted, while the person logs in again, and handed back afterwards.

Only the same browser can get it back (the browser id is bound into the encryption) and
only after the same account has logged in again: restoring it for another account
discards it. It is kept once and restored once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sso_bridge import base64url
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.errors import ConfigError, InvalidInput, StoreError
from sso_bridge.jsonparse import parse_json
from sso_bridge.sessions.errors import SessionError

__all__ = [
    "KEPT_REQUEST_KIND",
    "RequestKeeper",
    "SavedRequest",
    "discard_account",
    "is_local_path",
]

KEPT_REQUEST_KIND: Final = "kept_request"
"""The :class:`EphemeralStore` kind under which kept requests are stored."""

_METHODS: Final = frozenset({"GET", "POST"})
_FORMAT: Final = 1
_NONCE_BYTES: Final = 12
_ID_CHARS: Final = 43  # base64url of 32 bytes
_KDF_INFO: Final = b"sso_bridge kept request v1"
# A stored request is _TAGGED, the account's tag, then the nonce and the sealed request;
# the tag lets an erasure find an account's requests without the browser id (the key).
_TAGGED: Final = b"\x02"
_TAG_BYTES: Final = 32


def _check_method(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in _METHODS:
        raise SessionError(
            "only GET and POST requests can be kept", code="session.kept_request_bad_method"
        )


def is_local_path(path: str) -> bool:
    """Whether ``path`` (with its query) can only lead back to this site: it starts with
    one ``/``, holds no backslash (browsers read ``/\\`` as ``//``), no space and no
    control character (browsers drop tabs and newlines, so ``/\\t/host`` is ``//host``)."""
    return (
        type(path) is str
        and path.startswith("/")
        and not path.startswith("//")
        and "\\" not in path
        and not any(c <= " " or "\x7f" <= c <= "\x9f" for c in path)
    )


def _check_path(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not is_local_path(value):
        raise SessionError(
            "a kept request must go to a local path", code="session.kept_request_bad_path"
        )


def _pairs(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    pairs = tuple(tuple(pair) for pair in value)
    if not all(len(p) == 2 and type(p[0]) is str and type(p[1]) is str for p in pairs):
        raise InvalidInput("form must be (name, value) pairs of strings", code="input.invalid")
    return pairs  # type: ignore[return-value]


@attrs.frozen
class SavedRequest:
    """A request to repeat after re-authentication: ``method`` (GET or POST), ``path``
    with its query (a local path), the ``form`` fields in order (a name may repeat), and
    the account whose session had expired."""

    method: str = attrs.field(validator=_check_method)
    path: str = attrs.field(validator=_check_path)
    form: tuple[tuple[str, str], ...] = attrs.field(converter=_pairs)
    account_id: str = attrs.field(validator=attrs.validators.instance_of(str))


def _to_bytes(request: SavedRequest) -> bytes:
    row = [_FORMAT, request.method, request.path, request.account_id, request.form]
    try:
        return json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate
        raise InvalidInput(
            "the request holds text that is not Unicode", code="input.invalid"
        ) from None


def _from_bytes(data: bytes) -> SavedRequest | None:
    try:
        # Sealed by us, so not counted: brackets in a kept form's text are not containers.
        row = parse_json(data, max_depth=3, max_containers=len(data))
    except InvalidInput:
        return None
    if type(row) is not list or len(row) != 5 or row[0] != _FORMAT:
        return None
    _, method, path, account_id, form = row
    try:
        return SavedRequest(method, path, form, account_id)
    except (InvalidInput, SessionError, TypeError):
        return None


def _browser_owner(browser_id: str) -> str:
    # The store sees a digest, not the browser id that the cookie carries.
    return hashlib.sha256(b"browser\x00" + browser_id.encode()).hexdigest()


def _associated_data(keep_id: str, browser_id: str) -> bytes:
    return b"\x00".join((_KDF_INFO, keep_id.encode(), browser_id.encode()))


def _unknown() -> SessionError:
    return SessionError(
        "no kept request with this id for this browser", code="session.kept_request_unknown"
    )


class RequestKeeper:
    """Kept requests in an :class:`EphemeralStore` (kind ``"kept_request"``), encrypted
    with AES-256-GCM under a key derived from ``key`` (at least 32 secret bytes)."""

    def __init__(
        self,
        store: EphemeralStore,
        key: bytes,
        *,
        max_bytes: int = 65536,
        lifetime: timedelta = timedelta(minutes=30),
    ) -> None:
        if not isinstance(key, bytes) or len(key) < 32:
            raise ConfigError(
                "the kept-request key must be at least 32 bytes", code="config.invalid"
            )
        if max_bytes < 1 or lifetime <= timedelta(0):
            raise ConfigError("max_bytes and lifetime must be positive", code="config.invalid")
        derived = HKDF(hashes.SHA256(), 32, salt=None, info=_KDF_INFO).derive(key)
        self._aead = AESGCM(derived)
        self._store = store
        self._max_bytes = max_bytes
        self._lifetime = lifetime

    def keep(self, request: SavedRequest, *, browser_id: str, now: datetime) -> str:
        """Keep ``request`` for this browser; the id to restore it by.

        More than ``max_bytes`` of serialised request is ``session.kept_request_too_large``.
        """
        plain = _to_bytes(request)
        if len(plain) > self._max_bytes:
            raise SessionError(
                f"the request is larger than {self._max_bytes} bytes",
                code="session.kept_request_too_large",
            )
        if not browser_id:
            raise InvalidInput("browser_id must not be empty", code="input.invalid")
        keep_id = base64url.encode(secrets.token_bytes(32))
        nonce = secrets.token_bytes(_NONCE_BYTES)
        tag = _account_tag(request.account_id)
        bound = _associated_data(keep_id, browser_id) + tag  # the tag cannot be swapped
        sealed = _TAGGED + tag + nonce + self._aead.encrypt(nonce, plain, bound)
        owner = _browser_owner(browser_id)
        expires_at = now + self._lifetime
        if not self._store.add(KEPT_REQUEST_KIND, keep_id, sealed, expires_at, now, owner=owner):
            raise StoreError("a new kept-request id is already in use", code="store.error")
        return keep_id

    def restore(
        self, keep_id: str, *, browser_id: str, account_id: str, now: datetime
    ) -> SavedRequest:
        """The kept request, once, for the browser that kept it and the account that has
        now logged in again.

        ``session.kept_request_unknown`` if there is none for this browser (absent, used,
        expired, another browser's, or altered); ``session.kept_request_other_account`` if
        another account logged in, and the request is then discarded.
        """
        if type(keep_id) is not str or len(keep_id) != _ID_CHARS:
            raise _unknown()
        data = self._store.get(KEPT_REQUEST_KIND, keep_id, now)
        request = None if data is None else self._open(data, keep_id, browser_id)
        # consumed only once it has proven to be this browser's, so that a guessed or
        # stolen id used from elsewhere cannot destroy it
        if request is None or self._store.consume(KEPT_REQUEST_KIND, keep_id, now) is None:
            raise _unknown()
        if request.account_id != account_id:
            raise SessionError(
                "the request was kept for another account; it has been discarded",
                code="session.kept_request_other_account",
            )
        return request

    def discard(self, keep_id: str) -> bool:
        """Drop one kept request; True if there was one."""
        return self._store.delete(KEPT_REQUEST_KIND, keep_id)

    def discard_browser(self, browser_id: str) -> int:
        """Drop every request kept for this browser; how many there were."""
        return self._store.delete_owned_by(KEPT_REQUEST_KIND, _browser_owner(browser_id))

    def discard_account(self, account_id: str, now: datetime) -> int:
        """Drop every request kept for ``account_id``; how many there were."""
        return discard_account(self._store, account_id, now)

    def _open(self, data: bytes, keep_id: str, browser_id: str) -> SavedRequest | None:
        bound = _associated_data(keep_id, browser_id)
        layouts = [(data, bound)]  # one kept before the tag (a nonce first) opens as it was
        if data[:1] == _TAGGED:
            tag = data[1 : 1 + _TAG_BYTES]
            layouts.insert(0, (data[1 + _TAG_BYTES :], bound + tag))
        for body, associated in layouts:
            nonce, sealed = body[:_NONCE_BYTES], body[_NONCE_BYTES:]
            try:
                plain = self._aead.decrypt(nonce, sealed, associated)
            except (InvalidTag, ValueError):
                continue
            return _from_bytes(plain)
        return None


def _account_tag(account_id: str) -> bytes:
    return hashlib.sha256(b"kept for\x00" + account_id.encode()).digest()


def discard_account(store: EphemeralStore, account_id: str, now: datetime) -> int:
    """Drop every request kept in ``store`` for ``account_id`` (an erasure; needs no key),
    found by their tags in one pass over the kept requests; how many there were."""
    start = _TAGGED + _account_tag(account_id)
    dropped, cursor = 0, None
    while True:
        found, cursor = store.scan(KEPT_REQUEST_KIND, now, cursor)
        for keep_id, data in found:
            if data.startswith(start) and store.delete(KEPT_REQUEST_KIND, keep_id):
                dropped += 1
        if cursor is None:
            return dropped
