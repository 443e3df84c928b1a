"""ESIA's REST API for the token's owner: the person, their collections (documents,
contacts, addresses, kids, ...) and elements, their roles and organisations."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mock_idp import person_api
from mock_idp.control import MockIdP
from mock_idp.errors import EsiaError
from mock_idp.routes.pages import json_error
from mock_idp.users import Person

__all__ = ["PersonHandlers"]


class PersonHandlers:
    """The person API of ``idp``: each answer needs an access token of the person."""

    def __init__(self, idp: MockIdP) -> None:
        self.idp = idp
        self.provider = idp.provider

    def _person_for(self, request: Request) -> tuple[Person, set[str]]:
        access = self.provider.access(request.headers.get("authorization"))
        collection = request.path_params.get("collection")
        if collection is not None and collection not in person_api.COLLECTIONS:
            raise EsiaError("no such collection", code="esia.not_found")
        oid = request.path_params["oid"]
        # ASCII digits of a 64-bit number only: int() of thousands of digits is a ValueError
        if not (oid.isascii() and oid.isdigit() and len(oid) <= 19) or int(oid) != access.oid:
            raise EsiaError("the token belongs to someone else", code="esia.forbidden")
        person = self.provider.people.get(access.oid)
        if person is None:
            raise EsiaError("no such person", code="esia.not_found")
        return person, set(access.scopes)

    async def person(self, request: Request) -> Response:
        try:
            person, scopes = self._person_for(request)
        except EsiaError as exc:
            return json_error(exc)
        embed = person_api.parse_embed(request.query_params.get("embed"))
        return JSONResponse(person_api.embedded_person(person, scopes, self.idp.base_url, embed))

    async def roles(self, request: Request) -> Response:
        """The organisations the token's owner works for (scope ``usr_org``)."""
        try:
            person, scopes = self._person_for(request)
            if person_api.ROLES_SCOPE not in scopes:
                raise EsiaError("the token lacks the usr_org scope", code="esia.forbidden")
        except EsiaError as exc:
            return json_error(exc)
        return JSONResponse(person_api.roles_document(person))

    async def organisation(self, request: Request) -> Response:
        """An organisation the token's owner works for (scope ``usr_org``)."""
        try:
            access = self.provider.access(request.headers.get("authorization"))
            person = self.provider.people.get(access.oid)
            if person is None:
                raise EsiaError("the person is gone", code="esia.invalid_token")
            doc = person_api.organisation(
                self.provider.people, person, access.scopes, request.path_params["oid"]
            )
        except EsiaError as exc:
            return json_error(exc)
        return JSONResponse(doc)

    async def collection(self, request: Request) -> Response:
        try:
            person, scopes = self._person_for(request)
        except EsiaError as exc:
            return json_error(exc)
        name = request.path_params["collection"]
        embed = "elements" in person_api.parse_embed(request.query_params.get("embed"))
        return JSONResponse(
            person_api.collection_document(person, name, scopes, self.idp.base_url, embed)
        )

    async def element(self, request: Request) -> Response:
        try:
            person, scopes = self._person_for(request)
        except EsiaError as exc:
            return json_error(exc)
        items = person_api.elements(person, request.path_params["collection"], scopes)
        wanted = request.path_params["item"]
        for item in items:
            if str(item["id"]) == wanted:
                return JSONResponse(item)
        return json_error(EsiaError("no such element", code="esia.not_found"))
