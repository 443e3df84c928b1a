"""Browser tests of the reference school portal: Debian's Chromium driven by Playwright.

One browser per session, a fresh context (cookies, viewport) and a freshly seeded portal
per test, one mock IdP for the session, reset per test. Without /usr/bin/chromium the
whole directory is skipped; a browser is never downloaded. A failing test leaves a
screenshot in build/browser/<test name>.png.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from browser.support import (
    CHROMIUM,
    DESKTOP,
    FAILURE_SHOTS,
    PortalServer,
    Site,
)
from helpers.seeded import seeded_region
from mock_idp.server import RunningIdP, free_port

HERE = Path(__file__).resolve().parent
NO_BROWSER = (
    f"{CHROMIUM} is absent: the browser tests need Debian's chromium (apt-get install chromium)"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=NO_BROWSER)
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Screenshot the page of a failed test to build/browser/<test name>.png."""
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if report.failed and report.when == "call" and page is not None and HERE in item.path.parents:
        FAILURE_SHOTS.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(FAILURE_SHOTS / f"{item.name}.png"), full_page=True)
        except Exception as exc:  # the test's own failure matters more than its picture
            report.sections.append(("screenshot", f"no screenshot: {exc}"))
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Chromium, headless, launched once per session."""
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415 - only with a browser

    expect.set_options(timeout=10_000)  # a busy 2-core machine: more than the default 5 s

    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=args
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a fresh browser context (no cookies), desktop-sized, Russian."""
    context = browser.new_context(viewport=DESKTOP, locale="ru-RU")
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def idp_server() -> Iterator[RunningIdP]:
    """The mock IdP with the demo region's people (examples/school_portal/idp.yaml)."""
    import school_portal  # noqa: PLC0415 - the example is imported when used

    config = Path(school_portal.__file__).parent / "idp.yaml"
    with RunningIdP(config) as running:
        yield running


@pytest.fixture
def make_site(idp_server: RunningIdP, tmp_path: Path) -> Iterator[Callable[..., Site]]:
    """Builds a portal over a freshly seeded region, registered at the IdP and served on
    a free port; keyword arguments go to ``PortalSettings``."""
    from school_portal.portal import (  # noqa: PLC0415 - the example is imported when used
        PortalSettings,
        build_portal,
        oidc_client_registration,
        saml_sp_metadata,
    )

    idp_server.idp.reset()
    servers: list[PortalServer] = []

    def make(**options: Any) -> Site:
        port = free_port()
        db_path = tmp_path / f"region-{port}.db"
        settings = PortalSettings(
            db_path=db_path,
            idp_url=idp_server.base_url,
            base_url=f"http://127.0.0.1:{port}",
            trusted_proxies=("127.0.0.1/32",),
            **options,
        )
        # links made at seed time name the IdP of this run over the protocol in use (as
        # the demo's do), not the demo's default one
        people = seeded_region(db_path, issuer=settings.idp_issuer)
        if settings.protocol == "saml":
            idp_server.idp.add_service_provider({"metadata": saml_sp_metadata(settings)})
        portal = build_portal(settings)
        idp_server.idp.add_client(oidc_client_registration(settings))
        server = PortalServer(portal, port)
        server.start()
        servers.append(server)
        return Site(server, people, idp_server)

    yield make
    for server in servers:
        server.stop()
        close = getattr(server.portal.store, "close", None)
        if callable(close):
            close()


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    """The portal with the default settings."""
    return make_site()
