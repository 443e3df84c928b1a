"""Reading a request the same way on every framework: the adapter hands over what the
framework parsed of the head (:class:`Head`) and then the body, and gets a
:class:`~sso_bridge.web.http.WebRequest` back, every limit of :mod:`sso_bridge.web.body`
applied: the headers and the query before the body, the body while it streams in."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType

import attrs

from sso_bridge.web.body import (
    CHUNK_BYTES,
    MULTIPART,
    BodyCounter,
    check_fields,
    media_type,
    parse_form,
    read_headers,
    read_query,
)
from sso_bridge.web.errors import RequestRefused
from sso_bridge.web.http import WebConfig, WebRequest

__all__ = ["FormParser", "Head", "Reading", "bad_form"]

FormParser = Callable[[], Iterable[tuple[str, object]]]
"""The framework's own form parser (for multipart bodies): every field in order, uploaded
files included (they are left out here)."""


def bad_form() -> RequestRefused:
    """The refusal of a form the framework's parser could not read within the limits."""
    return RequestRefused(
        "the multipart form is malformed or over the field limits", code="web.bad_form"
    )


def _pairs(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in value)


def _frozen(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen
class Head:
    """What a framework read before the body: ``path`` as the browser sees it (a mount's
    sub-path included), the raw ``query_string``, every header as sent (repeats too)."""

    method: str
    path: str
    query_string: str = ""
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
    cookies: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)
    remote_addr: str = ""

    def bare(self) -> WebRequest:
        """The request without anything read from it, for the page of a refusal."""
        return WebRequest(self.method, self.path)


class Reading:
    """One request being read: its head checked at once (``web.headers_too_large``,
    ``web.query_too_large``, a ``Content-Length`` over the limit), then its body fed in
    with :meth:`add` or :meth:`read_from`, then :meth:`request`."""

    def __init__(self, config: WebConfig, head: Head) -> None:
        self.config = config
        self.head = head
        self.headers = read_headers(config, head.headers)
        self.query = read_query(config, head.query_string)
        self.counter = BodyCounter(config.max_form_bytes, self.headers.get("content-length"))

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def multipart(self) -> bool:
        return media_type(self.content_type) == MULTIPART

    def add(self, chunk: bytes) -> None:
        """The next piece of the body; refused past the limit (the rest is never read)."""
        self.counter.add(chunk)

    def read_from(self, read: Callable[[int], bytes]) -> bytes:
        """The whole body from a file-like ``read``, piece by piece, within the limit."""
        while chunk := read(CHUNK_BYTES):
            self.add(chunk)
        return self.counter.body()

    def request(
        self,
        parser: FormParser | None = None,
        *,
        parsed: bool = False,
        errors: tuple[type[Exception], ...] = (),
    ) -> WebRequest:
        """The request with its form: a URL-encoded body parsed here; a multipart one (or
        one the framework ``parsed`` already) by ``parser``, whose ``errors`` mean a
        malformed form (``web.bad_form``); within the field limits either way."""
        if parser is not None and (parsed or self.multipart):
            try:
                read = [(k, v) for k, v in parser() if isinstance(v, str)]
            except errors:
                raise bad_form() from None
            form = check_fields(self.config, read)
        else:
            form = parse_form(self.config, self.content_type, self.counter.body())
        head = self.head
        return WebRequest(
            method=head.method,
            path=head.path,
            query=self.query,
            form=form,
            cookies=head.cookies,
            headers=self.headers,
            remote_addr=head.remote_addr,
            query_string=head.query_string,
        )
