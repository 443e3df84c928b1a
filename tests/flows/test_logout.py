"""Logout end to end over the mock IdP: the local session always ends; OIDC RP-initiated
logout and ESIA-style logout send the browser to the IdP; back-channel logout tokens and
SAML LogoutRequests from the IdP end the sessions they name; "log out everywhere"."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import attrs
import pytest
from lxml import etree

from helpers.broker import ANNA, MARIA, SAML_IDP, World, build_world, make_broker
from helpers.keys import make_key_pair
from mock_idp.keys import SigningKey
from mock_idp.tokens import sign_token
from sso_bridge.broker import (
    BrokerPolicy,
    ChooseAccount,
    LoggedIn,
    OidcProvider,
    SamlProvider,
    SecondFactorForm,
)
from sso_bridge.broker.logout import LoggedOut
from sso_bridge.errors import BridgeError
from sso_bridge.model import AuditAction, IdpSession
from sso_bridge.oidc.logout import BACKCHANNEL_EVENT
from sso_bridge.saml import InMemoryReplayCache, InMemoryRequestStore
from sso_bridge.saml.codec import redirect_query
from sso_bridge.saml.requests import sp_metadata
from sso_bridge.saml.xml import SAML_NS, SAMLP_NS, format_instant, new_id
from sso_bridge.sessions import SessionError, session_from_bytes, session_to_bytes

RETURN = "https://school.test/auth/logout/done/esia"
SLO = "https://school.test/auth/slo/esia-saml"


def refused(code: str) -> pytest.RaisesExc[BridgeError]:
    return pytest.raises(BridgeError, match=f"^{code}:")


def actions(world: World) -> list[tuple[AuditAction, str | None]]:
    return [(e.action, e.code) for e in world.store.tail(500)]


def with_logout(world: World, tmp: Path, **policy: Any) -> None:
    """The world's broker with logout at the IdP configured for both providers."""
    pair = make_key_pair(tmp, "sp-signing", world.clock.now())
    saml = attrs.evolve(
        world.saml, slo_url=SLO, signing_key_pem=pair.key_pem, signing_certificate_pem=pair.cert_pem
    )
    world.saml = saml
    world.idp.add_service_provider({"metadata": sp_metadata(saml)})
    providers = (
        OidcProvider("esia", world.rp, post_logout_redirect_uri=RETURN),
        SamlProvider("esia-saml", saml, InMemoryRequestStore(), InMemoryReplayCache()),
    )
    world.broker = make_broker(world, providers=providers, policy=BrokerPolicy(**policy))


@pytest.fixture
def world(tmp_path: Path) -> World:
    made = build_world(tmp_path)
    with_logout(made, tmp_path)
    return made


def oidc_login(world: World, oid: int = ANNA, browser: str = "browser-1") -> LoggedIn:
    client = world.client(browser)
    redirect = world.broker.begin_federated("esia", client)
    result = world.broker.finish("esia", world.oidc_callback(redirect, oid), client)
    if isinstance(result, ChooseAccount):  # Maria has two accounts: take the parent's
        result = world.broker.choose(result.step_id, "p-maria", client)
        if isinstance(result, SecondFactorForm):
            result = world.broker.second_factor(result.step_id, world.code_for("p-maria"), client)
    assert isinstance(result, LoggedIn), result
    return result


def gone(world: World, token: str, browser: str = "browser-1") -> bool:
    try:
        world.broker.authenticate(token, world.client(browser))
    except SessionError:
        return True
    return False


# -- the stored session ---------------------------------------------------------------------


def test_a_session_keeps_what_logout_at_the_idp_needs(world: World) -> None:
    logged = oidc_login(world)
    idp = logged.session.idp
    assert idp is not None and idp.provider == "esia"
    assert idp.id_token is not None and idp.id_token.count(".") == 2
    assert "id_token" not in repr(logged.session)  # the token is kept out of logs
    again = session_from_bytes(logged.session.session_id, session_to_bytes(logged.session))
    assert again == logged.session


def test_sessions_stored_before_logout_existed_still_read(world: World) -> None:
    logged = oidc_login(world)
    plain = attrs.evolve(logged.session, idp=None)
    stored = session_to_bytes(plain)
    assert len(json.loads(stored)) == 13  # the form written before logout at the IdP
    assert session_from_bytes(plain.session_id, stored) == plain
    broken = stored[:-1] + b',["esia",1,null,null,null]]'
    assert session_from_bytes(plain.session_id, broken) is None


