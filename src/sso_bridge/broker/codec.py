"""The stored states of the machine as JSON, for the step store.

Only what a stored state holds is written; the identity has its SNILS and passport as
keyed hashes (the match keys) only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

import attrs

from sso_bridge.broker.machine.states import (
    AwaitingIdp,
    AwaitingIdpToLink,
    AwaitingIdpToStepUp,
    AwaitingLocalLogin,
    AwaitingProof,
    AwaitingSecondFactor,
    ChoosingAccount,
    Entry,
    Frame,
    IdpRequest,
    Offer,
    Person,
    State,
    StepIdentity,
    StoredState,
    ViaIdp,
    ViaPassword,
    ViaSwitch,
)
from sso_bridge.esia.roles import EsiaOrganisation
from sso_bridge.matching.keys import MatchKeys
from sso_bridge.model import IdpSession, LinkMethod

__all__ = ["decode_state", "encode_state"]

_decode: Final = json.JSONDecoder().decode
_encode: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _time(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _from_time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _unhex(value: str | None) -> bytes | None:
    return None if value is None else bytes.fromhex(value)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _from_day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _identity(identity: StepIdentity) -> dict[str, Any]:
    keys = identity.keys
    return {
        "issuer": identity.issuer,
        "subject": identity.subject,
        "verified": identity.verified,
        "keys": [
            keys.last,
            keys.first,
            keys.middle,
            _day(keys.birth_date),
            _hex(keys.snils),
            _hex(keys.passport),
        ],
        "names": [identity.last_name, identity.first_name, identity.middle_name],
        "birth_date": _day(identity.birth_date),
    }


def _identity_from(data: Mapping[str, Any]) -> StepIdentity:
    last, first, middle, birth, snils, passport = data["keys"]
    keys = MatchKeys(last, first, middle, _from_day(birth), _unhex(snils), _unhex(passport))
    last_name, first_name, middle_name = data["names"]
    return StepIdentity(
        issuer=data["issuer"],
        subject=data["subject"],
        verified=bool(data["verified"]),
        keys=keys,
        last_name=last_name,
        first_name=first_name,
        middle_name=middle_name,
        birth_date=_from_day(data["birth_date"]),
    )


def _person(person: Person) -> dict[str, Any]:
    orgs = person.organisations
    return {
        "identity": _identity(person.identity),
        "idp_mfa": person.idp_mfa,
        "not_on_or_after": _time(person.not_on_or_after),
        "organisations": None if orgs is None else [attrs.asdict(o) for o in orgs],
        "idp_session": None if person.idp_session is None else attrs.asdict(person.idp_session),
        "auth_time": _time(person.auth_time),
        "acr": person.acr,
    }


def _person_from(data: Mapping[str, Any]) -> Person:
    orgs = data["organisations"]
    return Person(
        identity=_identity_from(data["identity"]),
        idp_mfa=bool(data["idp_mfa"]),
        not_on_or_after=_from_time(data["not_on_or_after"]),
        organisations=None if orgs is None else tuple(EsiaOrganisation(**o) for o in orgs),
        # steps stored before logout at the IdP existed have no idp_session
        idp_session=_idp_session_from(data.get("idp_session")),
        auth_time=_from_time(data.get("auth_time")),
        acr=data.get("acr"),
    )


def _idp_session_from(data: Any) -> IdpSession | None:
    if data is None:
        return None
    fields = ("provider", "sid", "name_id", "name_id_format", "id_token")
    return IdpSession(**{name: data[name] for name in fields})


def _offer(offer: Offer) -> list[list[str]]:
    return [list(offer.accounts), list(offer.unlinked), list(offer.weak)]


def _offer_from(data: Any) -> Offer | None:
    return None if data is None else Offer(*(tuple(ids) for ids in data))


def _entry(entry: Entry) -> dict[str, Any]:
    if isinstance(entry, ViaIdp):
        link = None if entry.link is None else entry.link.value
        data: dict[str, Any] = {"via": "idp", "person": _person(entry.person), "link": link}
        if entry.offer is not None:
            data["offer"] = _offer(entry.offer)
        return data
    if isinstance(entry, ViaSwitch):
        return {"via": "switch", **attrs.asdict(entry)}
    return {"via": "password"}


def _entry_from(data: Mapping[str, Any]) -> Entry:
    if data["via"] == "idp":
        link = data["link"]
        return ViaIdp(
            _person_from(data["person"]),
            None if link is None else LinkMethod(link),
            _offer_from(data.get("offer")),  # None: steps stored before every login offered all
        )
    if data["via"] == "switch":
        return ViaSwitch(
            data["session_id"], bool(data["second_factor"]), data["issuer"], data["subject"]
        )
    return ViaPassword()


def _request(request: IdpRequest) -> dict[str, Any]:
    return {"idp": [request.step_id, dict(request.remembered)]}


def _request_from(data: Mapping[str, Any]) -> IdpRequest:
    if "idp" in data:
        step_id, remembered = data["idp"]
        return IdpRequest(step_id, remembered)
    # steps stored before the provider interface (short-lived; read while they last)
    if "oidc" in data:
        return IdpRequest(data["oidc"]["state"], data["oidc"])
    request_id, relay_state = data["saml"]
    return IdpRequest(relay_state, {"request_id": request_id})


def encode_state(state: StoredState) -> bytes:
    frame = state.frame
    data: dict[str, Any] = {
        "kind": state.kind.value,
        "frame": [frame.browser, _time(frame.created_at), _time(frame.expires_at), frame.kept],
    }
    if isinstance(state, AwaitingIdp | AwaitingIdpToLink | AwaitingIdpToStepUp):
        data.update(provider=state.provider, request=_request(state.request))
    if isinstance(state, AwaitingIdp) and state.fresh:
        data.update(fresh=True)
    if isinstance(state, AwaitingIdpToStepUp):
        data.update(
            session_id=state.session_id,
            issuer=state.issuer,
            subject=state.subject,
            max_age=state.max_age,
            acr_values=list(state.acr_values),
            return_to=state.return_to,
        )
    if isinstance(state, AwaitingIdpToLink):
        data.update(account_id=state.account_id, session_id=state.session_id)
    if isinstance(state, ChoosingAccount | AwaitingProof):
        data.update(person=_person(state.person), offered=list(state.offered))
    if isinstance(state, ChoosingAccount):
        data.update(weak=list(state.weak), linking=state.linking, linked=list(state.linked))
    if isinstance(state, AwaitingProof):
        data.update(organisations=list(state.organisations))
        if state.offer is not None:
            data.update(offer=_offer(state.offer))
    if isinstance(state, AwaitingSecondFactor):
        data.update(
            account_id=state.account_id,
            challenge_id=state.challenge_id,
            entry=_entry(state.entry),
        )
    return _encode(data).encode()


def _step_up_from(frame: Frame, data: Mapping[str, Any]) -> AwaitingIdpToStepUp:
    return AwaitingIdpToStepUp(
        frame,
        data["provider"],
        _request_from(data["request"]),
        data["session_id"],
        data["issuer"],
        data["subject"],
        int(data["max_age"]),
        tuple(data["acr_values"]),
        data["return_to"],
    )


def decode_state(raw: bytes) -> StoredState:
    """The stored state; the store is ours, so a decoding failure is a server fault."""
    data = _decode(raw.decode("utf-8"))
    browser, created, expires_at, kept = data["frame"]
    frame = Frame(
        browser, datetime.fromtimestamp(created, UTC), datetime.fromtimestamp(expires_at, UTC), kept
    )
    kind = State(data["kind"])
    if kind is State.AWAITING_IDP:
        return AwaitingIdp(
            frame, data["provider"], _request_from(data["request"]), bool(data.get("fresh"))
        )
    if kind is State.AWAITING_IDP_TO_STEP_UP:
        return _step_up_from(frame, data)
    if kind is State.AWAITING_IDP_TO_LINK:
        return AwaitingIdpToLink(
            frame,
            data["provider"],
            _request_from(data["request"]),
            data["account_id"],
            data["session_id"],
        )
    if kind is State.CHOOSING_ACCOUNT:
        return ChoosingAccount(
            frame,
            _person_from(data["person"]),
            tuple(data["offered"]),
            tuple(data["weak"]),
            bool(data["linking"]),
            tuple(data.get("linked", ())),
        )
    if kind is State.AWAITING_PROOF:
        return AwaitingProof(
            frame,
            _person_from(data["person"]),
            tuple(data["offered"]),
            tuple(data["organisations"]),
            _offer_from(data.get("offer")),
        )
    if kind is State.AWAITING_SECOND_FACTOR:
        return AwaitingSecondFactor(
            frame, data["account_id"], data["challenge_id"], _entry_from(data["entry"])
        )
    if kind is State.AWAITING_LOCAL_LOGIN:
        return AwaitingLocalLogin(frame)
    raise ValueError(f"a {kind} step is never stored")
