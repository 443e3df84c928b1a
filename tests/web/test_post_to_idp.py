"""A provider that starts with a form: the page POSTs it to the IdP by itself (a nonce'd
script under the page's CSP), with a button when scripts are off, fields escaped."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import attrs
import pytest

from helpers.accounts import KEY, ORGS
from helpers.broker import CHEAP_HASHER
from helpers.clock import FixedClock
from sso_bridge.audit import InMemoryAuditLog
from sso_bridge.broker import Broker
from sso_bridge.ephemeral import EphemeralStore
from sso_bridge.idp import NO_ASKS, Answer, Asks, PostTo, Remembered, Started, VerifiedLogin
from sso_bridge.mfa import InMemoryCredentialStore, OutboxSender
from sso_bridge.store import InMemoryEphemeralStore, open_store
from sso_bridge.web import AuthRoutes, WebConfig, WebRequest
from web.support import SECRET, TEACHER

SITE = "https://idp.region.test/enter?a=1&b=2"
AWKWARD = '"><script>alert(1)</script>&'


@attrs.define
class FormProvider:
    name: str = "region"
    title: str = "Regional IdP"
    enabled: bool = True
    issuer: str = "https://idp.region.test/"

    def start(self, *, now: datetime) -> Started:
        return Started(PostTo(SITE, (("ticket", AWKWARD), ("back", "step-1"))), "step-1", {})

    def step_id(self, answer: Answer) -> str | None:
        return answer.get("back")

    def finish(
        self, answer: Answer, remembered: Remembered | None, *, now: datetime, asks: Asks = NO_ASKS
    ) -> VerifiedLogin:  # pragma: no cover - this test stops at the IdP
        raise AssertionError("not reached")


@pytest.fixture
def routes(tmp_path: Path) -> Iterator[AuthRoutes]:
    store = open_store(f"sqlite:///{tmp_path / 'post.db'}", KEY)
    store.import_accounts([TEACHER], ORGS)
    ephemeral: EphemeralStore = InMemoryEphemeralStore()
    broker = Broker(
        directory=store,
        links=store,
        audit=InMemoryAuditLog(),
        store=ephemeral,
        credentials=InMemoryCredentialStore(),
        sender=OutboxSender(),
        secret=SECRET,
        providers=(FormProvider(),),
        clock=FixedClock(),
        password_hasher=CHEAP_HASHER,
    )
    yield AuthRoutes(broker, WebConfig())
    store.close()


def test_the_page_posts_the_fields_to_the_idp(routes: AuthRoutes) -> None:
    cookies = {"__Host-sso_browser": routes.broker.issue_browser_id()[1]}
    request = WebRequest("GET", "/auth/login/region", cookies=cookies, remote_addr="192.0.2.1")
    status, headers, body = routes.output(routes.handle("login_with", request, provider="region"))
    assert status == 200
    form = re.search(r'<form method="post" action="([^"]*)" id="to-idp">', body)
    assert form is not None and html.unescape(form.group(1)) == SITE
    fields = dict(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', body))
    assert {k: html.unescape(v) for k, v in fields.items()} == {"ticket": AWKWARD, "back": "step-1"}
    assert "<script>alert(1)" not in body  # escaped, never markup
    assert re.search(r"<button type=\"submit\">", body)  # for a browser without scripts
    policy = dict(headers)["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy)
    assert nonce is not None and f'<script nonce="{nonce.group(1)}">' in body
    assert "form-action" not in policy  # the form may go to the IdP's own site