# -- OIDC RP-initiated logout -----------------------------------------------------------------


def test_logout_ends_the_session_and_sends_the_browser_to_the_idp(world: World) -> None:
    logged = oidc_login(world)
    result = world.broker.logout(logged.token, world.client())
    assert gone(world, logged.token)
    assert result.go is not None and result.ended == 1
    url = urlsplit(result.go.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == world.rp.config.end_session_endpoint
    query = dict(parse_qsl(url.query))
    assert query["client_id"] == "school"
    assert query["post_logout_redirect_uri"] == RETURN
    assert logged.session.idp is not None
    assert query["id_token_hint"] == logged.session.idp.id_token
    assert len(query["state"]) >= 43
    world.broker.finish_logout("esia", {"state": query["state"]}, world.client())
    with refused("broker.logout_unknown"):  # a state is good once
        world.broker.finish_logout("esia", {"state": query["state"]}, world.client())
    assert (AuditAction.LOGOUT_AT_IDP, None) in actions(world)
    assert (AuditAction.LOGOUT_AT_IDP, "broker.logout_unknown") in actions(world)


def test_a_logout_answer_is_taken_only_by_the_browser_that_logged_out(world: World) -> None:
    logged = oidc_login(world)
    result = world.broker.logout(logged.token, world.client())
    assert result.go is not None
    state = dict(parse_qsl(urlsplit(result.go.url).query))["state"]
    with refused("broker.logout_unknown"):
        world.broker.finish_logout("esia", {"state": state}, world.client("browser-2"))
    with refused("broker.logout_unknown"):
        world.broker.finish_logout("esia", {"state": "forged"}, world.client())


@pytest.mark.parametrize(
    ("mode", "asked", "to_idp"),
    [
        ("always", False, True),
        ("never", True, False),
        ("offer", None, False),
        ("offer", False, False),
        ("offer", True, True),
    ],
)
def test_the_policy_decides_whether_logout_goes_on_to_the_idp(
    tmp_path: Path, mode: str, asked: bool | None, to_idp: bool
) -> None:
    world = build_world(tmp_path)
    with_logout(world, tmp_path, logout_at_idp=mode)
    logged = oidc_login(world)
    assert world.broker.logout_mode(logged.session) == mode
    result = world.broker.logout(logged.token, world.client(), at_idp=asked)
    assert gone(world, logged.token)
    assert (result.go is not None) is to_idp


def test_without_a_return_address_logout_stays_local(tmp_path: Path) -> None:
    world = build_world(tmp_path)  # OidcProvider without post_logout_redirect_uri
    logged = oidc_login(world)
    assert world.broker.logout_mode(logged.session) == "never"
    assert world.broker.logout(logged.token, world.client()) == LoggedOut(ended=1)
    assert gone(world, logged.token)


def test_logout_without_a_session_changes_nothing(world: World) -> None:
    assert world.broker.logout(None, world.client()) == LoggedOut()
    assert world.broker.logout("not-a-token", world.client()) == LoggedOut()


# -- log out everywhere ----------------------------------------------------------------------


def test_log_out_everywhere_ends_every_session_of_every_linked_account(world: World) -> None:
    world.link_admin(MARIA, "t-maria")
    world.link_admin(MARIA, "p-maria")
    first = oidc_login(world, MARIA, "browser-1")
    second = oidc_login(world, MARIA, "browser-2")
    local = world.local_login("sch2", "smirnova.m", world.client("browser-3"))
    other = oidc_login(world, ANNA, "browser-4")
    result = world.broker.logout_everywhere(first.token, world.client("browser-1"))
    assert result.ended == 3
    assert gone(world, first.token, "browser-1")
    assert gone(world, second.token, "browser-2")
    assert gone(world, local.token, "browser-3")
    assert not gone(world, other.token, "browser-4")
    assert (AuditAction.LOGOUT_EVERYWHERE, None) in actions(world)


# -- back-channel logout ----------------------------------------------------------------------


def logout_token(world: World, **claims: Any) -> str:
    now = int(world.clock.now().timestamp())
    body: dict[str, Any] = {
        "iss": world.idp.issuer,
        "aud": "school",
        "iat": now,
        "exp": now + 120,
        "jti": new_id(),
        "events": {BACKCHANNEL_EVENT: {}},
    }
    body.update(claims)
    return sign_token(
        {k: v for k, v in body.items() if v is not None}, world.idp.provider.keys.active("RS256")
    )


def test_a_back_channel_token_by_subject_ends_all_that_persons_sessions(world: World) -> None:
    first = oidc_login(world, ANNA, "browser-1")
    second = oidc_login(world, ANNA, "browser-2")
    subject = first.session.subject
    token = logout_token(world, sub=subject)
    assert world.broker.backchannel_logout("esia", token, world.client("idp")) == 2
    assert gone(world, first.token, "browser-1") and gone(world, second.token, "browser-2")
    with refused("oidc.logout_token_replayed"):
        world.broker.backchannel_logout("esia", token, world.client("idp"))
    assert (AuditAction.LOGOUT_FROM_IDP, "oidc.logout_token_replayed") in actions(world)


def test_a_back_channel_token_by_sid_ends_only_that_idp_session(world: World) -> None:
    now = world.clock.now()
    sessions = world.broker.sessions
    made = [
        sessions.start(
            "a-anna",
            ip="10.0.0.5",
            user_agent="pytest",
            now=now,
            issuer=world.idp.issuer,
            subject=str(ANNA),
            idp=IdpSession("esia", sid=sid),
        )
        for sid in ("sid-one", "sid-two")
    ]
    ended = world.broker.backchannel_logout(
        "esia", logout_token(world, sid="sid-one", sub=str(ANNA)), world.client("idp")
    )
    assert ended == 1
    assert gone(world, made[0][0]) and not gone(world, made[1][0])
    # a sid of another person's session, with this subject, ends nothing
    assert (
        world.broker.backchannel_logout(
            "esia", logout_token(world, sid="sid-two", sub="someone-else"), world.client("idp")
        )
        == 0
    )
    assert not gone(world, made[1][0])


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"nonce": "n"}, "oidc.logout_token_nonce"),
        ({"events": None}, "oidc.logout_token_event"),
        ({"events": {"http://example.org/other": {}}}, "oidc.logout_token_event"),
        ({"sub": None}, "oidc.logout_token_no_session"),
        ({"aud": "someone-else"}, "oidc.logout_token_invalid"),
        ({"iss": "https://evil.example"}, "oidc.logout_token_invalid"),
        ({"jti": None}, "oidc.logout_token_invalid"),
        ({"iat": None}, "oidc.logout_token_invalid"),
        ({"iat": 4102444800}, "oidc.logout_token_invalid"),
        ({"iat": 1000, "exp": None}, "oidc.logout_token_invalid"),
        ({"exp": 1000}, "oidc.logout_token_invalid"),
    ],
)
def test_bad_logout_tokens_are_refused_and_end_nothing(
    world: World, claims: dict[str, Any], code: str
) -> None:
    logged = oidc_login(world)
    token = logout_token(world, **{"sub": logged.session.subject, **claims})
    with refused(code):
        world.broker.backchannel_logout("esia", token, world.client("idp"))
    assert not gone(world, logged.token)
    assert (AuditAction.LOGOUT_FROM_IDP, code) in actions(world)


