"""The mock IdP's HTTP handlers, by area: OIDC endpoints (:mod:`~mock_idp.routes.oidc`),
login pages (:mod:`~mock_idp.routes.login`), the person API (:mod:`~mock_idp.routes.person`),
SAML endpoints (:mod:`~mock_idp.routes.saml`), the admin API (:mod:`~mock_idp.routes.admin`),
pages and error answers (:mod:`~mock_idp.routes.pages`) and the ASGI layer in front of them
all (:mod:`~mock_idp.routes.guard`). :func:`mock_idp.app.create_app` puts them together."""
