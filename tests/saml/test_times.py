"""Every date read from a SAML message is range-checked into a stable code: extreme years,
extreme offsets, long fractions and leap seconds never escape as OverflowError or
ValueError, on the ACS and at the mock IdP."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers.clock import NOW
from helpers.saml import (
    ACS,
    NS,
    SP,
    acs_outcome,
    assertion_of,
    make_idp,
    response_xml,
    sign,
    to_bytes,
)
from mock_idp.saml_idp import SamlIdP, SamlRequestError
from sso_bridge.saml import (
    SamlError,
    ServiceProviderConfig,
    parse_xml,
)
from sso_bridge.saml.codec import encode_post
from sso_bridge.saml.xml import parse_instant

OUT_OF_RANGE = [
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "3000-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:30:00+01:00",
    "-0001-01-01T00:00:00Z",
    "99999999999999999999-01-01T00:00:00Z",
]
BAD = [
    "2030-01-01T00:00:00+23:59",
    "2030-01-01T00:00:00-14:01",
    "2030-01-01T00:00:00+05:60",
    "2016-12-31T23:59:60Z",  # a leap second: not an xs:dateTime
    "2030-02-30T00:00:00Z",
    "2030-01-01T24:00:00Z",
    "2030-01-01",
    "2030-01-01T00:00Z",
    "20300101T000000Z",
    "2030-01-01T00:00:00." + "1" * 100 + "Z",
    "\u0662\u0660\u0663\u0660-01-01T00:00:00Z",  # Arabic-Indic digits
    "2030-01-01T00:00:00Z ",
]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_extreme_years_are_out_of_range(value: str) -> None:
    with pytest.raises(SamlError) as info:
        parse_instant(value, "NotOnOrAfter")
    assert info.value.code == "saml.time_out_of_range"


@pytest.mark.parametrize("value", BAD)
def test_malformed_times_are_bad(value: str) -> None:
    with pytest.raises(SamlError) as info:
        parse_instant(value, "NotOnOrAfter")
    assert info.value.code == "saml.bad_time"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2030-01-01T00:00:00Z", dt.datetime(2030, 1, 1, tzinfo=dt.UTC)),
        ("2030-01-01T00:00:00", dt.datetime(2030, 1, 1, tzinfo=dt.UTC)),
        ("2030-01-01T03:00:00+03:00", dt.datetime(2030, 1, 1, tzinfo=dt.UTC)),
        ("2030-01-01T00:00:00+14:00", dt.datetime(2029, 12, 31, 10, tzinfo=dt.UTC)),
        (
            "2030-01-01T00:00:00.123456789123456789Z",
            dt.datetime(2030, 1, 1, 0, 0, 0, 123456, tzinfo=dt.UTC),
        ),
        ("1970-01-01T00:00:00Z", dt.datetime(1970, 1, 1, tzinfo=dt.UTC)),
        ("2999-12-31T23:59:59.999Z", dt.datetime(2999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC)),
    ],
)
def test_good_times(value: str, expected: dt.datetime) -> None:
    assert parse_instant(value, "x") == expected
    assert parse_instant(value, "x").utcoffset() == dt.timedelta(0)


@pytest.fixture(scope="module")
def idp() -> SamlIdP:
    return make_idp()


@pytest.fixture
def config(idp: SamlIdP) -> ServiceProviderConfig:
    return ServiceProviderConfig.from_idp_metadata(
        idp.metadata(),
        entity_id=SP,
        acs_url=ACS,
        idp_entity_id=idp.entity_id,
        allow_idp_initiated=True,
        skew=dt.timedelta(minutes=5),
    )


SIGNED_TIMES = {
    "SubjectConfirmationData NotOnOrAfter": (
        "saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData",
        "NotOnOrAfter",
    ),
    "SubjectConfirmationData NotBefore": (
        "saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData",
        "NotBefore",
    ),
    "Conditions NotOnOrAfter": ("saml:Conditions", "NotOnOrAfter"),
    "Conditions NotBefore": ("saml:Conditions", "NotBefore"),
    "SessionNotOnOrAfter": ("saml:AuthnStatement", "SessionNotOnOrAfter"),
    "AuthnInstant": ("saml:AuthnStatement", "AuthnInstant"),
}


def signed_with(idp: SamlIdP, path: str, attribute: str, value: str) -> bytes:
    """A response whose assertion says ``attribute=value`` on ``path``, signed by the IdP."""
    root = parse_xml(response_xml(idp))
    root.remove(root.find("ds:Signature", NS))
    assertion = assertion_of(root)
    assertion.find(path, NS).set(attribute, value)
    sign(assertion, idp.signing_key)
    return to_bytes(root)


def outcome(xml: bytes, config: ServiceProviderConfig) -> str:
    return acs_outcome(xml, config)


@pytest.mark.parametrize("place", list(SIGNED_TIMES))
@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("9999-12-31T23:59:59Z", "saml.time_out_of_range"),
        ("0001-01-01T00:00:00Z", "saml.time_out_of_range"),
        ("0001-01-01T00:00:00+23:59", "saml.time_out_of_range"),
        ("2030-01-01T00:00:00+23:59", "saml.bad_time"),
        ("9999-12-31T23:59:59-14:00", "saml.time_out_of_range"),
        ("2016-12-31T23:59:60Z", "saml.bad_time"),
    ],
)
def test_extreme_times_in_a_signed_assertion_get_a_code(
    idp: SamlIdP, config: ServiceProviderConfig, place: str, value: str, code: str
) -> None:
    path, attribute = SIGNED_TIMES[place]
    assert outcome(signed_with(idp, path, attribute, value), config) == code


def test_long_fractions_are_read_to_the_microsecond(
    idp: SamlIdP, config: ServiceProviderConfig
) -> None:
    later = (NOW + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.") + "9" * 40 + "Z"
    path, attribute = SIGNED_TIMES["SessionNotOnOrAfter"]
    xml = signed_with(idp, path, attribute, later)
    assert outcome(xml, config) == "accepted"


def authn_request(issue_instant: str) -> dict[str, str]:
    xml = (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" '
        f'IssueInstant="{issue_instant}"><saml:Issuer>{SP}</saml:Issuer></samlp:AuthnRequest>'
    )
    return {"SAMLRequest": encode_post(xml.encode())}


@pytest.mark.parametrize("value", [*OUT_OF_RANGE, *BAD, ""])
def test_the_mock_idp_range_checks_issue_instant(idp: SamlIdP, value: str) -> None:
    with pytest.raises(SamlRequestError) as info:
        idp.parse_authn_request("post", authn_request(value))
    assert info.value.code == "saml.bad_request"
    assert "time" in info.value.message


def test_the_mock_idp_accepts_a_plain_issue_instant(idp: SamlIdP) -> None:
    info = idp.parse_authn_request("post", authn_request(NOW.strftime("%Y-%m-%dT%H:%M:%SZ")))
    assert info.id == "_r1"
