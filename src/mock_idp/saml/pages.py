"""What the SAML IdP hands the web layer to send: an auto-submitting form or a redirect."""

from __future__ import annotations

import html
from collections.abc import Mapping

import attrs

from sso_bridge.saml.codec import encode_post

__all__ = ["PostForm", "Redirect", "post_form"]


@attrs.frozen
class PostForm:
    """An HTTP-POST binding message: a form to auto-submit to ``action``."""

    action: str
    fields: Mapping[str, str]

    def html(self) -> str:
        """A page that posts the form on load (a button, in Russian, when scripts are off)."""
        inputs = "".join(
            f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
            for name, value in self.fields.items()
        )
        return (
            '<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8">'
            "<title>Тестовый ЕСИА</title></head>"
            '<body onload="document.forms[0].submit()">'
            f'<form method="post" action="{html.escape(self.action)}">{inputs}'
            '<noscript><button type="submit">Продолжить</button></noscript></form></body></html>'
        )


@attrs.frozen
class Redirect:
    """An HTTP-Redirect binding message: send the browser to ``url`` (303)."""

    url: str


def post_form(action: str, name: str, xml: bytes, relay_state: str | None) -> PostForm:
    """The HTTP-POST binding's form carrying ``xml`` as ``name`` (and ``RelayState``)."""
    fields = {name: encode_post(xml)}
    if relay_state is not None:
        fields["RelayState"] = relay_state
    return PostForm(action, fields)
