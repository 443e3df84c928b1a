"""Defects a test can ask the mock's SAML IdP to put into a login response."""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import Final

__all__ = ["FAULT_TIME_SHIFT", "SamlFault"]

FAULT_TIME_SHIFT: Final = timedelta(hours=1)  # far outside any clock skew a relying party allows


class SamlFault(enum.StrEnum):
    """Defects a test can ask for in a login response; each is exactly one defect."""

    UNSIGNED = "unsigned"  # neither Response nor Assertion signed
    UNSIGNED_ASSERTION = "unsigned_assertion"  # Response signed, Assertion not
    OTHER_KEY = "other_key"  # signed by a key not in the metadata, its certificate in KeyInfo
    EXPIRED = "expired"  # NotOnOrAfter an hour ago (SubjectConfirmationData and Conditions)
    NOT_YET_VALID = "not_yet_valid"  # Conditions NotBefore an hour ahead
    WRONG_AUDIENCE = "wrong_audience"  # Audience is the SP entity ID + "/other"
    WRONG_RECIPIENT = "wrong_recipient"  # SubjectConfirmationData Recipient is ACS + "/other"
    WRONG_DESTINATION = "wrong_destination"  # Response Destination is ACS + "/other"
    WRONG_IN_RESPONSE_TO = "wrong_in_response_to"  # another request's ID, Response and Subject
    REPLAYED_ASSERTION = "replayed_assertion"  # the SP's previous assertion, byte for byte
