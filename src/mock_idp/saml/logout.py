"""Single logout: the service provider's SLO endpoint and the signed LogoutResponse."""

from __future__ import annotations

from datetime import datetime

from saml2 import samlp

from mock_idp.saml.assertions import MessageSigner, issuer
from mock_idp.saml.documents import LOGOUT_RESPONSE_NODE, PROTOCOL_NS, document
from mock_idp.saml.errors import SamlRequestError
from mock_idp.saml.keys import SamlSigningKey
from mock_idp.saml.model import Endpoint, ServiceProvider
from mock_idp.saml.pages import PostForm, Redirect, post_form
from sso_bridge.saml.codec import BINDING_POST, redirect_query
from sso_bridge.saml.xml import format_instant, new_id

__all__ = ["logout_answer", "logout_endpoint"]


def logout_endpoint(sp: ServiceProvider, binding: str) -> Endpoint:
    """Where the LogoutResponse goes: the SP's SLO endpoint of ``binding``, else its other."""
    endpoint = sp.logout_service(binding)
    if endpoint is None:
        raise SamlRequestError(
            f"{sp.entity_id} has no SingleLogoutService", code="saml.no_logout_endpoint"
        )
    return endpoint


def logout_answer(
    signer: MessageSigner,
    *,
    idp_entity_id: str,
    in_response_to: str,
    endpoint: Endpoint,
    relay_state: str | None,
    now: datetime,
    key: SamlSigningKey,
) -> PostForm | Redirect:
    """A Success LogoutResponse to ``endpoint``: over Redirect signed in the query
    (``SigAlg``, ``Signature``), over POST with an enveloped signature."""
    location = endpoint.response_location or endpoint.location
    response = samlp.LogoutResponse(
        id=new_id(),
        in_response_to=in_response_to,
        version="2.0",
        issue_instant=format_instant(now),
        destination=location,
        issuer=issuer(idp_entity_id),
        status=samlp.Status(status_code=samlp.StatusCode(value=samlp.STATUS_SUCCESS)),
    )
    if endpoint.binding == BINDING_POST:
        response.signature = signer.template(response.id, key)
        xml = document(response.to_string_force_namespace(PROTOCOL_NS))
        xml = signer.sign(xml, LOGOUT_RESPONSE_NODE, response.id, key)
        return post_form(location, "SAMLResponse", xml, relay_state)
    xml = document(response.to_string_force_namespace(PROTOCOL_NS))
    return Redirect(redirect_query(location, "SAMLResponse", xml, relay_state, key.private_key))
