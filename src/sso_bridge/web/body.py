"""What a request may carry, checked while it arrives: the body (counted as it streams in,
whatever its framing, ``Content-Length`` or chunked), the form fields in it, the query
string and the headers. The adapters feed the body here piece by piece and stop at the
first refusal, so no more than the limit and one piece of a body is ever read.

Every refusal is a :class:`~sso_bridge.web.errors.RequestRefused`: its page is sent with
``Connection: close``, so what the client still sends is never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import parse_qsl

from sso_bridge.web.errors import RequestRefused
from sso_bridge.web.http import WebConfig

__all__ = [
    "CHUNK_BYTES",
    "FORM_URLENCODED",
    "MULTIPART",
    "BodyCounter",
    "check_fields",
    "media_type",
    "parse_form",
    "read_headers",
    "read_query",
]

CHUNK_BYTES: Final = 64 * 1024
"""How much an adapter asks for at a time from a body it reads from a file-like stream."""

FORM_URLENCODED: Final = "application/x-www-form-urlencoded"
MULTIPART: Final = "multipart/form-data"


def media_type(content_type: str | None) -> str:
    """The media type of a ``Content-Type`` value, in lower case, parameters left out."""
    return (content_type or "").split(";", 1)[0].strip().lower()


class BodyCounter:
    """A request body gathered piece by piece, refused (``web.form_too_large``) as soon as
    it passes ``limit`` bytes, or at once when its ``Content-Length`` announces more.

    The announced length is only ever used to refuse early: a body that turns out longer
    than it said is counted like any other.
    """

    def __init__(self, limit: int, announced: str | None = None) -> None:
        self.limit = limit
        self._data = bytearray()
        self._counted = 0
        text = (announced or "").strip()
        if text.isdigit() and int(text) > limit:
            raise _too_large(limit)

    def add(self, chunk: bytes) -> None:
        """Take the next piece; ``web.form_too_large`` once the body passes the limit."""
        self.count(len(chunk))
        self._data += chunk

    def count(self, size: int) -> None:
        """Count ``size`` more bytes without keeping them; ``web.form_too_large`` once the
        body passes the limit."""
        self._counted += size
        if self._counted > self.limit:
            raise _too_large(self.limit)

    @property
    def size(self) -> int:
        return len(self._data)

    def body(self) -> bytes:
        """Everything taken so far."""
        return bytes(self._data)


def _too_large(limit: int) -> RequestRefused:
    return RequestRefused(
        f"the request body is larger than {limit} bytes", code="web.form_too_large"
    )


def _count_fields(text: str, limit: int) -> None:
    if text and text.count("&") + 1 > limit:
        raise RequestRefused(f"the form has more than {limit} fields", code="web.too_many_fields")


def check_fields(config: WebConfig, fields: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``fields`` as a list, refused past :attr:`WebConfig.max_form_fields` fields
    (``web.too_many_fields``) or with a name or value over
    :attr:`WebConfig.max_field_bytes` UTF-8 bytes (``web.field_too_large``)."""
    found: list[tuple[str, str]] = []
    for name, value in fields:
        if len(found) >= config.max_form_fields:
            raise RequestRefused(
                f"the form has more than {config.max_form_fields} fields",
                code="web.too_many_fields",
            )
        for text in (name, value):
            if len(text) > config.max_field_bytes or len(text.encode()) > config.max_field_bytes:
                raise RequestRefused(
                    f"a form field is larger than {config.max_field_bytes} bytes",
                    code="web.field_too_large",
                )
        found.append((name, value))
    return found


def parse_form(config: WebConfig, content_type: str | None, body: bytes) -> list[tuple[str, str]]:
    """The fields of an ``application/x-www-form-urlencoded`` body, in order; none for
    another media type (a multipart form is the adapter's to parse, within the same
    limits). A body that is not strict UTF-8 ``name=value`` pairs is ``web.bad_form``."""
    if media_type(content_type) != FORM_URLENCODED or not body:
        return []
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise RequestRefused(
            "a form body must be percent-encoded ASCII", code="web.bad_form"
        ) from None
    _count_fields(text, config.max_form_fields)
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=config.max_form_fields,
        )
    except ValueError:  # a field without "=", an empty one, bytes that are not UTF-8
        raise RequestRefused("the form body is malformed", code="web.bad_form") from None
    return check_fields(config, pairs)


def read_query(config: WebConfig, query_string: str) -> dict[str, str]:
    """The first value of each query parameter; a query string over
    :attr:`WebConfig.max_query_bytes` or with more than :attr:`WebConfig.max_form_fields`
    parameters is ``web.query_too_large``."""
    if len(query_string) > config.max_query_bytes:
        raise RequestRefused(
            f"the query string is longer than {config.max_query_bytes} bytes",
            code="web.query_too_large",
        )
    if query_string.count("&") + 1 > config.max_form_fields:
        raise RequestRefused(
            f"the query string has more than {config.max_form_fields} parameters",
            code="web.query_too_large",
        )
    found: dict[str, str] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True, errors="replace"):
        found.setdefault(name, value)
    return found


def read_headers(config: WebConfig, pairs: Iterable[tuple[str, str]]) -> Mapping[str, str]:
    """The headers keyed in lower case, repeated ones joined with ``", "``; more than
    :attr:`WebConfig.max_headers` of them, or more than :attr:`WebConfig.max_header_bytes`
    of names and values together, is ``web.headers_too_large``."""
    joined: dict[str, str] = {}
    size = 0
    for count, (raw_name, value) in enumerate(pairs, start=1):
        size += len(raw_name) + len(value)
        if count > config.max_headers or size > config.max_header_bytes:
            raise RequestRefused(
                f"the request has more than {config.max_headers} headers or "
                f"{config.max_header_bytes} bytes of them",
                code="web.headers_too_large",
            )
        name = raw_name.lower()
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined
