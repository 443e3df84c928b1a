"""mock_idp: an ESIA-like reference identity provider (OIDC and SAML 2.0)."""

__all__: list[str] = []
