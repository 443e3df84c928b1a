"""The machine's part of recovery codes: a long code is asked of the recovery codes, one
that passed is audited with the codes left (never the code), and it is the second factor."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from broker.samples import NOW, SECOND, WRONG, account, challenge
from sso_bridge.broker.config import BrokerPolicy
from sso_bridge.broker.core import machine_policy
from sso_bridge.broker.machine import Outcome, transition
from sso_bridge.broker.machine import effects as fx
from sso_bridge.broker.machine import events as ev
from sso_bridge.broker.machine import states as st
from sso_bridge.model import AuditAction

CODE = "7KQM-4XRT-92HD-W0ZB"


def run(state: Any, event: Any) -> Outcome:
    return transition(machine_policy(BrokerPolicy()), state, event, NOW)


@pytest.mark.parametrize("given", [CODE, " 7kqm 4xrt 92hd w0zb ", "123456789"])
def test_a_code_longer_than_eight_is_asked_of_the_recovery_codes(given: str) -> None:
    out = run(SECOND, ev.CodeGiven(given))
    assert out.state == st.CheckingCode(SECOND)
    assert out.effects == (fx.AskRecoveryCode("c1", "a1", given.strip(), None),)


@pytest.mark.parametrize("given", ["123456", " 123 456 ", "12345678", "1234-5678"])
def test_one_time_and_totp_codes_stay_codes(given: str) -> None:
    [ask] = run(SECOND, ev.CodeGiven(given)).effects
    assert isinstance(ask, fx.AskCode)


def test_a_switch_rechecks_the_link_for_a_recovery_code_too() -> None:
    switch = attrs.evolve(SECOND, entry=st.ViaSwitch("s1", False, "https://idp.test", "1000"))
    [ask] = run(switch, ev.CodeGiven(CODE)).effects
    assert ask == fx.AskRecoveryCode("c1", "a1", CODE, ("https://idp.test", "1000"))
    gone = ev.CodeChecked(ev.CodePassed(account(), frozenset({"a0"}), 4))
    out = run(st.CheckingCode(switch), gone)
    assert isinstance(out.state, st.Refused)
    assert [e.action for e in out.effects if isinstance(e, fx.Record)] == [
        AuditAction.RECOVERY_CODE_USED,
        AuditAction.SECOND_FACTOR_PASSED,
    ]


def test_a_recovery_code_that_passed_is_audited_and_is_the_second_factor() -> None:
    out = run(st.CheckingCode(SECOND), ev.CodeChecked(ev.CodePassed(account(), None, 9)))
    assert out.state == st.SessionIssued("a1")
    used, passed, issue = out.effects
    assert used == fx.Record(AuditAction.RECOVERY_CODE_USED, "a1", detail="9 recovery code(s) left")
    assert passed == fx.Record(AuditAction.SECOND_FACTOR_PASSED, "a1")
    assert isinstance(issue, fx.IssueSession) and issue.second_factor
    assert CODE not in repr(out)


def test_a_totp_code_that_passed_is_not_a_recovery_code() -> None:
    out = run(st.CheckingCode(SECOND), ev.CodeChecked(ev.CodePassed(account(), None)))
    actions = [e.action for e in out.effects if isinstance(e, fx.Record)]
    assert actions == [AuditAction.SECOND_FACTOR_PASSED]


def test_a_wrong_recovery_code_is_a_wrong_code_of_the_challenge() -> None:
    out = run(st.CheckingCode(SECOND), ev.CodeChecked(ev.CodeWrong(WRONG, challenge(attempts=2))))
    assert out.state == SECOND
    assert out.effects[0] == fx.Record(
        AuditAction.SECOND_FACTOR_FAILED, "a1", code="mfa.wrong_code"
    )
