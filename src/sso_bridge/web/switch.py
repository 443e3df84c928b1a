"""The language switch on every page: ``GET <prefix>/language?to=en&next=/diary`` keeps
the choice in a cookie and goes back to the page."""

from __future__ import annotations

from typing import Final

from sso_bridge.sessions import is_local_path, set_cookie_header
from sso_bridge.web.base import RoutesBase, Visit
from sso_bridge.web.errors import WebError
from sso_bridge.web.http import LANGUAGES, WebResponse
from sso_bridge.web.language import LANGUAGE_COOKIE

__all__ = ["LANGUAGE_MAX_AGE", "MAX_NEXT_BYTES", "LanguagePages"]

LANGUAGE_MAX_AGE: Final = 365 * 24 * 3600
"""How long the browser keeps the choice (seconds)."""
MAX_NEXT_BYTES: Final = 2048


class LanguagePages(RoutesBase):
    """The route of the language switch."""

    def language(self, visit: Visit) -> WebResponse:
        """GET /language: ``to`` must be one of :data:`LANGUAGES`, ``next`` a local path
        (the page to show again; the after-login page when absent)."""
        query = visit.request.query
        language = query.get("to", "")
        target = query.get("next") or self.config.after_login
        if language not in LANGUAGES:
            raise WebError("the switch names an unknown language", code="web.bad_language")
        if len(target) > MAX_NEXT_BYTES or not is_local_path(target):
            raise WebError("the switch's next is not a path of this site", code="web.bad_next")
        settings = self.config.cookies
        cookie = set_cookie_header(settings, LANGUAGE_COOKIE, language, max_age=LANGUAGE_MAX_AGE)
        return WebResponse.redirect(target, 303).with_cookies(cookie)
