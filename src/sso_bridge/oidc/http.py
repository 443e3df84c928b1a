"""The HTTP port of the relying party, and its httpx implementation."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs

from sso_bridge.errors import InvalidInput
from sso_bridge.jsonparse import parse_json
from sso_bridge.oidc.errors import OidcError

if TYPE_CHECKING:
    import httpx


@attrs.frozen
class HttpResponse:
    """What the relying party needs from an HTTP answer; header names are lower case."""

    status: int
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""

    def json_object(self, what: str) -> dict[str, Any]:
        """The body as a JSON object (at most :data:`DEFAULT_MAX_RESPONSE_BYTES`, bounded
        in depth and containers), or ``oidc.bad_response``."""
        try:
            data = parse_json(self.body, max_bytes=DEFAULT_MAX_RESPONSE_BYTES)
        except InvalidInput as exc:
            raise OidcError(
                f"{what} is not usable: {exc.message}", code="oidc.bad_response"
            ) from None
        if not isinstance(data, dict):
            raise OidcError(f"{what} is not a JSON object", code="oidc.bad_response")
        return data


class HttpClient(Protocol):
    """Blocking HTTP, as the relying party uses it."""

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpResponse:
        """GET ``url``."""
        ...

    def post(
        self,
        url: str,
        *,
        data: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """POST ``data`` form-encoded to ``url``."""
        ...


DEFAULT_MAX_RESPONSE_BYTES: Final = 128 * 1024
"""The most an answer of the IdP (discovery, JWKS, token, userinfo, a provider's own API) may
hold: real ones are a few KiB, and parsing the worst JSON of this size stays within a few
milliseconds."""
DEFAULT_TIMEOUT: Final = 10.0
"""Seconds to wait for a connection, for each read and each write."""
DEFAULT_DEADLINE: Final = 30.0
"""Seconds a whole exchange may take, however slowly the IdP trickles its answer."""


class HttpxClient:
    """:class:`HttpClient` over an ``httpx.Client`` (made here unless given).

    Every answer is read while it streams in and refused past ``max_response_bytes``
    (``oidc.response_too_large``), whatever its ``Content-Length`` says; answers are
    asked for uncompressed and a compressed one is refused, so no small answer inflates
    past the limit (``oidc.bad_response``). Every wait has
    a limit: ``timeout`` seconds for the connection and for each read or write (applied
    to every request, whatever the given client's own setting), and ``deadline`` seconds
    for the whole exchange (``oidc.http_error`` past either).
    """

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        deadline: float = DEFAULT_DEADLINE,
    ) -> None:
        import httpx  # noqa: PLC0415 - only this adapter needs httpx

        check_positive(timeout=timeout, max_response_bytes=max_response_bytes, deadline=deadline)
        self._timeout = float(timeout)
        self._client = client or httpx.Client(timeout=self._timeout)
        self._errors: type[Exception] = httpx.HTTPError
        self.max_response_bytes = max_response_bytes
        self.deadline = deadline

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpResponse:
        """GET ``url``; transport failures become ``oidc.http_error``."""
        return self._exchange("GET", url, headers=dict(headers or {}))

    def post(
        self,
        url: str,
        *,
        data: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """POST a form to ``url``; transport failures become ``oidc.http_error``."""
        return self._exchange("POST", url, data=dict(data), headers=dict(headers or {}))

    def _exchange(self, method: str, url: str, **options: Any) -> HttpResponse:
        started = time.monotonic()
        # an answer is counted as it arrives on the wire: no compression to inflate
        options["headers"] = {**options["headers"], "Accept-Encoding": "identity"}
        try:
            with self._client.stream(method, url, timeout=self._timeout, **options) as response:
                body = self._read(response, url, started)
        except self._errors as exc:
            raise OidcError(f"{method} {url} failed: {exc}", code="oidc.http_error") from None
        headers = {str(k).lower(): str(v) for k, v in response.headers.items()}
        return HttpResponse(status=int(response.status_code), headers=headers, body=body)

    def _read(self, response: httpx.Response, url: str, started: float) -> bytes:
        limit = self.max_response_bytes
        announced = response.headers.get("content-length", "").strip()
        if announced.isdigit() and int(announced) > limit:
            raise _too_large(url, limit)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise OidcError(
                f"the answer of {url} is compressed ({encoding[:32]}), which was not asked for",
                code="oidc.bad_response",
            )
        body = bytearray()
        # a transport may hand over an answer already in memory (httpx.MockTransport)
        chunks = [response.content] if response.is_stream_consumed else response.iter_raw()
        for chunk in chunks:
            if len(body) + len(chunk) > limit:
                raise _too_large(url, limit)  # the rest is never read: the stream closes
            body += chunk
            if time.monotonic() - started > self.deadline:
                raise OidcError(
                    f"{url} took more than {self.deadline:g} s to answer", code="oidc.http_error"
                )
        return bytes(body)

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._client.close()

    def __enter__(self) -> HttpxClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def check_positive(**settings: object) -> None:
    """``oidc.config_invalid`` for a setting that is not a positive number."""
    for name, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise OidcError(f"{name} must be a positive number", code="oidc.config_invalid")


def _too_large(url: str, limit: int) -> OidcError:
    return OidcError(
        f"the answer of {url} is larger than {limit} bytes", code="oidc.response_too_large"
    )
