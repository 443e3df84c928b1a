from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from sso_bridge.web.django.views import require_session


@require_session
def grades(request: HttpRequest) -> HttpResponse:
    session, token = request.sso_session, request.sso_csrf_token  # type: ignore[attr-defined]
    return HttpResponse(f"{session.account_id}, form token {token}")


urlpatterns = [path("", include("sso_bridge.web.django.urls")), path("grades", grades)]
