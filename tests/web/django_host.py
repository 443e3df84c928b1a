"""The Django project of the web tests: settings, URLs and the host's protected view (the
broker is set per test with ``override_settings(SSO_BRIDGE=...)``)."""

from __future__ import annotations

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from sso_bridge.sessions import SavedRequest
from sso_bridge.web.django import TEMPLATES
from sso_bridge.web.django.views import require_session

MIDDLEWARE = [  # a usual project's: the auth pages and guarded views skip Django's CSRF check
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def configure() -> None:
    """Settings for this process (once)."""
    if settings.configured:
        return
    settings.configure(
        SECRET_KEY="web-tests-django-secret",
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
        INSTALLED_APPS=["sso_bridge.web.django"],
        MIDDLEWARE=MIDDLEWARE,
        ROOT_URLCONF=__name__,
        TEMPLATES=[TEMPLATES],
        SSO_BRIDGE={"BROKER": None},
        USE_TZ=True,
        LOGGING_CONFIG=None,
    )
    django.setup()


@require_session
def grades(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        saved = [f"{k}={v}" for k, vs in request.POST.lists() for v in vs if k != "csrf_token"]
        return HttpResponse("saved " + "&".join(saved), content_type="text/plain")
    token = request.sso_csrf_token  # type: ignore[attr-defined]
    account = request.sso_session.account_id  # type: ignore[attr-defined]
    return HttpResponse(f'<p>grades of {account}</p><input name="csrf_token" value="{token}">')


def restored_text(restored: SavedRequest | None) -> str:
    """What the hosts' ``/notes`` page says of a kept POST brought back to it."""
    if restored is None:
        return "restored: none"
    return f"restored {restored.path}: " + "&".join(f"{k}={v}" for k, v in restored.form)


@require_session
def notes(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return HttpResponse("saved", content_type="text/plain")
    restored = request.sso_restored  # type: ignore[attr-defined]
    return HttpResponse(restored_text(restored), content_type="text/plain")


configure()  # before the URLs, which read the prefix from the settings
urlpatterns = [
    path("", include("sso_bridge.web.django.urls")),
    path("grades", grades),
    path("notes", notes),
    path("", lambda request: HttpResponse("home", content_type="text/plain")),
]
