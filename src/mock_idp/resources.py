"""The resources an access token opens on the mock IdP: the token's own check and the
OIDC userinfo (ESIA's person API is :mod:`mock_idp.person_api`)."""

from __future__ import annotations

from typing import Any

from mock_idp.errors import EsiaError
from mock_idp.grants import AccessToken, ProviderState
from sso_bridge.matching.normalize import parse_date

__all__ = ["Resources"]


class Resources(ProviderState):
    """The resource server's part of :class:`mock_idp.provider.Provider`."""

    def access(self, authorization: str | None) -> AccessToken:
        token = (authorization or "")[7:] if (authorization or "").startswith("Bearer ") else ""
        with self._lock:
            access = self._access.get(token)
        if access is None or self.clock.now() > access.expires_at:
            raise EsiaError("unknown or expired access token", code="esia.invalid_token")
        return access

    def userinfo(self, access: AccessToken) -> dict[str, Any]:
        person = self.people.get(access.oid)
        if person is None:
            raise EsiaError("the person is gone", code="esia.invalid_token")
        info: dict[str, Any] = {"sub": str(person.oid), "trusted": person.trusted}
        if access.token in self._mismatched_userinfo:
            info["sub"] = str(person.oid + 1)
        scopes = set(access.scopes)
        if "fullname" in scopes:
            info.update(
                family_name=person.last_name,
                given_name=person.first_name,
                middle_name=person.middle_name,
            )
        if "birthdate" in scopes:
            info["birthdate"] = parse_date(person.birth_date).isoformat()
        if "gender" in scopes:
            info["gender"] = "female" if person.gender.value == "F" else "male"
        if "snils" in scopes and person.snils:
            info["snils"] = person.snils
        return info