def test_a_logout_token_signed_by_another_key_is_refused(world: World) -> None:
    logged = oidc_login(world)
    now = int(world.clock.now().timestamp())
    claims = {
        "iss": world.idp.issuer,
        "aud": "school",
        "iat": now,
        "jti": new_id(),
        "events": {BACKCHANNEL_EVENT: {}},
        "sub": logged.session.subject,
    }
    other = SigningKey.generate("RS256")
    token = sign_token(claims, attrs.evolve(other, kid=world.idp.provider.keys.active("RS256").kid))
    with refused("oidc.bad_signature"):
        world.broker.backchannel_logout("esia", token, world.client("idp"))
    assert not gone(world, logged.token)


def test_saml_providers_take_no_logout_tokens(world: World) -> None:
    with refused("broker.logout_unsupported"):
        world.broker.backchannel_logout("esia-saml", "a.b.c", world.client("idp"))


# -- SAML single logout -----------------------------------------------------------------------


def saml_login(world: World, oid: int = ANNA, browser: str = "browser-1") -> LoggedIn:
    client = world.client(browser)
    redirect = world.broker.begin_federated("esia-saml", client)
    result = world.broker.finish("esia-saml", world.saml_post(redirect, oid), client)
    assert isinstance(result, LoggedIn), result
    return result


