"""The mock IdP's modules stay small, and the names they always exported stay importable."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
MAX_LINES = 400


@pytest.mark.parametrize("package", ["mock_idp", "sso_bridge/integrations"])
def test_no_module_is_over_400_lines(package: str) -> None:
    long = {
        str(path.relative_to(SRC)): n
        for path in (SRC / package).rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long


def test_saml_idp_re_exports_the_saml_package() -> None:
    saml = importlib.import_module("mock_idp.saml")
    saml_idp = importlib.import_module("mock_idp.saml_idp")
    assert set(saml_idp.__all__) == set(saml.__all__)
    for name in saml.__all__:
        assert getattr(saml_idp, name) is getattr(saml, name)


@pytest.mark.parametrize(
    "module",
    ["mock_idp.app", "mock_idp.provider", "mock_idp.saml", "sso_bridge.integrations.pysaml2"],
)
def test_every_exported_name_resolves(module: str) -> None:
    loaded = importlib.import_module(module)
    assert all(hasattr(loaded, name) for name in loaded.__all__)


def test_the_app_keeps_its_names() -> None:
    app = importlib.import_module("mock_idp.app")
    for name in (
        "MockIdP",
        "create_app",
        "ADMIN_HEADER",
        "AUTHORIZE_PATHS",
        "TOKEN_PATHS",
        "CERTIFICATES_PATH",
        "CERTIFICATES_ARCHIVE_PATH",
        "ORGANISATION_PATH",
        "MAX_ADMIN_BODY_BYTES",
        "MAX_SAML_BODY_BYTES",
        "MAX_FORM_BODY_BYTES",
        "SECURITY_HEADERS",
        "BROWSER_COOKIE",
        "TEXTS",
        "MAX_FAULTS",
        "MAX_FAULT_RESPONSES",
        "write_saml_key",
        "add_service_provider",
    ):
        assert name in app.__all__
