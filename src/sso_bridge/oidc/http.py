"""The HTTP port of the relying party, and its httpx implementation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

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
        """The body as a JSON object (bounded in size and depth), or ``oidc.bad_response``."""
        try:
            data = parse_json(self.body)
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


class HttpxClient:
    """:class:`HttpClient` over an ``httpx.Client`` (made here unless given)."""

    def __init__(self, client: httpx.Client | None = None, *, timeout: float = 10.0) -> None:
        import httpx  # noqa: PLC0415 - only this adapter needs httpx

        self._client = client or httpx.Client(timeout=timeout)
        self._errors: type[Exception] = httpx.HTTPError

    def get(self, url: str, *, headers: Mapping[str, str] | None = None) -> HttpResponse:
        """GET ``url``; transport failures become ``oidc.http_error``."""
        try:
            response = self._client.get(url, headers=dict(headers or {}))
        except self._errors as exc:
            raise OidcError(f"GET {url} failed: {exc}", code="oidc.http_error") from None
        return _convert(response)

    def post(
        self,
        url: str,
        *,
        data: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """POST a form to ``url``; transport failures become ``oidc.http_error``."""
        try:
            response = self._client.post(url, data=dict(data), headers=dict(headers or {}))
        except self._errors as exc:
            raise OidcError(f"POST {url} failed: {exc}", code="oidc.http_error") from None
        return _convert(response)

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._client.close()

    def __enter__(self) -> HttpxClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _convert(response: httpx.Response) -> HttpResponse:
    headers = {str(k).lower(): str(v) for k, v in response.headers.items()}
    return HttpResponse(status=int(response.status_code), headers=headers, body=response.content)