def idp_logout_request(
    world: World, name_id: str, session_index: str | None, *, destination: str = SLO, **extra: str
) -> tuple[dict[str, str], str]:
    """A LogoutRequest from the mock IdP over HTTP-Redirect, signed with its key."""
    root = etree.Element(
        f"{{{SAMLP_NS}}}LogoutRequest",
        {
            "ID": new_id(),
            "Version": "2.0",
            "IssueInstant": format_instant(world.clock.now()),
            "Destination": destination,
            **extra,
        },
        nsmap={"samlp": SAMLP_NS, "saml": SAML_NS},
    )
    etree.SubElement(root, f"{{{SAML_NS}}}Issuer").text = SAML_IDP
    etree.SubElement(root, f"{{{SAML_NS}}}NameID").text = name_id
    if session_index is not None:
        etree.SubElement(root, f"{{{SAMLP_NS}}}SessionIndex").text = session_index
    key = world.idp.saml.signing_key.private_key
    url = redirect_query(SLO, "SAMLRequest", etree.tostring(root), "relay-1", key)
    query = urlsplit(url).query
    return dict(parse_qsl(query)), query


def test_an_idp_logout_request_ends_the_named_session_and_is_answered(world: World) -> None:
    logged = saml_login(world)
    idp = logged.session.idp
    assert idp is not None and idp.name_id
    other = saml_login(world, ANNA, "browser-2")
    params, query = idp_logout_request(world, idp.name_id, idp.sid)
    answer = world.broker.idp_logout_request(
        "esia-saml", params, world.client(), query_string=query
    )
    assert gone(world, logged.token)
    assert not gone(world, other.token, "browser-2")
    assert answer.url.startswith(str(world.saml.idp_slo_url))
    sent = parse_qs(urlsplit(answer.url).query)
    assert {"SAMLResponse", "Signature", "SigAlg"} <= sent.keys()
    assert sent["RelayState"] == ["relay-1"]
    with refused("saml.replayed"):
        world.broker.idp_logout_request("esia-saml", params, world.client(), query_string=query)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"destination": "https://elsewhere.test/slo"}, "saml.wrong_destination"),
        ({"NotOnOrAfter": "2000-01-01T00:00:00Z"}, "saml.expired"),
    ],
)
def test_bad_idp_logout_requests_are_refused(
    world: World, change: dict[str, str], code: str
) -> None:
    logged = saml_login(world)
    idp = logged.session.idp
    assert idp is not None and idp.name_id
    params, query = idp_logout_request(world, idp.name_id, idp.sid, **change)
    with refused(code):
        world.broker.idp_logout_request("esia-saml", params, world.client(), query_string=query)
    assert not gone(world, logged.token)


def test_an_unsigned_or_tampered_logout_request_is_refused(world: World) -> None:
    logged = saml_login(world)
    idp = logged.session.idp
    assert idp is not None and idp.name_id
    params, query = idp_logout_request(world, idp.name_id, idp.sid)
    unsigned = {k: v for k, v in params.items() if k not in ("Signature", "SigAlg")}
    with refused("saml.unsigned"):
        world.broker.idp_logout_request(
            "esia-saml", unsigned, world.client(), query_string=urlencode(unsigned)
        )
    tampered = dict(params, RelayState="relay-2")
    with refused("saml.signature_invalid"):
        world.broker.idp_logout_request(
            "esia-saml", tampered, world.client(), query_string=urlencode(tampered)
        )
    assert not gone(world, logged.token)
    # the refusals consumed nothing: the untouched request still works
    world.broker.idp_logout_request("esia-saml", params, world.client(), query_string=query)
    assert gone(world, logged.token)


def test_sp_initiated_saml_logout_sends_a_signed_request(world: World) -> None:
    logged = saml_login(world)
    result = world.broker.logout(logged.token, world.client())
    assert gone(world, logged.token)
    assert result.go is not None
    assert result.go.url.startswith(str(world.saml.idp_slo_url))
    sent = parse_qs(urlsplit(result.go.url).query)
    assert {"SAMLRequest", "RelayState", "Signature", "SigAlg"} <= sent.keys()
    with refused("broker.logout_unknown"):  # no RelayState: no logout of ours
        world.broker.finish_logout("esia-saml", {"SAMLResponse": "x"}, world.client())


def test_logout_round_trip_times(world: World) -> None:
    """Logging out (with the IdP part) and reading a back-channel token are cheap."""
    logged = oidc_login(world)
    begun = time.perf_counter()
    world.broker.logout(logged.token, world.client())
    world.clock.advance(timedelta(seconds=1))
    token = logout_token(world, sub=logged.session.subject)
    world.broker.backchannel_logout("esia", token, world.client("idp"))
    assert time.perf_counter() - begun < 2.0
